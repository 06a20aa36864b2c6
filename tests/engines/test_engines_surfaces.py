"""`headway metrics` and `GET /api/metrics` answered on an analytics engine.

With `--engine` or HEADWAY_ENGINE the whole metric set (scope, contexts, warnings, the trend,
`--each`, the 2025 view) comes out as on the store, the five figures computed by the engine's
expressions; only release lead time, which reads the flags' history on the store, is left out
with a warning saying so.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway import web
from headway.api.app import create_app
from headway.cli import app as cli
from headway.config import Settings, get_settings
from headway.definitions import PRESETS
from headway.engines import Engine
from headway.engines.sets import NO_RELEASE, metric_sets
from headway.metrics import dora
from headway.store import open_store
from tests.conftest import authorize
from tests.engines.conftest import Organisation
from tests.web.conftest import sign_in


def _as_on_store(doc: dict[str, Any]) -> dict[str, Any]:
    """The store's document as an engine gives it: no release lead time, and the warning."""
    out = {k: v for k, v in doc.items() if k != "release_lead_time"}
    out["warnings"] = [*doc["warnings"], NO_RELEASE]
    return out


@pytest.fixture
def copy(organisation: Organisation, tmp_path: Path) -> Path:
    """The organisation's store file, copied: the session's engines hold the original open
    read-only, and one process cannot also open it to write."""
    path = tmp_path / "store.duckdb"
    shutil.copyfile(organisation.duckdb, path)
    return path


def _store_sets(path: Path, organisation: Organisation, **asked: Any) -> list[dict[str, Any]]:
    store = open_store(Settings(database=str(path)))
    try:
        each, scope = asked.pop("each", None), asked.pop("scope", dora.Scope())
        if each:
            sets = dora.compute_each(
                store, PRESETS["dora"], each, organisation.period, within=scope, **asked
            )
        else:
            sets = [dora.compute(store, PRESETS["dora"], scope, organisation.period, **asked)]
        return [s.to_json() for s in sets]
    finally:
        store.close()


def test_a_weekly_metric_set_equals_the_stores(
    engine: Engine, organisation: Organisation, copy: Path
) -> None:
    [got] = metric_sets(
        engine, PRESETS["dora"], dora.Scope(), organisation.period, year="2025", by="week"
    )
    [want] = _store_sets(copy, organisation, year="2025", by="week")
    doc = got.to_json()
    for bucket in doc["trend"]:  # a bucket has no release lead time on the store either
        assert "release_lead_time" not in bucket
    assert doc == _as_on_store(want)
    assert doc["profile"]["throughput"]["score"] is not None  # the 2025 view came along


def test_each_team_within_a_context_equals_the_stores(
    engine: Engine, organisation: Organisation, copy: Path
) -> None:
    context = organisation.oracle["dora"]["scope"]["contexts"][0]
    scope = dora.Scope("context", context)
    got = metric_sets(engine, PRESETS["dora"], scope, organisation.period, each="team")
    want = _store_sets(copy, organisation, each="team", scope=scope)
    assert [m.to_json() for m in got] == [_as_on_store(w) for w in want]
    assert all(m.contexts == [context] for m in got)


def test_the_cli_computes_on_the_engine_it_is_given(
    organisation: Organisation, copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWAY_DATABASE", str(copy))
    monkeypatch.delenv("HEADWAY_ENGINE", raising=False)
    since, until = organisation.period.since.date(), organisation.period.until.date()
    args = ["metrics", "--since", str(since), "--until", str(until), "--format", "json"]
    runner = CliRunner()
    on_store = runner.invoke(cli, args)
    on_engine = runner.invoke(cli, [*args, "--engine", "duckdb"])
    assert on_store.exit_code == 0, on_store.output
    assert on_engine.exit_code == 0, on_engine.output
    assert json.loads(on_engine.stdout) == _as_on_store(json.loads(on_store.stdout))
    # HEADWAY_ENGINE does the same, and Spark without an export says what to set
    monkeypatch.setenv("HEADWAY_ENGINE", "duckdb")
    get_settings.cache_clear()  # the CLI reads its settings once per process
    assert json.loads(runner.invoke(cli, args).stdout) == json.loads(on_engine.stdout)
    spark = runner.invoke(cli, [*args, "--engine", "spark"])
    assert spark.exit_code == 2
    assert "set HEADWAY_ENGINE_PARQUET to the folder `headway export parquet DIR` wrote" in (
        spark.stderr
    )


def test_the_api_answers_from_the_servers_engine(organisation: Organisation, copy: Path) -> None:
    since, until = organisation.period.since.date(), organisation.period.until.date()
    url = f"/api/metrics?since={since}&until={until}&each=service"
    answers = {}
    for engine in (None, "duckdb"):
        settings = Settings(database=str(copy), engine=engine)
        with TestClient(create_app(settings)) as client:
            authorize(client)
            answer = client.get(url)
            assert answer.status_code == 200, answer.text
            answers[engine] = answer.json()
    assert answers["duckdb"] == [_as_on_store(doc) for doc in answers[None]]
    # a server told to use Spark without an export answers 503 naming the setting
    settings = Settings(database=str(copy), engine="spark")
    with TestClient(create_app(settings)) as client:
        authorize(client)
        refused = client.get(url)
    assert refused.status_code == 503
    assert "HEADWAY_ENGINE_PARQUET" in refused.json()["error"]


def _cards(page: str) -> dict[str, str]:
    """Each overview card's shown value, by metric."""
    found = re.findall(
        r'<section class="card" data-metric="(\w+)".*?class="value">([^<]*)</a>', page, re.S
    )
    return {key: html.unescape(value) for key, value in found}


def test_the_overview_page_shows_the_engines_numbers(
    organisation: Organisation, copy: Path
) -> None:
    since, until = organisation.period.since.date(), organisation.period.until.date()
    pages, flows = {}, {}
    for engine in (None, "duckdb"):
        app = web.install(create_app(Settings(database=str(copy), engine=engine)))
        with TestClient(app) as client:
            sign_in(client)
            page = client.get(f"/?since={since}&until={until}&by=week")
            assert page.status_code == 200, page.text
            pages[engine] = page.text
            flow_page = client.get(f"/flow?since={since}&until={until}")
            assert flow_page.status_code == 200, flow_page.text
            flows[engine] = flow_page.text
    on_store, on_engine = _cards(pages[None]), _cards(pages["duckdb"])
    # the five cards and the table below them, as on the store; release lead time is not
    assert {k: v for k, v in on_store.items() if k != "release_lead_time"} == on_engine
    assert "release_lead_time" in on_store
    assert html.unescape(NO_RELEASE) in html.unescape(pages["duckdb"])
    rows = re.findall(r'<tr data-name="([^"]+)">(.*?)</tr>', pages["duckdb"], re.S)
    assert rows == re.findall(r'<tr data-name="([^"]+)">(.*?)</tr>', pages[None], re.S)
    assert len(rows) == 3  # the organisation's three contexts
    # the flow page: the same shipped changes and lead time; no release wait on the engine
    shown = re.compile(
        r'class="n-changes">(\d+)</span>, median lead time <span class="lead">([^<]*)<'
    )
    assert shown.findall(flows["duckdb"]) == shown.findall(flows[None])
    assert 'data-stage="release_wait"' in flows[None]
    assert 'data-stage="release_wait"' not in flows["duckdb"]
    # a server set to Spark without an export shows why, as a 503 page
    app = web.install(create_app(Settings(database=str(copy), engine="spark")))
    with TestClient(app) as client:
        sign_in(client)
        refused = client.get("/")
    assert refused.status_code == 503
    assert "HEADWAY_ENGINE_PARQUET" in refused.text
