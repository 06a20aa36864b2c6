"""A write stores the same rows whichever way it reaches the engine.

PostgreSQL takes a small write (a webhook group) as one statement of arrays, one per column,
and a large one (an import) through COPY and a staging table; the embedded store has one way.
Each must merge a partial record into the stored one, count new and updated rows alike and
store times as UTC.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Select, bindparam, func, select

from headway.model import Change, Deployment, Incident, Service
from headway.store import Store
from headway.store.ingest import changes_and_services, moments
from headway.store.postgres import ARRAY_ROWS, PostgresStore
from headway.store.schema import deployments

PARIS = timezone(timedelta(hours=2))


def _deployments(n: int, *, version: str | None) -> list[Deployment]:
    return [
        Deployment(
            source="ci",
            source_id=str(i),
            service=f"svc-{i % 3}",
            # every other one given with an offset: stored as its UTC wall time
            finished_at=datetime(2026, 10, 1, 12, tzinfo=UTC) + timedelta(minutes=i)
            if i % 2
            else datetime(2026, 10, 1, 14, tzinfo=PARIS) + timedelta(minutes=i),
            version=version,
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("n", [3, ARRAY_ROWS + 1], ids=["arrays", "copy"])
def test_new_and_updated_rows_are_counted_and_merged(store: Store, n: int) -> None:
    first = store.write(_deployments(n, version="v1")[: n - 1])
    # the last is new; the others come again without a version and with a status
    again = [
        Deployment(
            source=d.source,
            source_id=d.source_id,
            service=d.service,
            finished_at=d.finished_at,
            status="failure",
        )
        for d in _deployments(n, version=None)
    ]
    second = store.write(again)
    assert (first.new, first.seen) == ({"deployments": n - 1}, {"deployments": 0})
    assert (second.new, second.seen) == ({"deployments": 1}, {"deployments": n - 1})
    rows = store.query(
        "SELECT id, finished_at, version, status FROM deployments WHERE id IN ('ci:0', 'ci:1') "
        f"OR id = 'ci:{n - 1}' ORDER BY id"
    )
    last = datetime(2026, 10, 1, 12) + timedelta(minutes=n - 1)
    assert rows == sorted(
        [
            # 14:00 at +02:00 is 12:00 UTC
            ("ci:0", datetime(2026, 10, 1, 12), "v1", "failure"),
            ("ci:1", datetime(2026, 10, 1, 12, 1), "v1", "failure"),
            (f"ci:{n - 1}", last, None, "failure"),
        ]
    )


def test_a_write_to_several_tables_counts_each(store: Store) -> None:
    """A webhook group writes to several tables at once (on PostgreSQL, their statements go
    together and their answers are read after)."""
    at = datetime(2026, 10, 1, 12, tzinfo=UTC)
    records = [
        Deployment(source="ci", source_id="1", service="api", finished_at=at),
        Change(source="git", source_id="a", service="api", merged_at=at),
        Change(source="git", source_id="b", service="api", merged_at=at),
        Incident(source="pd", source_id="x", service="api", opened_at=at),
    ]
    first = store.write(records[:2])
    second = store.write(records)
    assert first.new == {"deployments": 1, "changes": 1}
    assert (second.new, second.seen) == (
        {"deployments": 0, "changes": 1, "incidents": 1},
        {"deployments": 1, "changes": 1, "incidents": 0},
    )
    assert store.query("SELECT count(*) FROM changes") == [(2,)]


def test_a_failed_write_to_several_tables_leaves_nothing(store: Store) -> None:
    at = datetime(2026, 10, 1, 12, tzinfo=UTC)
    good = Deployment(source="ci", source_id="1", service="api", finished_at=at)
    # a change without its service: refused by the table, and the deployment with it
    bad = Change(source="git", source_id="a", service=None, merged_at=at)  # type: ignore[arg-type]
    with pytest.raises(Exception, match=r"(?i)null"):  # each engine words its own error
        store.write([good, bad])
    store.write([Deployment(source="ci", source_id="2", service="api", finished_at=at)])
    assert store.query("SELECT id FROM deployments") == [("ci:2",)]


def _ids_in(*ids: str) -> tuple[Select[Any], dict[str, Any]]:
    return select(deployments.c.id).where(deployments.c.id.in_(ids)).order_by("id"), {}


def test_reads_asked_together_answer_each_in_order(store: Store) -> None:
    """The write path reads what a group needs (stored ids, event orders, …) together:
    on PostgreSQL in one round trip, inside the group's transaction."""
    at = datetime(2026, 10, 1, 12, tzinfo=UTC)
    store.write([Deployment(source="ci", source_id="1", service="api", finished_at=at)])
    with store.transaction():
        # written in the transaction, not committed yet: the reads in it see it
        store.write([Deployment(source="ci", source_id="2", service="api", finished_at=at)])
        answers = store.rows_each(
            [
                _ids_in("ci:1", "ci:2", "ci:3"),
                _ids_in("ci:9"),
                (select(func.count()).select_from(deployments), {}),
                (
                    select(deployments.c.id).where(deployments.c.id == bindparam("one")),
                    {"one": "ci:2"},
                ),
            ]
        )
    assert answers == [[("ci:1",), ("ci:2",)], [], [(2,)], [("ci:2",)]]
    assert store.rows_each([]) == []


def test_the_reads_of_a_group_together_on_several_tables(store: Store) -> None:
    at = datetime(2026, 10, 1, 12, tzinfo=UTC)
    store.write(
        [
            Deployment(source="ci", source_id="1", service="api", finished_at=at),
            Change(source="git", source_id="a", service="api", merged_at=at),
        ]
    )
    found = moments(
        store,
        {
            "deployments": (("finished_at",), ["ci:1", "ci:2"]),
            "changes": (("merged_at",), ["git:a"]),
        },
    )
    assert found == {
        "deployments": [("ci:1", datetime(2026, 10, 1, 12))],
        "changes": [("git:a", datetime(2026, 10, 1, 12))],
    }
    assert changes_and_services(store, ["git:b"], ["api", "web"]) == ([], set())
    store.write([Service("api")])
    rows, known = changes_and_services(store, ["git:a"], ["api", "web"])
    assert ([r[0] for r in rows], known) == (["git:a"], {"api"})


@pytest.mark.postgres
def test_reads_asked_together_are_one_round_trip_on_postgres(pg_schema_url: str) -> None:
    store = PostgresStore(pg_schema_url)
    try:
        store.migrate()
        trips = _count_trips(store)
        store.rows_each([_ids_in("ci:1"), _ids_in("ci:2"), _ids_in("ci:3")])
        assert trips == [1]
        store.rows(_ids_in("ci:1")[0])
        store.rows(_ids_in("ci:2")[0])
        assert trips == [3]  # one each, asked one after the other
    finally:
        store.close()


def _count_trips(store: PostgresStore) -> list[int]:
    """Counts the round trips `store` makes from now on: each statement sent alone, and each
    pipeline (whose statements go and come back together)."""
    trips = [0]
    con = store._con
    piped = [False]

    class Cursor:
        def __init__(self, cur: Any) -> None:
            self.cur = cur

        def execute(self, *args: Any) -> Any:
            trips[0] += not piped[0]
            return self.cur.execute(*args)

        def __getattr__(self, name: str) -> Any:
            return getattr(self.cur, name)

    class Connection:
        def cursor(self) -> Cursor:
            return Cursor(con.cursor())

        @contextmanager
        def pipeline(self) -> Iterator[None]:
            trips[0] += 1
            piped[0] = True
            with con.pipeline():
                yield
            piped[0] = False

        def __getattr__(self, name: str) -> Any:
            return getattr(con, name)

    store._con = Connection()  # type: ignore[assignment]
    return trips
