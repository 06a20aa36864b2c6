"""The rows behind the five DORA metrics, per scope key and time bucket: deployments
(frequency, change fail rate, rework), changes (lead time) and recoveries, from the three
queries of `metrics.queries.dora`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from headway.definitions import Definition
from headway.metrics.queries import dora as queries
from headway.metrics.queries import scope as scope_queries
from headway.metrics.scope import Period
from headway.store import Store
from headway.values import EARLIEST, LATEST

_NO_DURATIONS = {
    "n": 0,
    "median_s": None,
    "p75_s": None,
    "p90_s": None,
    "mean_s": None,
    "negative": 0,
}


def empty(_: Period) -> dict[str, Any]:
    return {
        "deployments": 0,
        "deploy_days": 0,
        "failed": 0,
        "rework": 0,
        "unrecovered": 0,
        "days": None,
        "lead": dict(_NO_DURATIONS),
        "recovery": dict(_NO_DURATIONS),
    }


def aggregate(
    store: Store,
    defn: Definition,
    services: list[str],
    period: Period,
    by: str | None,
    year: str,
    group: str = "organisation",
) -> dict[Any, dict[str, Any]]:
    """Run the three metric queries; results keyed by bucket start (or (group, None))."""
    return aggregate_shapes(store, defn, services, period, ((by, group),))[(by, group)]


def aggregate_shapes(
    store: Store,
    defn: Definition,
    services: list[str],
    period: Period,
    shapes: tuple[queries.Shape, ...],
) -> dict[queries.Shape, dict[Any, dict[str, Any]]]:
    """`aggregate` for each (bucket, grouping) of `shapes`, each metric query run once for
    all of them."""
    if not services:
        return {shape: {} for shape in shapes}
    shaped = queries.shaped_rows(store, defn, services, period.since, period.until, shapes)
    return {
        shape: _gathered(store, defn, services, period, *shape, shaped[shape]) for shape in shapes
    }


def _gathered(
    store: Store,
    defn: Definition,
    services: list[str],
    period: Period,
    by: str | None,
    group: str,
    rows: queries.KeyRows,
) -> dict[Any, dict[str, Any]]:
    """One shape's rows keyed by bucket start (or (group, None)), with the deployment days
    around the period when it has no bucket."""
    out: dict[Any, dict[str, Any]] = {}

    def slot(grp: Any, bkt: Any) -> dict[str, Any]:
        k = bkt if group == "organisation" else (grp, bkt)
        return out.setdefault(k, empty(period))

    for grp, bkt, deployments, days, failed, unrecovered, rework in rows.deployments:
        s = slot(grp, bkt)
        s.update(
            deployments=int(deployments),
            deploy_days=int(days),
            failed=int(failed or 0),
            unrecovered=int(unrecovered or 0),
            rework=int(rework or 0),
        )
    if by is None:
        # every deployment day near the period; `weekly_deploy_days` keeps its own days
        near = _a_day_around(period)
        for grp, day in queries.deploy_days(store, defn, services, *near, group):
            days = slot(grp, None)
            days["days"] = [*(days["days"] or []), day]
        for value in out.values():
            value["days"] = value["days"] or []
    for name, durations in (("lead", rows.lead), ("recovery", rows.recovery)):
        for grp, bkt, n, median, p75, p90, mean, negative in durations:
            slot(grp, bkt)[name] = {
                "n": int(n),
                "median_s": median,
                "p75_s": p75,
                "p90_s": p90,
                "mean_s": mean,
                "negative": int(negative or 0),
            }
    return out


def latest_deployments(store: Store, defn: Definition, services: list[str]) -> dict[str, datetime]:
    """Each service's latest counted deployment, whatever the period: what to point a user
    to when a window holds none. Only times no writer would refuse count (1970 to 2100)."""
    if not services:
        return {}
    rows = scope_queries.latest_counted(
        store, defn, services, EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)
    )
    return {service: latest for service, latest in rows if latest is not None}


def _a_day_around(period: Period) -> tuple[datetime, datetime]:
    """The period widened by a day each side, within what a datetime can hold."""
    day = timedelta(days=1)
    try:
        since = period.since - day
    except OverflowError:
        since = period.since
    try:
        until = period.until + day
    except OverflowError:
        until = period.until
    return since, until
