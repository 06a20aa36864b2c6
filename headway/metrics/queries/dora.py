"""The statements behind the five DORA metrics, each grouped by scope key and time bucket in
the database: deployments (frequency, change fail rate, rework, and usually recovery),
changes (lead time), recoveries, and the deployment days around a period.

Each is built once per shape (definition, number of services, bucket, grouping) and kept, so
a store compiles it once (tens of milliseconds for the deployments' statement) and every
later request only binds its period and services.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import DOUBLE_PRECISION, Date, FromClause, case, cast, func, null, select

from headway.definitions import Definition
from headway.metrics.queries import failure
from headway.metrics.queries import rules as r
from headway.metrics.queries.rules import Query
from headway.store import Store
from headway.store.schema import changes, deployments, services

Row = tuple[Any, ...]
# Shapes kept per statement: definitions × scope sizes × buckets × groupings in use.
KEEP = 256


class KeyRows(NamedTuple):
    """The rows the five keys are computed from, each starting (group, bucket):
    `deployments` (count, days, failed, unrecovered, rework), `lead` and `recovery`
    (count, median, p75, p90, mean, spans left out as negative)."""

    deployments: list[Row]
    lead: list[Row]
    recovery: list[Row]


def key_rows(
    store: Store,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    by: str | None,
    group: str,
) -> KeyRows:
    """Run the three metric queries over the deployments of `names` in [since, until)."""
    values = {"since": since, "until": until, **r.named(names)}
    dep_rows = store.rows(_deployments(defn, len(names), by, group), **values)
    lead_rows = store.rows(_lead(defn, len(names), by, group), **values)
    if _inline_recovery(defn):
        rec_rows = [(row[0], row[1], *row[7:]) for row in dep_rows]
    else:
        rec_rows = store.rows(_recoveries(defn, len(names), by, group), **values)
    return KeyRows([row[:7] for row in dep_rows], lead_rows, rec_rows)


def deploy_days(
    store: Store,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    group: str,
) -> list[Row]:
    """(group, day) for every day a counted deployment of `names` finished in [since, until)."""
    statement = _days(defn, len(names), group)
    return store.rows(statement, since=since, until=until, **r.named(names))


def _inline_recovery(defn: Definition) -> bool:
    """Whether recovery is measured in the deployments' pass: the usual failed deployment →
    first fix rule."""
    return defn.recovery.start == "failed_deployment" and defn.recovery.end == "first_fix"


def _summarised(defn: Definition, rows: FromClause, *counts: Any) -> Query:
    """grp, bkt, the `counts`, the durations of column x and the negatives left out."""
    return select(
        rows.c.grp, rows.c.bkt, *counts, *r.durations(defn, rows.c.x), func.sum(rows.c.neg)
    ).group_by(rows.c.grp, rows.c.bkt)


@lru_cache(maxsize=KEEP)
def _deployments(defn: Definition, count: int, by: str | None, group: str) -> Query:
    d, s = deployments.alias("d"), services.alias("s")
    fail = failure.failures(defn).cte("fail")
    rework = failure.rework().cte("rw")
    distinct_rework = select(rework.c.id).distinct().subquery("rwd")
    f = fail.alias("f")
    # One pass over deployments gives frequency, failures, rework and (for the usual
    # failed-deployment → first-fix rule) the recovery durations, which are NULL, and so
    # ignored by the aggregates, for deployments that did not fail.
    recovery_x, recovery_neg = (
        (
            r.span(defn, defn.recovery.rounding, d.c.finished_at, f.c.first_fix),
            r.negatives(defn, d.c.finished_at, f.c.first_fix),
        )
        if _inline_recovery(defn)
        else (cast(null(), DOUBLE_PRECISION), r.lit(0))
    )
    failed = f.c.deployment_id.is_not(None)
    per_deployment = (
        select(
            r.group_key(group, d, s).label("grp"),
            r.bucket(by, d.c.finished_at).label("bkt"),
            cast(d.c.finished_at, Date).label("day"),
            case((failed, r.lit(1)), else_=r.lit(0)).label("failed"),
            case((failed & f.c.first_fix.is_(None), r.lit(1)), else_=r.lit(0)).label("unrecovered"),
            case((distinct_rework.c.id.is_not(None), r.lit(1)), else_=r.lit(0)).label("rework"),
            recovery_x.label("x"),
            recovery_neg.label("neg"),
        )
        .select_from(
            d.outerjoin(s, s.c.name == d.c.service)
            .outerjoin(f, f.c.deployment_id == d.c.id)
            .outerjoin(distinct_rework, distinct_rework.c.id == d.c.id)
        )
        .where(*scoped(defn, d, count))
        .subquery("t")
    )
    return _summarised(
        defn,
        per_deployment,
        func.count(),
        func.count(per_deployment.c.day.distinct()),
        func.sum(per_deployment.c.failed),
        func.sum(per_deployment.c.unrecovered),
        func.sum(per_deployment.c.rework),
    )


def scoped(defn: Definition, d: FromClause, count: int) -> tuple[Any, ...]:
    """Counted deployments (`d`) of the bound services that finished in the bound period."""
    return (
        r.counted(defn, d),
        r.in_window(defn, d.c.finished_at, r.since(), r.until()),
        r.names_in(d.c.service, count),
    )


@lru_cache(maxsize=KEEP)
def _lead(defn: Definition, count: int, by: str | None, group: str) -> Query:
    c, d, s = changes.alias("c"), deployments.alias("d"), services.alias("s")
    counted, *in_scope = scoped(defn, d, count)
    per_change = (
        select(
            r.group_key(group, d, s).label("grp"),
            r.bucket(by, d.c.finished_at).label("bkt"),
            r.lead_time(defn, c, d).label("x"),
            r.lead_negative(defn, c, d).label("neg"),
        )
        .select_from(c.join(d, d.c.id == c.c.deployment_id).outerjoin(s, s.c.name == d.c.service))
        .where(counted, r.ships(defn, d), r.lead_changes(defn, c), *in_scope)
        .subquery("t")
    )
    return _summarised(defn, per_change)


@lru_cache(maxsize=KEEP)
def _recoveries(defn: Definition, count: int, by: str | None, group: str) -> Query:
    rec = defn.recovery
    s = services.alias("s")
    if rec.start in ("incident_opened", "incident_opened_or_cause"):
        i = failure.attributed(defn).subquery("d")
        start = (
            case((i.c.cause_t < i.c.opened_at, i.c.cause_t), else_=i.c.opened_at)
            if rec.start == "incident_opened_or_cause"
            else i.c.opened_at
        )
        attributed = [i.c.deployment_id.is_not(None)] if rec.incidents == "attributed" else []
        per_incident = (
            select(
                r.group_key(group, i, s).label("grp"),
                r.bucket(by, i.c.opened_at).label("bkt"),
                r.span(defn, rec.rounding, start, i.c.resolved_at).label("x"),
                r.negatives(defn, start, i.c.resolved_at).label("neg"),
            )
            .select_from(i.outerjoin(s, s.c.name == i.c.service))
            .where(
                i.c.resolved_at.is_not(None),
                *attributed,
                *_resolved_in_window(defn, i.c.resolved_at),
                r.in_window(defn, i.c.opened_at, r.since(), r.until()),
                r.names_in(i.c.service, count),
            )
            .subquery("t")
        )
        return _summarised(defn, per_incident)
    # failed deployment → each attributed incident's resolution (the first-fix rule is
    # computed in the deployments pass)
    blamed = failure.attributed(defn).subquery("i")
    fixes = (
        select(blamed.c.deployment_id, blamed.c.resolved_at.label("fixed_at"))
        .where(blamed.c.deployment_id.is_not(None), blamed.c.resolved_at.is_not(None))
        .subquery("f")
    )
    d = deployments.alias("d")
    per_fix = (
        select(
            r.group_key(group, d, s).label("grp"),
            r.bucket(by, d.c.finished_at).label("bkt"),
            r.span(defn, rec.rounding, d.c.finished_at, fixes.c.fixed_at).label("x"),
            r.negatives(defn, d.c.finished_at, fixes.c.fixed_at).label("neg"),
        )
        .select_from(
            d.join(fixes, fixes.c.deployment_id == d.c.id).outerjoin(s, s.c.name == d.c.service)
        )
        .where(*scoped(defn, d, count), *_resolved_in_window(defn, fixes.c.fixed_at))
        .subquery("t")
    )
    return _summarised(defn, per_fix)


def _resolved_in_window(defn: Definition, resolved: Any) -> list[Any]:
    """Under `recovery.resolved_in_window`, the incident's resolution inside the period:
    DevLake's dashboard selects `$__timeFilter(i.resolution_date)` as well as the
    deployment's finish."""
    if not defn.recovery.resolved_in_window:
        return []
    return [r.in_window(defn, resolved, r.since(), r.until())]


@lru_cache(maxsize=KEEP)
def _days(defn: Definition, count: int, group: str) -> Query:
    d, s = deployments.alias("d"), services.alias("s")
    return (
        select(r.group_key(group, d, s), cast(d.c.finished_at, Date))
        .distinct()
        .select_from(d.outerjoin(s, s.c.name == d.c.service))
        .where(
            r.counted(defn, d),
            d.c.finished_at >= r.since(),
            d.c.finished_at < r.until(),
            r.names_in(d.c.service, count),
        )
    )
