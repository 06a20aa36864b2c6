"""The review's findings, and the whole review, read on every engine equal the store's.

Every detector reads windows and team months (`interpret.windows`, `interpret.months`): the
friction signals' record sets and each change's flow. Read through an engine's expressions
(`engines.signal_rows`, `engines.flow`), with the teams' metric sets for the context
comparison computed there too, the findings of October 2026 in the simulated organisation
(against August and September) must be the store's, finding for finding, number for number.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import datetime
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
from headway.engines.flow import EngineFlow
from headway.engines.sets import NO_RELEASE, metric_sets
from headway.engines.signal_rows import EngineSignals
from headway.interpret import review
from headway.interpret.findings import detect
from headway.interpret.on_engine import EngineFigures
from headway.interpret.sources import Records
from headway.metrics.flow import NO_RELEASE_WAIT
from headway.metrics.scope import Period, Scope
from headway.store import open_store
from tests.conftest import authorize
from tests.engines.conftest import Organisation
from tests.web.conftest import sign_in

OCTOBER = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))


@pytest.fixture(scope="module")
def store_copy(organisation: Organisation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The organisation's store, copied: the engines hold the original open read-only."""
    path = tmp_path_factory.mktemp("findings") / "store.duckdb"
    shutil.copyfile(organisation.duckdb, path)
    return path


@pytest.fixture(scope="module")
def on_store(store_copy: Path) -> dict[str, Any]:
    store = open_store(Settings(database=str(store_copy)))
    try:
        return detect(store, PRESETS["dora"], Scope(), OCTOBER)
    finally:
        store.close()


def test_the_findings_are_a_real_reading(on_store: dict[str, Any]) -> None:
    detectors = {f["detector"] for f in on_store["findings"]}
    assert len(on_store["findings"]) >= 3
    assert {"context", "speed_outcomes"} <= detectors  # four teams in three contexts
    # payments deploys rarely (8 and 4 times): read over the whole window, not month on month
    assert [n["team"] for n in on_store["not_assessed"]] == ["payments"]
    assert on_store["recovery"]["with_rollback"]["recoveries"] > 0


def test_each_engine_finds_what_the_store_finds(
    sql_engine: Engine, store_copy: Path, on_store: dict[str, Any]
) -> None:
    # (Spark's findings are held to the store's in its review, below: it reads them)
    engine = sql_engine

    def team_metrics(d: Any, s: Scope, p: Period) -> dict[str, Any]:
        return metric_sets(engine, d, s, p)[0].to_json()

    store = open_store(Settings(database=str(store_copy)))
    try:  # the store is read only for the definition history
        found = detect(
            store,
            PRESETS["dora"],
            Scope(),
            OCTOBER,
            records=Records(EngineSignals(engine), EngineFlow(engine)),
            team_metrics=team_metrics,
        )
    finally:
        store.close()
    assert found == on_store


def test_the_api_finds_on_the_servers_engine(
    store_copy: Path, on_store: dict[str, Any], engine_reads: list[str]
) -> None:
    answered = {}
    for engine in (None, "duckdb"):
        engine_reads.clear()
        settings = Settings(database=str(store_copy), engine=engine)
        with TestClient(create_app(settings)) as client:
            authorize(client)
            answer = client.get("/api/findings?period=2026-10")
            assert answer.status_code == 200, answer.text
            answered[engine] = answer.json()
        # the detectors' records read on the server's engine, and none there without one
        assert set(engine_reads) == ({"duckdb"} if engine else set()), engine
    assert answered["duckdb"] == answered[None]
    assert len(answered[None]["findings"]) == len(on_store["findings"])


def _as_on_engine(review: dict[str, Any]) -> dict[str, Any]:
    """The store's review as an engine gives it: the release figures, which read the flags'
    history on the store only, left out with the warnings that say so."""

    def metrics(doc: dict[str, Any], warned: bool = True) -> dict[str, Any]:
        out = {k: v for k, v in doc.items() if k != "release_lead_time"}
        return {**out, "warnings": [*doc["warnings"], *[NO_RELEASE] * warned]}

    flow = review["flow"]
    return {
        **review,
        "metrics": metrics(review["metrics"]),
        "trend": [metrics(t, warned=False) for t in review["trend"]],  # said once, above
        "contexts": [metrics(c) for c in review["contexts"]],
        "flow": {**flow, "release_wait": None, "warnings": [*flow["warnings"], NO_RELEASE_WAIT]},
    }


def test_the_review_on_each_engine_is_the_stores(engine: Engine, store_copy: Path) -> None:
    # one team's review: every part of it, findings included, in fewer queries than the
    # organisation's (Spark plans each in about a second)
    growth = Scope("team", "growth")
    store = open_store(Settings(database=str(store_copy)))
    try:
        on_store = review.build(store, PRESETS["dora"], growth, OCTOBER)
        found = review.build(store, PRESETS["dora"], growth, OCTOBER, figures=EngineFigures(engine))
    finally:
        store.close()
    assert on_store["metrics"]["deployment_frequency"]["deployments"] > 100
    assert on_store["findings"]["findings"]
    expected = _as_on_engine(on_store)
    assert set(found) == set(expected)
    for part in expected:
        assert found[part] == expected[part], part


def test_the_cli_reviews_on_the_engine_it_is_given(
    store_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.duckdb"
    shutil.copyfile(store_copy, path)
    monkeypatch.setenv("HEADWAY_DATABASE", str(path))
    monkeypatch.delenv("HEADWAY_ENGINE", raising=False)
    get_settings.cache_clear()
    args = ["review", "--period", "2026-10", "--format", "json"]
    on_store = CliRunner().invoke(cli, args)
    on_engine = CliRunner().invoke(cli, [*args, "--engine", "duckdb"])
    assert on_store.exit_code == 0, on_store.output
    assert on_engine.exit_code == 0, on_engine.output
    assert json.loads(on_engine.stdout) == _as_on_engine(json.loads(on_store.stdout))


def test_the_review_page_shows_the_engines_findings(store_copy: Path, tmp_path: Path) -> None:
    path = tmp_path / "store.duckdb"
    shutil.copyfile(store_copy, path)
    found = {}
    for engine in (None, "duckdb"):
        app = web.install(create_app(Settings(database=str(path), engine=engine)))
        with TestClient(app) as client:
            sign_in(client)
            page = client.get("/review?month=2026-10&team=growth")
            assert page.status_code == 200, page.text
            found[engine] = re.findall(r'class="card finding" data-detector="(\w+)"', page.text)
    assert found["duckdb"] == found[None]
    assert found[None]  # growth's October has findings to show
