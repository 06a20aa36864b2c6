"""Failure and rework by revert, on a hand-built history whose every number is worked out by hand.

Service `api`, 2026-10-01 … 2026-10-10; each deployment starts 10 minutes before it finishes and
ships the changes merged since the previous one started:

  d1 deploy 10-01 12:00  ships a (08:00) and a' (09:00), the revert of a
                          → shipped the change with its revert: neither failed nor rework
  d2 deploy 10-03 12:00  ships b (10-02 08:00), b' (09:00, reverts b), b'' (10:00, reverts b':
                          b re-landed) → reverted and re-landed before any release: nothing
  d3 deploy 10-05 12:00  ships c (10-04 08:00)            → failed: c' reverts it after d3
  d4 deploy 10-07 12:00  ships c' (10-06 08:00)           → rework; recovers d3 after 48 h
  d5 deploy 10-08 12:00  ships e (10-08 08:00); e' (11:55, reverts e) is merged after d5 started,
                          so d5 did not ship it and no deployment has yet
                          → failed, not recovered
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import dora, records
from headway.metrics.scope import Period, Scope
from headway.model import Change, Deployment, Service
from headway.store import Store

OCTOBER_1_TO_10 = Period(datetime(2026, 10, 1), datetime(2026, 10, 11))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def change(name: str, merged: datetime, reverts: str | None = None) -> Change:
    return Change(
        source="t",
        source_id=name,
        service="api",
        first_commit_at=merged,
        merged_at=merged,
        is_revert=reverts is not None,
        reverts=f"t:{reverts}" if reverts else None,
    )


def deployment(name: str, finished: datetime) -> Deployment:
    return Deployment(
        source="t",
        source_id=name,
        service="api",
        started_at=finished - timedelta(minutes=10),
        finished_at=finished,
    )


@pytest.fixture
def history(store: Store, engine_settings: Settings) -> Store:
    ingest(
        store,
        engine_settings,
        [
            Service(name="api"),
            change("a", at(1, 8)),
            change("a2", at(1, 9), reverts="a"),
            deployment("d1", at(1, 12)),
            change("b", at(2, 8)),
            change("b2", at(2, 9), reverts="b"),
            change("b3", at(2, 10), reverts="b2"),
            deployment("d2", at(3, 12)),
            change("c", at(4, 8)),
            deployment("d3", at(5, 12)),
            change("c2", at(6, 8), reverts="c"),
            deployment("d4", at(7, 12)),
            change("e", at(8, 8)),
            deployment("d5", at(8, 12)),
            change("e2", at(8, 11, 55), reverts="e"),
        ],
    )
    return store


def test_a_release_fails_and_is_rework_only_across_releases(history: Store) -> None:
    # When the deployments are listed
    rows = {
        r["id"].removeprefix("t:"): r
        for r in records.deployments(
            history, PRESETS["dora"], Scope("service", "api"), OCTOBER_1_TO_10
        )
    }

    # Then each shipped what the docstring says
    assert rows["d1"]["changes"] == ["t:a", "t:a2"]
    assert rows["d2"]["changes"] == ["t:b", "t:b2", "t:b3"]
    assert rows["d5"]["changes"] == ["t:e"]
    # and only d3 and d5 failed, d3 recovered by d4 shipping c', d5 not yet
    assert {k: r["failed"] for k, r in rows.items()} == {
        "d1": False,
        "d2": False,
        "d3": True,
        "d4": False,
        "d5": True,
    }
    assert [(e["rule"], e["record"]) for e in rows["d3"]["evidence"]] == [("revert", "t:c2")]
    assert rows["d3"]["recovered_at"] == "2026-10-07T12:00:00Z"
    assert [(e["rule"], e["record"]) for e in rows["d5"]["evidence"]] == [("revert", "t:e2")]
    assert rows["d5"]["recovered_at"] is None
    # and only d4, which ships the revert of a change d3 shipped, is rework
    assert [k for k, r in rows.items() if r["rework"]] == ["d4"]


def test_the_metrics_count_the_same_failures_and_rework(history: Store) -> None:
    m = dora.compute(history, PRESETS["dora"], Scope("service", "api"), OCTOBER_1_TO_10).to_json()

    # d3 and d5 of 5 failed; d4 of 5 is rework; d3 recovered in 48 h = 172800 s, d5 not yet
    assert m["change_fail_rate"]["failed"] == 2
    assert m["deployment_rework_rate"] == {
        "deployments": 5,
        "rework": 1,
        "rate": 0.2,
        "reason": None,
    }
    recovery = m["failed_deployment_recovery_time"]
    assert (recovery["recoveries"], recovery["unrecovered"], recovery["median_s"]) == (
        1,
        1,
        172800.0,
    )
