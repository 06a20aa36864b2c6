"""Running the figures: a scope's services, the figures of one period, a trend, and the
document `headway metrics` prints, from the expressions in `engines.dora`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from headway.definitions import Definition
from headway.engines import relations as r
from headway.engines.connect import Engine
from headway.engines.dora import (
    BUCKETS,
    Query,
    change_lead_time,
    deployment_counts,
    deployment_days,
    failed_deployment_recovery_time,
)
from headway.engines.stats import STATS
from headway.metrics import dora
from headway.metrics.dora import Period, Scope, UnknownScope
from headway.values import EARLIEST, LATEST


def service_rows(engine: Engine) -> list[dict[str, str]]:
    """Every service with its team and context, as metrics.scope finds them: the services
    table, and services only deployments name (no team, no context); sorted by name."""
    t = r.Tables.of(engine.tables)
    s, d = t.services, t.deployments
    listed = engine.rows(
        s.select(
            name=s.name,
            team=s.team.fill_null("(no team)"),
            context=s.context.fill_null("(no context)"),
        )
    )
    names = {row["name"] for row in listed}
    deployed = engine.rows(d.select(name=d.service).distinct())
    known = listed + [
        {"name": row["name"], "team": "(no team)", "context": "(no context)"}
        for row in deployed
        if row["name"] not in names
    ]
    # `service` too, so a row answers each scope kind by name
    return sorted(({**row, "service": row["name"]} for row in known), key=lambda row: row["name"])


def scope_services(engine: Engine, scope: Scope) -> list[tuple[str, str]]:
    """(service, context) pairs in a scope, as metrics.dora.services_in finds them."""
    rows = service_rows(engine)
    if scope.kind == "organisation":
        return [(row["name"], row["context"]) for row in rows]
    chosen = [(row["name"], row["context"]) for row in rows if row[scope.kind] == scope.name]
    if not chosen:
        raise UnknownScope(
            f"no {scope.kind} named {scope.name!r}",
            f"`headway metrics --each {scope.kind}` shows every {scope.kind} with data",
            f"known {scope.kind}s",
            {row[scope.kind] for row in rows},
        )
    return chosen


def figures(engine: Engine, q: Query) -> dict[Any, dict[str, Any]]:
    """Run the figures' expressions; the raw numbers per key (a scope key, or with a trend a
    (scope key, bucket start) pair), in the shape metrics.dora gathers them. What several
    figures read (the failures, the incidents' attribution) is computed once for them all."""
    out: dict[Any, dict[str, Any]] = {}

    def slot(row: dict[str, Any]) -> dict[str, Any]:
        key = (row["grp"], row["bkt"]) if q.by else row["grp"]
        # a trend's buckets have no weekly median; the whole period's has one, maybe of none
        return out.setdefault(key, empty(days=None if q.by else []))

    if not q.services:
        return out
    with engine.keeping() as keep:
        t = r.Tables.of(engine.tables, keep)
        for row in engine.rows(deployment_counts(t, q)):
            slot(row).update(
                deployments=int(row["deployments"]),
                deploy_days=int(row["deploy_days"]),
                failed=int(row["failed"] or 0),
                unrecovered=int(row["unrecovered"] or 0),
                rework=int(row["rework"] or 0),
            )
        for name, expr in (
            ("lead", change_lead_time(t, q)),
            ("recovery", failed_deployment_recovery_time(t, q)),
        ):
            for row in engine.rows(expr):
                slot(row)[name] = {
                    **{k: row[k] for k in STATS},
                    "n": int(row["n"]),
                    "negative": int(row["negative"] or 0),
                }
        if not q.by:
            for row in engine.rows(deployment_days(t, q)):
                slot(row)["days"].append(row["day"])
    return out


def compute(
    engine: Engine,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    year: str = "2024",
) -> dict[str, Any]:
    """The five figures for one scope and period, as `headway metrics --format json` shows
    them (the figures' part of metrics.dora.MetricSet.to_json)."""
    services = scope_services(engine, scope)
    q = Query(defn, tuple(s for s, _ in services), period)
    found = figures(engine, q).get("organisation", empty())
    return render(defn, period, found, year)


def trend(
    engine: Engine,
    defn: Definition,
    scope: Scope,
    period: Period,
    by: str,
    *,
    year: str = "2024",
) -> list[dict[str, Any]]:
    """The five figures per Monday-started week or calendar month of the period, each over
    its part of the period (the `trend` of `headway metrics --by week|month`)."""
    if by not in BUCKETS:
        raise ValueError(f"by must be week or month, not {by!r}")
    services = scope_services(engine, scope)
    q = Query(defn, tuple(s for s, _ in services), period, by=by)
    found = {(grp, _naive(bkt)): f for (grp, bkt), f in figures(engine, q).items()}
    out = []
    for start in bucket_starts(period, by):
        part = Period(max(start, period.since), min(_next(start, by), period.until))
        numbers = found.get(("organisation", start)) or empty(days=None)
        out.append(render(defn, part, numbers, year))
    return out


def bucket_starts(period: Period, by: str) -> list[datetime]:
    day = datetime(period.since.year, period.since.month, period.since.day)
    start = day - timedelta(days=day.weekday()) if by == "week" else day.replace(day=1)
    out = []
    while start < period.until:
        out.append(start)
        start = _next(start, by)
    return out


def _next(start: datetime, by: str) -> datetime:
    if by == "week":
        return start + timedelta(days=7)
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1)


def _naive(value: datetime) -> datetime:
    """A time from an engine as UTC wall-clock: Spark answers zoned timestamps (a bucket's
    DATE_TRUNC, a MAX of a column)."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def compute_each(
    engine: Engine, defn: Definition, kind: str, period: Period, *, year: str = "2024"
) -> dict[str, dict[str, Any]]:
    """The five figures per service, team or context, keyed by its name."""
    services = scope_services(engine, Scope())
    q = Query(defn, tuple(s for s, _ in services), period, group=kind)
    return {key: render(defn, period, found, year) for key, found in figures(engine, q).items()}


def render(defn: Definition, period: Period, f: dict[str, Any], year: str) -> dict[str, Any]:
    """The five figures from raw numbers, rendered by metrics.dora itself (rounded, levelled,
    null with the reason where no record is behind them), so only the numbers can differ."""
    return dora.figures(defn, period, f, year)


def empty(days: list[date] | None = None) -> dict[str, Any]:
    durations = {"n": 0, "median_s": None, "p75_s": None, "p90_s": None, "mean_s": None}
    return {
        "deployments": 0,
        "deploy_days": 0,
        "failed": 0,
        "rework": 0,
        "unrecovered": 0,
        "days": days,
        "lead": {**durations, "negative": 0},
        "recovery": {**durations, "negative": 0},
    }


def latest_deployments(
    engine: Engine, defn: Definition, services: list[str]
) -> dict[str, datetime]:
    """Each service's latest counted deployment between 1970 and 2100, whatever the period."""
    if not services:
        return {}
    d = r.Tables.of(engine.tables).deployments
    earliest, latest = EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)
    rows = engine.rows(
        d.filter(
            r.counted(defn, d),
            d.service.isin(services),
            d.finished_at >= earliest,
            d.finished_at < latest,
        )
        .group_by("service")
        .aggregate(latest=d.finished_at.max())
    )
    return {row["service"]: _naive(row["latest"]) for row in rows if row["latest"] is not None}
