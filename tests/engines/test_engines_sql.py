"""The SQL each engine receives for the five figures, the flow breakdown, the main records
list and the links computed where an export lacks them, kept so a change in it is reviewed.

A snapshot is the compiled text of one figure under the `dora` preset for the simulated
organisation's services and a fixed period. After a deliberate change, write them again
with HEADWAY_UPDATE_SNAPSHOTS=1 and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from headway.definitions import PRESETS
from headway.engines import Engine, flow, links, record_lists
from headway.engines import dora as figures
from headway.engines.relations import Tables
from headway.engines.run import scope_services
from headway.metrics import dora
from headway.metrics.refine import Refinement
from tests.engines.conftest import PERIOD_FOR_SNAPSHOTS

SNAPSHOTS = Path(__file__).parent / "snapshots"


@pytest.mark.parametrize("figure", figures.EXPRESSIONS)
def test_the_sql_each_engine_receives_is_the_reviewed_one(engine: Engine, figure: str) -> None:
    services = tuple(s for s, _ in scope_services(engine, dora.Scope()))
    query = figures.Query(PRESETS["dora"], services, PERIOD_FOR_SNAPSHOTS)
    sql = engine.sql(figures.EXPRESSIONS[figure](Tables.of(engine.tables), query)).strip() + "\n"
    _matches(engine, figure, sql)


# The flow breakdown's two reads: the changes shipped in the period, and those still waiting.
FLOW = {
    "flow_shipped": lambda t, services: flow.shipped_moments(
        t, PRESETS["dora"], services, PERIOD_FOR_SNAPSHOTS
    ),
    "flow_waiting": lambda t, services: flow.waiting_moments(
        t, PRESETS["dora"], services, PERIOD_FOR_SNAPSHOTS.until
    ),
}


@pytest.mark.parametrize("read", FLOW)
def test_the_flow_sql_each_engine_receives_is_the_reviewed_one(engine: Engine, read: str) -> None:
    services = tuple(s for s, _ in scope_services(engine, dora.Scope()))
    expression = FLOW[read](Tables.of(engine.tables), services)
    _matches(engine, read, engine.sql(expression).strip() + "\n")


def test_the_records_list_sql_each_engine_receives_is_the_reviewed_one(engine: Engine) -> None:
    # the main list: the web app's first page of deployments, with the whole list's length
    services = [s for s, _ in scope_services(engine, dora.Scope())]
    since, until = PERIOD_FOR_SNAPSHOTS.since, PERIOD_FOR_SNAPSHOTS.until
    refine = Refinement()
    listed = record_lists.listed(
        Tables.of(engine.tables), "deployments", PRESETS["dora"], services, since, until, refine
    )
    page = record_lists.paged("deployments", listed, refine, 50, 0, with_length=True)
    _matches(engine, "records_deployments", engine.sql(page).strip() + "\n")


# The three links an engine computes where an export lacks them (engines/links.py), under
# the default settings: production only, a 24-hour incident window.
LINKS = {
    "links_changes": lambda t: links.shipped_by(t, ["production"]),
    "links_deployments": lambda t: links.repaired_by(t, ["production"]),
    "links_incidents": lambda t: links.blamed_on(t, ["production"], 24.0),
}


@pytest.mark.parametrize("read", LINKS)
def test_the_links_sql_each_engine_receives_is_the_reviewed_one(engine: Engine, read: str) -> None:
    expression = LINKS[read](Tables.of(engine.tables))
    _matches(engine, read, engine.sql(expression).strip() + "\n")


def _matches(engine: Engine, name: str, sql: str) -> None:
    folder = engine.name if engine.source == "store" else f"{engine.name}-{engine.source}"
    snapshot = SNAPSHOTS / folder / f"{name}.sql"
    if os.environ.get("HEADWAY_UPDATE_SNAPSHOTS") == "1":
        snapshot.parent.mkdir(parents=True, exist_ok=True)
        snapshot.write_text(sql)
    assert snapshot.exists(), f"no snapshot {snapshot}: run with HEADWAY_UPDATE_SNAPSHOTS=1"
    assert sql == snapshot.read_text(), (
        f"{snapshot} changed: review, then HEADWAY_UPDATE_SNAPSHOTS=1"
    )
