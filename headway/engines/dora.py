"""The five DORA figures, one Ibis expression each, on whichever engine is connected.

Each expression is grouped by a scope key (`grp`: the organisation, or each service, team
or context) and, for a trend, a time bucket (`bkt`). The rules come from the definition
exactly as metrics/dora.py applies them, and `tests/engines` holds the two to the same
numbers on DuckDB, PostgreSQL and Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from headway.definitions import Definition
from headway.engines import relations as r
from headway.engines.connect import Engine
from headway.engines.stats import STATS, summarise
from headway.metrics import bands
from headway.metrics.dora import Period, Scope, UnknownScope, weekly_deploy_days

FIGURES = (
    "deployment_frequency",
    "change_lead_time",
    "change_fail_rate",
    "failed_deployment_recovery_time",
    "deployment_rework_rate",
)
_BUCKETS = {"week": "W", "month": "M"}


@dataclass(frozen=True)
class Query:
    """What one computation asks: the rules, the services in scope, the period, the grouping."""

    defn: Definition
    services: tuple[str, ...]
    period: Period
    group: str = "organisation"
    by: str | None = None

    @property
    def keys(self) -> list[str]:
        return ["grp", "bkt"] if self.by else ["grp"]


def _group_key(group: str, service: ir.StringValue, s: ir.Table) -> ir.StringValue:
    if group == "service":
        return service
    if group == "team":
        return s.s_team.fill_null("(no team)")
    if group == "context":
        return s.s_context.fill_null("(no context)")
    return ibis.literal("organisation")


def _with_keys(t: r.Tables, q: Query, rows: ir.Table, service: str, when: str) -> ir.Table:
    """`rows` with the scope key (`grp`) and bucket (`bkt`) of each, from its service and
    the time `when`."""
    s = t.services.select(
        s_name=t.services.name, s_team=t.services.team, s_context=t.services.context
    )
    joined = rows.left_join(s, rows[service] == s.s_name)
    keyed = joined.mutate(grp=_group_key(q.group, joined[service], joined))
    if q.by:
        keyed = keyed.mutate(bkt=keyed[when].truncate(_BUCKETS[q.by]))
    return keyed


def counted_deployments(t: r.Tables, q: Query) -> ir.Table:
    """The deployments the definition counts, finished in the period, in scope, with keys."""
    d = t.deployments
    inside = d.filter(
        r.counted(q.defn, d),
        r.in_window(q.defn, d.finished_at, q.period.since, q.period.until),
        d.service.isin(list(q.services)),
    )
    inside = inside.select("id", "service", "started_at", "finished_at")
    return _with_keys(t, q, inside, "service", "finished_at")


def deployment_frequency(t: r.Tables, q: Query) -> ir.Table:
    """Deployments and the days with at least one, per key."""
    d = counted_deployments(t, q)
    return d.group_by(q.keys).aggregate(
        deployments=d.count(), deploy_days=d.finished_at.date().nunique()
    )


def deployment_days(t: r.Tables, q: Query) -> ir.Table:
    """Each day with a counted deployment, a day either side of the period included (the
    weekly median picks its own days from them), per scope key."""
    d = t.deployments
    since, until = _a_day_around(q.period)
    near = d.filter(
        r.counted(q.defn, d),
        d.finished_at >= since,
        d.finished_at < until,
        d.service.isin(list(q.services)),
    )
    keyed = _with_keys(t, q, near, "service", "finished_at")
    return keyed.select(grp=keyed.grp, day=keyed.finished_at.date()).distinct()


def change_fail_rate(t: r.Tables, q: Query) -> ir.Table:
    """Deployments, those that failed, and those failed and not yet recovered, per key."""
    d = counted_deployments(t, q)
    failed = r.failures(q.defn, t)
    if failed is None:
        return d.group_by(q.keys).aggregate(
            deployments=d.count(), failed=ibis.literal(0), unrecovered=ibis.literal(0)
        )
    joined = d.left_join(failed, d.id == failed.failed_id)
    is_failed = joined.failed_id.notnull()
    return joined.group_by(q.keys).aggregate(
        deployments=joined.count(),
        failed=ibis.cases((is_failed, 1), else_=0).sum(),
        unrecovered=ibis.cases((is_failed & joined.first_fix.isnull(), 1), else_=0).sum(),
    )


def deployment_rework_rate(t: r.Tables, q: Query) -> ir.Table:
    """Deployments, and those that exist to repair production, per key."""
    d = counted_deployments(t, q)
    repairs = r.rework(t)
    joined = d.left_join(repairs, d.id == repairs.rework_id)
    return joined.group_by(q.keys).aggregate(
        deployments=joined.count(),
        rework=ibis.cases((joined.rework_id.notnull(), 1), else_=0).sum(),
    )


def change_lead_time(t: r.Tables, q: Query) -> ir.Table:
    """The distribution of lead times of the changes counted deployments shipped, per key."""
    d = counted_deployments(t, q)
    d = d.select(
        *q.keys,
        dep_id=d.id,
        deployed=d.finished_at,
        dep_service=d.service,
        dep_t=ibis.coalesce(d.started_at, d.finished_at),
    )
    c = t.changes
    c = c.filter(r.lead_changes(q.defn, c))
    joined = c.join(d, c.deployment_id == d.dep_id)
    starts = r.shipping_starts(q.defn, t)
    if starts is not None:
        joined = joined.join(starts, joined.dep_service == starts.first_service)
        joined = joined.filter(joined.dep_t > joined.first_t)
    rows = joined.select(
        *q.keys,
        x=r.lead_time(q.defn, joined, joined.deployed),
        neg=r.lead_negative(q.defn, joined, joined.deployed),
    )
    return summarise(q.defn, rows, q.keys, "x", "neg")


def failed_deployment_recovery_time(t: r.Tables, q: Query) -> ir.Table:
    """The distribution of recovery times under the definition's recovery rule, per key."""
    rec, defn = q.defn.recovery, q.defn
    if rec.start in ("incident_opened", "incident_opened_or_cause"):
        a = r.attributed(defn, t)
        a = a.filter(
            a.resolved_at.notnull(),
            r.in_window(defn, a.opened_at, q.period.since, q.period.until),
            a.service.isin(list(q.services)),
        )
        if rec.incidents == "attributed":
            a = a.filter(a.deployment_id.notnull())
        start: Any = a.opened_at
        if rec.start == "incident_opened_or_cause":
            start = ibis.cases((a.cause_t < a.opened_at, a.cause_t), else_=a.opened_at)
        a = a.mutate(start_t=start)
        keyed = _with_keys(t, q, a, "service", "opened_at")
        rows = keyed.select(
            *q.keys,
            x=r.span(defn, rec.rounding, keyed.start_t, keyed.resolved_at),
            neg=r.negative_span(defn, keyed.start_t, keyed.resolved_at),
        )
        return summarise(defn, rows, q.keys, "x", "neg")
    d = counted_deployments(t, q)
    if rec.end == "first_fix":
        failed = r.failures(defn, t)
        if failed is None:
            return _no_durations(d, q)
        ends = d.join(failed, d.id == failed.failed_id).mutate(end_t=failed.first_fix)
    else:
        a = r.attributed(defn, t)
        fixes = a.filter(a.deployment_id.notnull() & a.resolved_at.notnull())
        ends = d.join(fixes, d.id == fixes.deployment_id).mutate(end_t=fixes.resolved_at)
    rows = ends.select(
        *q.keys,
        x=r.span(defn, rec.rounding, ends.finished_at, ends.end_t),
        neg=r.negative_span(defn, ends.finished_at, ends.end_t),
    )
    return summarise(defn, rows, q.keys, "x", "neg")


def _no_durations(d: ir.Table, q: Query) -> ir.Table:
    rows = d.select(*q.keys, x=ibis.null().cast("float64"), neg=ibis.literal(0))
    return summarise(q.defn, rows.filter(ibis.literal(False)), q.keys, "x", "neg")


EXPRESSIONS = {
    "deployment_frequency": deployment_frequency,
    "change_lead_time": change_lead_time,
    "change_fail_rate": change_fail_rate,
    "failed_deployment_recovery_time": failed_deployment_recovery_time,
    "deployment_rework_rate": deployment_rework_rate,
}


def _a_day_around(period: Period) -> tuple[Any, Any]:
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


def scope_services(engine: Engine, scope: Scope) -> list[tuple[str, str]]:
    """(service, context) pairs in a scope, as metrics.dora.services_in finds them: the
    services table, and services only deployments name (no team, no context)."""
    t = r.Tables.of(engine.tables)
    s, d = t.services, t.deployments
    listed = engine.rows(
        s.select(name=s.name, team=s.team.fill_null("(no team)"), context=s.context)
    )
    names = {row["name"] for row in listed}
    deployed = engine.rows(d.select(name=d.service).distinct())
    known = listed + [
        {"name": row["name"], "team": "(no team)", "context": "(no context)"}
        for row in deployed
        if row["name"] not in names
    ]
    rows = sorted(known, key=lambda row: row["name"])
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
    """Run the five expressions; the raw numbers per key (a scope key, or with a trend a
    (scope key, bucket start) pair), in the shape metrics.dora gathers them."""
    t = r.Tables.of(engine.tables)
    out: dict[Any, dict[str, Any]] = {}

    def slot(row: dict[str, Any]) -> dict[str, Any]:
        key = (row["grp"], row["bkt"]) if q.by else row["grp"]
        # a trend's buckets have no weekly median; the whole period's has one, maybe of none
        return out.setdefault(key, _empty(days=None if q.by else []))

    if not q.services:
        return out
    for row in engine.rows(deployment_frequency(t, q)):
        slot(row).update(deployments=int(row["deployments"]), deploy_days=int(row["deploy_days"]))
    for row in engine.rows(change_fail_rate(t, q)):
        slot(row).update(failed=int(row["failed"] or 0), unrecovered=int(row["unrecovered"] or 0))
    for row in engine.rows(deployment_rework_rate(t, q)):
        slot(row)["rework"] = int(row["rework"] or 0)
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
    found = figures(engine, q).get("organisation", _empty())
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
    if by not in _BUCKETS:
        raise ValueError(f"by must be week or month, not {by!r}")
    services = scope_services(engine, scope)
    q = Query(defn, tuple(s for s, _ in services), period, by=by)
    found = {(grp, _naive(bkt)): f for (grp, bkt), f in figures(engine, q).items()}
    out = []
    for start in bucket_starts(period, by):
        part = Period(max(start, period.since), min(_next(start, by), period.until))
        numbers = found.get(("organisation", start)) or _empty(days=None)
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
    """A bucket start as UTC wall-clock: Spark's DATE_TRUNC answers a zoned timestamp."""
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
    """The five figures from raw numbers, rounded and levelled as metrics.dora does."""
    deployments = f["deployments"]
    per_day = deployments / period.days if period.days > 0 else 0.0
    cfr = f["failed"] / deployments if deployments else None
    lead, rec = f["lead"], f["recovery"]
    return {
        "deployment_frequency": {
            "deployments": deployments,
            "days": round(period.days, 6),
            "per_day": round(per_day, 6),
            "per_week": round(per_day * 7, 6),
            "deploy_days": f["deploy_days"],
            "deploy_days_per_week_median": (
                None if f["days"] is None else weekly_deploy_days(defn, period, f["days"])
            ),
            "level": bands.deployment_frequency(per_day if deployments else None, year),
        },
        "change_lead_time": {
            "changes": lead["n"],
            **_stats(lead),
            "level": bands.lead_time(lead["median_s"], year),
            **_left_out(lead["negative"], "change", "lead time"),
        },
        "change_fail_rate": {
            "deployments": deployments,
            "failed": f["failed"],
            "rate": _round(cfr),
            "level": bands.change_fail_rate(cfr, year),
        },
        "failed_deployment_recovery_time": {
            "recoveries": rec["n"],
            "unrecovered": f["unrecovered"],
            **_stats(rec),
            "level": bands.recovery_time(rec["median_s"], year),
            **_left_out(rec["negative"], "recovery", "recovery time"),
        },
        "deployment_rework_rate": {
            "deployments": deployments,
            "rework": f["rework"],
            "rate": _round(f["rework"] / deployments if deployments else None),
        },
    }


def _stats(row: dict[str, Any]) -> dict[str, float | None]:
    return {k: _round(row[k], 3) for k in ("median_s", "p75_s", "p90_s", "mean_s")}


def _round(value: Any, digits: int = 6) -> float | None:
    return None if value is None else round(float(value), digits)


def _left_out(n: int, unit: str, label: str) -> dict[str, Any]:
    units = unit if n == 1 else f"{unit[:-1]}ies" if unit.endswith("y") else f"{unit}s"
    verb = "was" if n == 1 else "were"
    note = f"{n} {units} had a negative {label} (end before start) and {verb} left out"
    return {"negative": n, "notes": [note] if n else []}


def _empty(days: list[date] | None = None) -> dict[str, Any]:
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
