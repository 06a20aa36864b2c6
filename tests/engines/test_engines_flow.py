"""The flow breakdown's moments on every engine equal the store's.

Each change the flow covers, with when it started, was opened, reviewed, approved, merged
and deployed, and its gates' request and decision, must come out of the engine's expression
(`engines.flow`) exactly as the store's statement (`metrics.queries.flow`) gives it, under
each preset: `dora` covers shipped changes from their first review, `devlake` every merged
change from the first review by someone other than the author, shipped by a deployment after
its service's first. The stages are then cut by the same code (`metrics.stages.cut`).
"""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app as cli
from headway.config import Settings, get_settings
from headway.definitions import PRESETS
from headway.engines import Engine
from headway.engines.flow import EngineFlow, moments
from headway.metrics import flow, stages
from headway.metrics.flow import NO_RELEASE_WAIT
from headway.metrics.queries import flow as queries
from headway.metrics.scope import Period, Scope
from headway.metrics.stages import columns_of
from headway.store import open_store
from tests.conftest import authorize
from tests.engines.conftest import Organisation


@pytest.fixture(scope="module")
def on_store(organisation: Organisation, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The store's rows per preset, read from a copy (the engines hold the file read-only)."""
    path = tmp_path_factory.mktemp("flow") / "store.duckdb"
    shutil.copyfile(organisation.duckdb, path)
    store = open_store(Settings(database=str(path)))
    try:
        names = organisation.oracle["dora"]["scope"]["services"]
        p = organisation.period
        rows: dict[str, Any] = {
            preset: _rows(queries.shipped_moments(store, defn, names, p.since, p.until))
            for preset, defn in PRESETS.items()
        }
        for preset in ("dora", "devlake"):
            doc = flow.breakdown(store, PRESETS[preset], Scope(), p, "week").to_json()
            rows[f"breakdown {preset}"] = doc
        rows["half"] = flow.breakdown(store, PRESETS["dora"], Scope(), _half(p)).to_json()
        rows["each team"] = [
            b.to_json() for b in flow.breakdown_each(store, PRESETS["dora"], "team", p)
        ]
        return rows
    finally:
        store.close()


def test_the_moments_are_a_real_workload(on_store: dict[str, list[Any]]) -> None:
    rows = on_store["dora"]
    assert len(rows) > 1000
    assert sum(1 for row in rows if row[9] is not None) > 20  # changes that waited on a gate
    assert sum(1 for row in rows if row[11] is not None) > 20  # deployments behind a gate
    merged = on_store["devlake"]
    assert any(row[2] is None for row in merged)  # merged, never shipped: still covered


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_change_has_the_same_moments(
    engine: Engine, organisation: Organisation, on_store: dict[str, list[Any]], preset: str
) -> None:
    names = organisation.oracle["dora"]["scope"]["services"]
    got = moments(engine, PRESETS[preset], names, organisation.period)
    want = [tuple(row) for row in on_store[preset]]
    assert got == want
    # and so the stages each change spent its time in
    source = EngineFlow(engine).shipped(PRESETS[preset], names, organisation.period)
    flows = stages.cut(PRESETS[preset], source).listed()
    assert flows == stages.cut(PRESETS[preset], columns_of(want)).listed()
    assert len(flows) == len(want)


def _rows(columns: list[np.ndarray]) -> list[tuple[Any, ...]]:
    """The store's columns as rows of Python values (NaT: None), as an engine answers."""
    return list(zip(*(column.astype(object).tolist() for column in columns), strict=True))


def _half(period: Period) -> Period:
    return Period(period.since, period.since + timedelta(days=30))


def _on_engine(doc: dict[str, Any]) -> dict[str, Any]:
    """The store's breakdown as an engine gives it: no release wait, and the warning."""
    return {**doc, "release_wait": None, "warnings": [*doc["warnings"], NO_RELEASE_WAIT]}


@pytest.mark.parametrize("preset", ["dora", "devlake"])
def test_the_breakdown_by_week_equals_the_stores(
    engine: Engine, on_store: dict[str, Any], preset: str, organisation: Organisation
) -> None:
    source = EngineFlow(engine)
    got = flow.breakdown(source, PRESETS[preset], Scope(), organisation.period, "week")
    doc = got.to_json()
    assert doc == _on_engine(on_store[f"breakdown {preset}"])


def test_work_in_progress_mid_history_equals_the_stores(
    engine: Engine, on_store: dict[str, Any], organisation: Organisation
) -> None:
    """At the end of the simulation nothing is left waiting; thirty days in, plenty is."""
    half = _half(organisation.period)
    doc = flow.breakdown(EngineFlow(engine), PRESETS["dora"], Scope(), half).to_json()
    assert doc == _on_engine(on_store["half"])
    waiting = doc["waiting"]
    assert waiting["open"]["changes"] > 0
    assert waiting["undeployed"]["changes"] > 0


def test_each_teams_breakdown_equals_the_stores(
    engine: Engine, on_store: dict[str, Any], organisation: Organisation
) -> None:
    source = EngineFlow(engine)
    got = flow.breakdown_each(source, PRESETS["dora"], "team", organisation.period)
    assert [b.to_json() for b in got] == [_on_engine(d) for d in on_store["each team"]]


def test_the_cli_and_the_api_give_the_flow_of_the_engine(
    organisation: Organisation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "store.duckdb"
    shutil.copyfile(organisation.duckdb, path)
    monkeypatch.setenv("HEADWAY_DATABASE", str(path))
    monkeypatch.delenv("HEADWAY_ENGINE", raising=False)
    get_settings.cache_clear()
    since, until = organisation.period.since.date(), organisation.period.until.date()
    args = ["flow", "--since", str(since), "--until", str(until), "--format", "json"]
    on_store = CliRunner().invoke(cli, args)
    on_engine = CliRunner().invoke(cli, [*args, "--engine", "duckdb"])
    assert on_store.exit_code == 0, on_store.output
    assert on_engine.exit_code == 0, on_engine.output
    assert json.loads(on_engine.stdout) == _on_engine(json.loads(on_store.stdout))
    url = f"/api/flow?since={since}&until={until}"
    answered = {}
    for engine in (None, "duckdb"):
        with TestClient(create_app(Settings(database=str(path), engine=engine))) as client:
            authorize(client)
            answer = client.get(url)
            assert answer.status_code == 200, answer.text
            answered[engine] = answer.json()
    assert answered["duckdb"] == _on_engine(answered[None])
    assert answered[None] == json.loads(on_store.stdout)


def test_an_export_without_approvals_says_to_export_again(
    organisation: Organisation, tmp_path: Path
) -> None:
    from headway.engines import EngineError, connect

    old = tmp_path / "export"
    shutil.copytree(organisation.parquet, old)
    shutil.rmtree(old / "approvals")
    with pytest.raises(EngineError, match="no approvals/ folder; write the export with"):
        connect(Settings(database=str(organisation.duckdb), engine_parquet=str(old)))
