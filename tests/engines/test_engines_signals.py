"""The friction signals' records on every engine equal the store's, and so do the signals,
from `headway signals --engine` and `GET /api/signals` on a server set to an engine too.

Each deployment with its failure reason, rework, changes, lines, pipeline runs, gates and
repeated version; each shipped change with its lead-time start, lines, failure and revert;
each approval, incident (blamed as the metrics blame it) and escaped defect must come out of
the engine's expressions (`engines.signal_rows`) as the store's statements
(`metrics.queries.signals`) give them, under every preset and the custom definitions that
reach the rules no preset uses. The signals are then computed by the same code.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app as cli
from headway.config import Settings, get_settings
from headway.definitions import PRESETS
from headway.engines import Engine
from headway.engines.connect import connected
from headway.engines.signal_rows import EngineSignals
from headway.ingest import ingest
from headway.metrics import flow, signals
from headway.metrics.scope import Period, Scope
from headway.metrics.signal_rows import load
from headway.sources.files import parse_record
from headway.store import open_store
from tests.conftest import authorize
from tests.engines.conftest import CUSTOM, Organisation

DEFINITIONS = {**PRESETS, **CUSTOM}


@pytest.fixture(scope="module")
def on_store(organisation: Organisation, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The store's rows per definition and its signals under `dora`, read from a copy (the
    engines hold the file read-only)."""
    path = tmp_path_factory.mktemp("signals") / "store.duckdb"
    shutil.copyfile(organisation.duckdb, path)
    store = open_store(Settings(database=str(path)))
    try:
        names = organisation.oracle["dora"]["scope"]["services"]
        found: dict[str, Any] = {
            name: asdict(load(store, defn, names, organisation.period))
            for name, defn in DEFINITIONS.items()
        }
        found["signals"] = signals.compute(store, PRESETS["dora"], Scope(), organisation.period)
        found["each team"] = [
            signals.compute(store, PRESETS["dora"], Scope("team", key), p, members=members)
            for key, members in flow.group_members(store, "team").items()
            for p in [organisation.period]
        ]
        return found
    finally:
        store.close()


def test_the_records_are_a_real_workload(on_store: dict[str, Any]) -> None:
    rows = on_store["dora"]
    deployments = rows["deployments"]
    assert len(deployments) > 100
    assert sum(d["failed"] for d in deployments) > 5
    assert sum(d["rework"] for d in deployments) > 0
    assert sum(d["runs"] for d in deployments) > 100
    assert sum(d["failed_runs"] for d in deployments) > 0
    assert sum(d["gates"] for d in deployments) > 0
    assert {d["failure_reason"] for d in deployments} >= {None, "incident", "rollback"}
    assert len(rows["changes"]) > 500
    assert sum(c["reverted"] for c in rows["changes"]) > 0
    assert len(rows["approvals"]) > 100
    assert {i["attribution"] for i in rows["incidents"]} >= {"named", "window"}
    assert len(rows["defects"]) > 0
    assert rows["defects_recorded"]
    assert rows["incidents_recorded"]


@pytest.mark.parametrize("definition", DEFINITIONS)
def test_each_engine_reads_the_records_the_store_reads(
    engine: Engine, organisation: Organisation, on_store: dict[str, Any], definition: str
) -> None:
    names = organisation.oracle["dora"]["scope"]["services"]
    found = asdict(EngineSignals(engine).rows(DEFINITIONS[definition], names, organisation.period))
    expected = on_store[definition]
    for table in ("deployments", "changes", "approvals", "incidents", "defects"):
        assert len(found[table]) == len(expected[table]), table
        for got, want in zip(found[table], expected[table], strict=True):
            assert got == want, (table, want["id"])
    assert (found["defects_recorded"], found["incidents_recorded"]) == (True, True)


def test_each_engine_gives_the_stores_signals(
    engine: Engine, organisation: Organisation, on_store: dict[str, Any], tmp_path: Any
) -> None:
    store = open_store(Settings(database=str(tmp_path / "empty.duckdb")))
    try:  # the store is not read: every record comes from the engine
        doc = signals.compute(
            store, PRESETS["dora"], Scope(), organisation.period, source=EngineSignals(engine)
        )
    finally:
        store.close()
    assert doc == on_store["signals"]


def test_a_version_shipped_again_is_a_repeat_on_the_store_and_the_engine(tmp_path: Any) -> None:
    # v1 on Monday, v2 on Tuesday, v1 again on Wednesday (a repeat), and v1 on staging on
    # Thursday (a repeat there too, but staging deployments are not counted under `dora`)
    days = [("d1", "v1", "production", 5), ("d2", "v2", "production", 6)]
    days += [("d3", "v1", "production", 7), ("d4", "v1", "staging", 8)]
    records = [
        {
            "type": "deployment",
            "source": "t",
            "source_id": sid,
            "service": "api",
            "environment": env,
            "finished_at": f"2026-10-0{day}T10:00:00Z",
            "status": "success",
            "kind": "deploy",
            "version": version,
        }
        for sid, version, env, day in days
    ]
    settings = Settings(database=str(tmp_path / "repeat.duckdb"))
    store = open_store(settings)
    ingest(store, settings, (parse_record(r, "t") for r in records))
    period = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))
    on_store = load(store, PRESETS["dora"], ["api"], period).deployments
    store.close()
    assert [(d["id"], d["repeat_version"]) for d in on_store] == [
        ("t:d1", 0),
        ("t:d2", 0),
        ("t:d3", 1),
    ]
    with connected(settings.model_copy(update={"engine": "duckdb"})) as engine:
        found = EngineSignals(engine).rows(PRESETS["dora"], ["api"], period).deployments
    assert found == on_store


def test_each_team_on_each_engine_equals_the_stores(
    engine: Engine, organisation: Organisation, on_store: dict[str, Any]
) -> None:
    from headway.engines.flow import EngineFlow

    source = EngineSignals(engine)
    groups = flow.group_members(EngineFlow(engine), "team")
    got = [
        signals.compute(
            None, PRESETS["dora"], Scope("team", key), organisation.period, members=m, source=source
        )
        for key, m in groups.items()
    ]
    assert len(got) == 4  # the simulated organisation's teams
    assert got == on_store["each team"]


def test_the_cli_and_the_api_give_the_signals_of_the_engine(
    organisation: Organisation,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    engine_reads: list[str],
) -> None:
    path = tmp_path / "store.duckdb"
    shutil.copyfile(organisation.duckdb, path)
    monkeypatch.setenv("HEADWAY_DATABASE", str(path))
    monkeypatch.delenv("HEADWAY_ENGINE", raising=False)
    get_settings.cache_clear()
    read = engine_reads
    since, until = organisation.period.since.date(), organisation.period.until.date()
    args = ["signals", "--since", str(since), "--until", str(until), "--format", "json"]
    on_store = CliRunner().invoke(cli, args)
    assert read == []  # no engine asked: the store's statements
    on_engine = CliRunner().invoke(cli, [*args, "--engine", "duckdb"])
    assert read == ["duckdb"]  # one document, its records read once, on the engine
    assert on_store.exit_code == 0, on_store.output
    assert on_engine.exit_code == 0, on_engine.output
    assert json.loads(on_engine.stdout) == json.loads(on_store.stdout)
    assert json.loads(on_store.stdout)["batch_size"]["deployments"] > 100
    url = f"/api/signals?since={since}&until={until}&each=team"
    answered = {}
    for engine in (None, "duckdb"):
        read.clear()
        with TestClient(create_app(Settings(database=str(path), engine=engine))) as client:
            authorize(client)
            answer = client.get(url)
            assert answer.status_code == 200, answer.text
            answered[engine] = answer.json()
        # each of the four teams' records read on the server's engine, or none there
        assert read == (["duckdb"] * 4 if engine else []), engine
    assert len(answered[None]) == 4
    assert answered["duckdb"] == answered[None]
