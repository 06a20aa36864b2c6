"""The flow breakdown's moments on every engine equal the store's.

Each change the flow covers, with when it started, was opened, reviewed, approved, merged
and deployed, and its gates' request and decision, must come out of the engine's expression
(`engines.flow`) exactly as the store's statement (`metrics.queries.flow`) gives it, under
each preset: `dora` covers shipped changes from their first review, `devlake` every merged
change from the first review by someone other than the author, shipped by a deployment after
its service's first. The stages are then cut by the same code (`metrics.stages.cut`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.engines import Engine
from headway.engines.flow import moments
from headway.metrics import stages
from headway.metrics.queries import flow as queries
from headway.store import open_store
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
        return {
            preset: queries.shipped_moments(store, defn, names, p.since, p.until)
            for preset, defn in PRESETS.items()
        }
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
    assert stages.cut(PRESETS[preset], got) == stages.cut(PRESETS[preset], want)


def test_an_export_without_approvals_says_to_export_again(
    organisation: Organisation, tmp_path: Path
) -> None:
    from headway.engines import EngineError, connect

    old = tmp_path / "export"
    shutil.copytree(organisation.parquet, old)
    shutil.rmtree(old / "approvals")
    with pytest.raises(EngineError, match="no approvals/ folder; write the export with"):
        connect(Settings(database=str(organisation.duckdb), engine_parquet=str(old)))
