"""The records lists behind the figures on every engine equal the store's, page for page.

Each list (deployments with their failure evidence, fixes, shipped changes and rework;
changes with the deployment that shipped them and their lead time; incidents with the
deployment blamed and how) is read through `metrics.records` once from the store's
statements and once from an engine's expressions (`engines.record_lists`,
`engines.record_facts`); every field of every row, the order and the count must agree: the
whole list under every preset and the definitions reaching the rules no preset uses, and
under `dora` each filter, each sort both ways, a search and pages past the first. Spark
answers a few of them (one session, few queries); the SQL engines all.
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
from headway.engines.connect import connected
from headway.engines.record_facts import EngineRecords
from headway.ingest import ingest
from headway.metrics import records
from headway.metrics.record_reads import RecordSource, StoreRecords
from headway.metrics.refine import FILTERS, SORTS, Refinement
from headway.metrics.scope import Period, Scope
from headway.sources.files import parse_record
from headway.store import open_store
from tests.conftest import authorize
from tests.engines.conftest import CUSTOM, Organisation
from tests.web.conftest import sign_in

DEFINITIONS = {**PRESETS, **CUSTOM}
KINDS = ("deployments", "changes", "incidents")
# (kind, definition, refinement, limit, offset)
Case = tuple[str, str, Refinement, int | None, int]

WHOLE: dict[str, Case] = {
    f"{name} {kind}": (kind, name, Refinement(), None, 0) for name in DEFINITIONS for kind in KINDS
}
REFINED: dict[str, Case] = {
    **{
        f"{kind} only {only}": (kind, "dora", Refinement(only=only), None, 0)
        for kind in KINDS
        for only in FILTERS[kind]
    },
    **{
        f"{kind} by {sort} {'desc' if desc else 'asc'}": (
            kind,
            "dora",
            Refinement(sort=sort, desc=desc),
            25,
            0,
        )
        for kind in KINDS
        for sort in SORTS[kind]
        for desc in (False, True)
    },
    # case-blind; `_` and `%` are text, not wildcards (`c_1` would match c11 as a pattern)
    "deployments search": ("deployments", "dora", Refinement(search="LEDGER/D1"), None, 0),
    "changes search": ("changes", "dora", Refinement(search="DEV1"), None, 0),
    "changes search underscore": ("changes", "dora", Refinement(search="c_1"), None, 0),
    "incidents search": ("incidents", "dora", Refinement(search="SEV3"), None, 0),
    "incidents search percent": ("incidents", "dora", Refinement(search="%"), None, 0),
    "changes unshipped under devlake": (
        "changes",
        "devlake",
        Refinement(only="unshipped"),
        None,
        0,
    ),
    "deployments page 3": ("deployments", "dora", Refinement(desc=True), 20, 40),
    "changes page 5 by lead time": (
        "changes",
        "dora",
        Refinement(sort="lead_time_s", desc=True),
        30,
        120,
    ),
    "incidents page 2 attributed": (
        "incidents",
        "dora",
        Refinement(only="attributed", sort="severity"),
        10,
        10,
    ),
    "deployments failed by fix, page 2": (
        "deployments",
        "status",
        Refinement(only="failed", sort="recovered_at", desc=True, search="sim:"),
        7,
        7,
    ),
    "deployments past the end": ("deployments", "dora", Refinement(only="rework"), 10, 10_000),
}
CASES = {**WHOLE, **REFINED}
# What Spark answers: the whole lists of deployments (every evidence rule of `dora`) and
# incidents, and pages of each kind cut by position, with a filter on failures, a search and
# a sort with empty values.
ON_SPARK = (
    "dora deployments",
    "dora incidents",
    "deployments failed by fix, page 2",
    "changes page 5 by lead time",
    "incidents page 2 attributed",
)


def _read(store: Any, source: RecordSource, case: Case, period: Any) -> dict[str, Any]:
    """The list as `headway list` and the API give it, and the count the web app shows."""
    kind, name, refine, limit, offset = case
    defn = DEFINITIONS[name]
    args = (store, defn, Scope(), period, limit, offset, refine)
    if kind == "deployments":
        rows, listed = records.deployments_and_total(*args, source=source)
    elif kind == "changes":
        rows, listed = records.changes(*args, source=source), None
    else:
        rows, listed = records.incidents(*args, source=source), None
    total = records.total(store, kind, defn, Scope(), period, refine, source=source)
    return {"rows": rows, "listed": listed, "total": total}


@pytest.fixture(scope="module")
def copied(organisation: Organisation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The organisation's store, copied: the engines hold the file read-only."""
    path = tmp_path_factory.mktemp("records") / "store.duckdb"
    shutil.copyfile(organisation.duckdb, path)
    return path


@pytest.fixture(scope="module")
def on_store(organisation: Organisation, copied: Path) -> Any:
    """Every case read from the store's statements."""
    store = open_store(Settings(database=str(copied)))
    try:
        source = StoreRecords(store)
        return {
            name: _read(store, source, case, organisation.period) for name, case in CASES.items()
        }
    finally:
        store.close()


def test_the_lists_are_a_real_workload(on_store: dict[str, Any]) -> None:
    deployments = on_store["dora deployments"]["rows"]
    assert len(deployments) == on_store["dora deployments"]["total"] > 1000
    assert sum(d["failed"] for d in deployments) > 5
    assert {e["rule"] for d in deployments for e in d["evidence"]} >= {"incident", "rollback"}
    assert sum(bool(d["recovered_by"]) for d in deployments) > 5
    assert sum(d["rework"] for d in deployments) > 0
    assert any(d["rework_evidence"] for d in deployments)
    assert sum(len(d["changes"]) for d in deployments) > 500
    # (no simulated deployment fails by its status: test_a_failed_status_is_fixed… below)
    assert not any(d["failed"] for d in on_store["nofail deployments"]["rows"])
    changes = on_store["dora changes"]["rows"]
    assert len(changes) > 500
    assert sum(c["lead_time_s"] is not None for c in changes) > 400
    # under devlake the first deployment ships nothing: its changes are unshipped
    assert on_store["changes unshipped under devlake"]["total"] > 0
    incidents = on_store["dora incidents"]["rows"]
    assert {i["attribution"] for i in incidents} == {"named", "window", None}
    # the refinements narrow, order and cut: a filter keeps some, a page holds its size,
    # the literal underscore finds nothing, a page past the end nothing but the count
    failed = on_store["deployments only failed"]
    assert 0 < failed["total"] < on_store["dora deployments"]["total"]
    assert all(d["failed"] for d in failed["rows"])
    assert len(on_store["changes page 5 by lead time"]["rows"]) == 30
    assert 0 < on_store["changes search"]["total"] < len(changes)
    assert on_store["changes search underscore"]["total"] == 0
    assert on_store["incidents search percent"]["total"] == 0
    past = on_store["deployments past the end"]
    assert past["rows"] == []
    assert past["listed"] == past["total"] > 0
    paged = on_store["deployments failed by fix, page 2"]
    assert len(paged["rows"]) == 7
    assert paged["listed"] == paged["total"] > 14


def test_a_failed_status_is_fixed_by_the_next_good_deployment_on_each(tmp_path: Path) -> None:
    # api fails at 10:00 in production; at 11:00 two good ones finish (b before c by id),
    # staging's good one at 10:30 fixes nothing there; d fails at 12:00 and nothing fixes it
    days = [
        ("a", "failure", "production", "10:00"),
        ("s", "success", "staging", "10:30"),
        ("c", "success", "production", "11:00"),
        ("b", "success", "production", "11:00"),
        ("d", "failure", "production", "12:00"),
    ]
    settings = Settings(database=str(tmp_path / "status.duckdb"))
    store = open_store(settings)
    ingest(
        store,
        settings,
        (
            parse_record(
                {
                    "type": "deployment",
                    "source": "t",
                    "source_id": sid,
                    "service": "api",
                    "environment": env,
                    "finished_at": f"2026-10-05T{at}:00Z",
                    "status": status,
                    "kind": "deploy",
                },
                "t",
            )
            for sid, status, env, at in days
        ),
    )
    period = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))
    defn = CUSTOM["status"]
    refine = Refinement(only="failed", sort="recovered_at")
    on_store = records.deployments(store, defn, Scope(), period, refine=refine)
    try:
        with connected(settings.model_copy(update={"engine": "duckdb"}), store=store) as engine:
            found = records.deployments(
                store, defn, Scope(), period, refine=refine, source=EngineRecords(engine)
            )
    finally:
        store.close()
    assert [(d["id"], d["recovered_at"], d["recovered_by"]) for d in on_store] == [
        ("t:a", "2026-10-05T11:00:00Z", "t:b"),
        ("t:d", None, None),
    ]
    assert [d["evidence"] for d in on_store][1] == [
        {"rule": "failed_status", "record": "t:d", "fixed_at": None, "fixed_by": None}
    ]
    assert found == on_store


def _engine_reads(
    engine: Engine, organisation: Organisation, copied: Path, names: list[str]
) -> dict[str, Any]:
    store = open_store(Settings(database=str(copied)))  # only the hosts are read from it
    try:
        source = EngineRecords(engine)
        return {name: _read(store, source, CASES[name], organisation.period) for name in names}
    finally:
        store.close()


def _same(found: dict[str, Any], expected: dict[str, Any]) -> None:
    for name, got in found.items():
        want = expected[name]
        assert (got["total"], got["listed"]) == (want["total"], want["listed"]), name
        assert len(got["rows"]) == len(want["rows"]), name
        for row, wanted in zip(got["rows"], want["rows"], strict=True):
            assert row == wanted, (name, wanted["id"])


def test_every_list_on_each_sql_engine_equals_the_stores(
    sql_engine: Engine, organisation: Organisation, copied: Path, on_store: dict[str, Any]
) -> None:
    _same(_engine_reads(sql_engine, organisation, copied, list(CASES)), on_store)


def test_the_lists_spark_answers_equal_the_stores(
    engine: Engine, organisation: Organisation, copied: Path, on_store: dict[str, Any]
) -> None:
    if engine.name != "spark":
        pytest.skip("the SQL engines answer every list (above)")
    _same(_engine_reads(engine, organisation, copied, list(ON_SPARK)), on_store)


def _period(organisation: Organisation) -> str:
    since, until = organisation.period.since.date(), organisation.period.until.date()
    return f"since={since}&until={until}"


def test_the_api_and_the_web_app_list_the_servers_engines_records(
    organisation: Organisation, tmp_path: Path
) -> None:
    path = tmp_path / "store.duckdb"
    shutil.copyfile(organisation.duckdb, path)
    window = _period(organisation)
    asked = [
        f"/api/deployments?{window}&only=failed&sort=recovered_at&dir=desc&limit=5&offset=3",
        f"/api/changes?{window}&q=dev1&sort=lead_time_s&limit=20&offset=40",
        f"/api/incidents?{window}&definition=devlake&only=attributed",
    ]
    pages = [
        f"/records/deployments?{window}&only=rework&sort=service&limit=25",
        f"/records/changes?{window}&definition=devlake&only=unshipped",
        f"/records/incidents?{window}&q=slow&dir=desc",
    ]
    answered: dict[str | None, list[Any]] = {}
    for engine in (None, "duckdb"):
        app = web.install(create_app(Settings(database=str(path), engine=engine)))
        with TestClient(app) as client:
            authorize(client)
            found: list[Any] = []
            for url in asked:
                answer = client.get(url)
                assert answer.status_code == 200, answer.text
                found.append((answer.json(), answer.headers.get("link")))
            sign_in(client)
            for url in pages:
                page = client.get(url)
                assert page.status_code == 200, page.text
                # (each sign-in has its own form token)
                found.append(re.sub(r'name="csrf" value="[^"]*"', "", page.text))
            answered[engine] = found
    assert answered["duckdb"] == answered[None]
    deployments, link = answered[None][0]
    assert len(deployments) == 5
    assert all(d["failed"] for d in deployments)
    assert link  # a next page follows
    assert all("Rows 1–" in page for page in answered[None][3:])
    # a server set to Spark without an export answers 503 naming the setting, page and API
    app = web.install(create_app(Settings(database=str(path), engine="spark")))
    with TestClient(app) as client:
        authorize(client)
        refused = client.get(asked[0])
        assert refused.status_code == 503
        assert "HEADWAY_ENGINE_PARQUET" in refused.json()["error"]
        sign_in(client)
        page = client.get(pages[0])
    assert page.status_code == 503
    assert "HEADWAY_ENGINE_PARQUET" in page.text


def test_headway_list_reads_the_engine_it_is_given(
    organisation: Organisation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.duckdb"
    shutil.copyfile(organisation.duckdb, path)
    monkeypatch.setenv("HEADWAY_DATABASE", str(path))
    monkeypatch.delenv("HEADWAY_ENGINE", raising=False)
    get_settings.cache_clear()
    since, until = organisation.period.since.date(), organisation.period.until.date()
    runner = CliRunner()
    for kind in KINDS:
        args = ["list", kind, "--since", str(since), "--until", str(until), "--format", "json"]
        on_store = runner.invoke(cli, [*args, "--limit", "40"])
        on_engine = runner.invoke(cli, [*args, "--limit", "40", "--engine", "duckdb"])
        assert on_store.exit_code == 0, on_store.output
        assert on_engine.exit_code == 0, on_engine.output
        assert json.loads(on_engine.stdout) == json.loads(on_store.stdout), kind
        assert len(json.loads(on_store.stdout)) == 40
    spark = runner.invoke(cli, [*args, "--engine", "spark"])
    assert spark.exit_code == 2
    assert "HEADWAY_ENGINE_PARQUET" in spark.stderr
