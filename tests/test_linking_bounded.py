"""The re-link a webhook batch runs, bounded by the earliest instant the batch moved, stores the
same links as re-linking the same services whole, on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headway import linking
from headway.config import Settings
from headway.model import Change, Deployment, Incident, Service
from headway.store import Store, open_store

SERVICES = ("api", "web")
DEPLOYMENTS = tuple(f"d{i}" for i in range(6))
CHANGES = tuple(f"c{i}" for i in range(6))
INCIDENTS = tuple(f"i{i}" for i in range(4))
START = datetime(2026, 10, 1, tzinfo=UTC)

# Five-minute steps against a 15-minute incident window: instants tie often, and windows both
# reach and miss; now and then a microsecond later (a repair finishing 1 µs after another).
instants = st.builds(
    lambda step, micro: START + timedelta(minutes=5 * step, microseconds=micro),
    st.integers(0, 8),
    st.sampled_from((0, 0, 0, 1)),
)
services = st.sampled_from(("api", "api", "api", "web"))  # mostly one timeline
# a named deployment may be stored, arrive in the batch, or never be stored
# (n0 and n1 arrive in batches only, d9 never)
named = st.one_of(st.none(), st.sampled_from(("t:d0", "t:d1", "t:n0", "t:n1", "t:d9")))


def deployment(source_id: str) -> st.SearchStrategy[Deployment]:
    return st.builds(
        Deployment,
        source=st.just("t"),
        source_id=st.just(source_id),
        service=services,
        finished_at=instants,
        started_at=st.one_of(st.none(), instants),
        environment=st.sampled_from(("production", "production", "staging")),
        status=st.sampled_from(("success", "success", "failure")),
        kind=st.sampled_from(("deploy", "deploy", "hotfix", "rollback", "release")),
        recovers=named,
    )


def change(source_id: str) -> st.SearchStrategy[Change]:
    return st.builds(
        Change,
        source=st.just("t"),
        source_id=st.just(source_id),
        service=services,
        merged_at=st.one_of(st.none(), instants, instants),
        deployment_ref=st.one_of(st.none(), st.none(), named),
    )


def incident(source_id: str) -> st.SearchStrategy[Incident]:
    return st.builds(
        Incident,
        source=st.just("t"),
        source_id=st.just(source_id),
        service=services,
        opened_at=instants,
        cause_ref=st.one_of(st.none(), st.none(), named),
    )


@st.composite
def records(draw: st.DrawFn, pool: tuple[str, ...], make: Any, most: int = 8) -> list[Any]:
    """Records for at most `most` ids of `pool`, each id once."""
    ids = draw(st.lists(st.sampled_from(pool), unique=True, max_size=most))
    return [draw(make(i)) for i in ids]


def stored(deployments: tuple[str, ...], most: int) -> st.SearchStrategy[tuple[Any, Any, Any]]:
    return st.tuples(
        records(deployments, deployment, most),
        records(CHANGES, change, most),
        records(INCIDENTS, incident, most),
    )


def derived(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {
        "changes": store.query("SELECT id, deployment_id FROM changes ORDER BY id"),
        "deployments": store.query("SELECT id, recovers_id FROM deployments ORDER BY id"),
        "incidents": store.query(
            "SELECT id, deployment_id, attribution FROM incidents ORDER BY id"
        ),
    }


@pytest.fixture
def linked_store(engine_settings: Settings) -> Iterator[tuple[Store, Settings]]:
    window = engine_settings.model_copy(update={"incident_window_hours": 0.25})
    store = open_store(window)
    yield store, window
    store.close()


def bounded_relink_matches_whole(
    store: Store, config: Settings, before: Any, batch: Any, unreported: list[Change]
) -> None:
    for table in ("changes", "deployments", "incidents", "services"):
        store.execute(f"DELETE FROM {table}")
    # Given a history of a few services, fully linked
    store.write([*(Service(name=s) for s in SERVICES), *(r for rs in before for r in rs)])
    linking.link(store, config)
    # When a batch arrives (new records, and stored ones with new times, statuses, kinds,
    # environments, services or names), written as a webhook batch writes it: the earliest
    # instant of each record as stored before the write and after it, per service, bounds
    # the re-link. A change written beside the batch's records, as a push gives one back
    # from a pull request it had been folded into, is not among them (its service is: the
    # push's records are).
    written = [r for rs in batch for r in rs]
    keys = [(r.table, r.id) for r in written]
    since: dict[str, datetime | None] = dict.fromkeys({r.service for r in (*written, *unreported)})
    linking.affected(store, keys, since)
    store.write([*written, *unreported])
    linking.affected(store, keys, since)
    linking.link(store, config, since, since=since)
    bounded = derived(store)
    # Then re-linking those services whole changes nothing. (Services the batch did not touch
    # are re-linked by neither: a change of another service naming a deployment the batch
    # brings stays unresolved in both.)
    linking.link(store, config, since)
    assert bounded == derived(store)


scenario = st.tuples(
    # a history, then a small batch (a bounded re-link has the most to skip after one)
    stored(DEPLOYMENTS, 8),
    stored((*DEPLOYMENTS, "n0", "n1"), 2),
    records(("g0", "g1"), change),
)


def test_a_bounded_relink_stores_what_a_whole_relink_stores(
    linked_store: tuple[Store, Settings],
) -> None:
    store, config = linked_store

    # (fewer on DuckDB, where each example's small writes and updates cost about 0.2 s)
    @settings(max_examples=40 if store.dialect == "duckdb" else 150, deadline=None)
    @given(case=scenario)
    def check(case: tuple[Any, Any, list[Change]]) -> None:
        bounded_relink_matches_whole(store, config, *case)

    check()
