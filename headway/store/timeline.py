"""The timeline walk: for each event of a service, the deployment nearest in time on one side.
`store/linking.py` stores links with it; the metrics attribute under a definition with it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Double,
    FromClause,
    Select,
    cast,
    extract,
    func,
    literal_column,
    null,
    select,
    union_all,
)


def epoch(column: ColumnElement[Any]) -> ColumnElement[float]:
    """Seconds since 1970 as a double, the same number on both engines."""
    return cast(extract("epoch", column), Double)


def nearest(events: Select[Any], deployments: Select[Any], *, after: bool) -> Select[Any]:
    """For each event (id, service, t), the deployment nearest in time on one side.

    Events and deployments are merged into one timeline per service, walked backwards (the
    next deployment at or after each event) or forwards (the last one at or before it). Each
    deployment starts a run of the events that follow it in that walk; a running count of
    deployments numbers the runs, and each event takes the deployment at the head of its run.
    No join back to the deployments is needed, so the cost is two sorts whatever the
    planner guesses about row counts. On a tie the deployment sorts first: a change merged at
    the instant a deployment starts ships with it; an incident opened at the instant a
    deployment finishes is blamed on it. Deployments of one service at the same instant are
    one point of the timeline, the one with the smallest id standing for them.
    Columns: event_id, event_t, dep_t, deployment_id.
    """
    d = deployments.subquery()
    dep = select(d.c.service, d.c.t, func.min(d.c.id).label("id")).group_by(d.c.service, d.c.t)
    e = events.subquery()
    points = dep.subquery()
    ev = union_all(
        select(
            e.c.id.label("event_id"),
            e.c.service,
            e.c.t,
            literal_column("1").label("o"),
            null().label("dep_id"),
        ),
        select(null(), points.c.service, points.c.t, literal_column("0"), points.c.id),
    ).subquery()

    def order(t: FromClause) -> list[ColumnElement[Any]]:
        return [t.c.t.desc(), t.c.o] if after else [t.c.t, t.c.o]

    run = func.count(ev.c.dep_id).over(
        partition_by=ev.c.service, order_by=order(ev), rows=(None, 0)
    )
    runs = select(ev, run.label("run")).subquery()
    window: dict[str, Any] = {
        "partition_by": [runs.c.service, runs.c.run],
        "order_by": order(runs),
        "rows": (None, 0),
    }
    carried = select(
        runs.c.event_id,
        runs.c.t.label("event_t"),
        func.first_value(runs.c.t).over(**window).label("dep_t"),
        func.first_value(runs.c.dep_id).over(**window).label("deployment_id"),
    ).subquery()
    return select(carried).where(
        carried.c.event_id.is_not(None), carried.c.deployment_id.is_not(None)
    )
