"""The five DORA figures, one Ibis expression each, on whichever engine is connected.

Each expression is grouped by a scope key (`grp`: the organisation, or each service, team
or context) and, for a trend, a time bucket (`bkt`). The rules come from the definition
exactly as metrics/dora.py applies them, and `tests/engines` holds the two to the same
numbers on DuckDB, PostgreSQL and Spark.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from headway.definitions import Definition
from headway.engines import relations as r
from headway.engines.stats import summarise
from headway.metrics.dora import Period

FIGURES = (
    "deployment_frequency",
    "change_lead_time",
    "change_fail_rate",
    "failed_deployment_recovery_time",
    "deployment_rework_rate",
)
BUCKETS = {"week": "W", "month": "M"}


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
        keyed = keyed.mutate(bkt=keyed[when].truncate(BUCKETS[q.by]))
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


def deployment_counts(t: r.Tables, q: Query) -> ir.Table:
    """Per key, in one pass over the counted deployments: how many, the days with at least
    one, those that failed, those failed and not yet recovered, and those that exist to
    repair production (deployment frequency, change fail rate and rework rate)."""
    d = counted_deployments(t, q)
    repairs = r.rework(t)
    failed = r.failures(q.defn, t)
    j = d.left_join(repairs, d.id == repairs.rework_id)
    counts: dict[str, Any] = {"failed": ibis.literal(0), "unrecovered": ibis.literal(0)}
    if failed is not None:
        j = j.left_join(failed, j.id == failed.failed_id)
        is_failed = j.failed_id.notnull()
        counts = {
            "failed": ibis.cases((is_failed, 1), else_=0).sum(),
            "unrecovered": ibis.cases((is_failed & j.first_fix.isnull(), 1), else_=0).sum(),
        }
    return j.group_by(q.keys).aggregate(
        deployments=j.count(),
        deploy_days=j.finished_at.date().nunique(),
        rework=ibis.cases((j.rework_id.notnull(), 1), else_=0).sum(),
        **counts,
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
            *_resolved_in_window(q, a.resolved_at),
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
        fixes = a.filter(
            a.deployment_id.notnull(),
            a.resolved_at.notnull(),
            *_resolved_in_window(q, a.resolved_at),
        )
        ends = d.join(fixes, d.id == fixes.deployment_id).mutate(end_t=fixes.resolved_at)
    rows = ends.select(
        *q.keys,
        x=r.span(defn, rec.rounding, ends.finished_at, ends.end_t),
        neg=r.negative_span(defn, ends.finished_at, ends.end_t),
    )
    return summarise(defn, rows, q.keys, "x", "neg")


def _resolved_in_window(q: Query, resolved: Any) -> list[Any]:
    """Under `recovery.resolved_in_window`, the resolution inside the period (DevLake's
    dashboard filters `resolution_date` too)."""
    if not q.defn.recovery.resolved_in_window:
        return []
    return [r.in_window(q.defn, resolved, q.period.since, q.period.until)]


def _no_durations(d: ir.Table, q: Query) -> ir.Table:
    rows = d.select(*q.keys, x=ibis.null().cast("float64"), neg=ibis.literal(0))
    return summarise(q.defn, rows.filter(ibis.literal(False)), q.keys, "x", "neg")


# The queries behind the five figures, as `run.figures` sends them (with `deployment_days`
# for the weekly median of deployment days).
EXPRESSIONS = {
    "deployment_counts": deployment_counts,
    "change_lead_time": change_lead_time,
    "failed_deployment_recovery_time": failed_deployment_recovery_time,
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
