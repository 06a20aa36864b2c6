"""A write stores the same rows whichever way it reaches the engine.

PostgreSQL takes a small write (a webhook group) as one statement of arrays, one per column,
and a large one (an import) through COPY and a staging table; the embedded store has one way.
Each must merge a partial record into the stored one, count new and updated rows alike and
store times as UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from headway.model import Deployment
from headway.store import Store
from headway.store.postgres import ARRAY_ROWS

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
