"""The statements behind the five DORA metrics, each grouped by scope key and time bucket in
the database: deployments (frequency, change fail rate, rework, and usually recovery),
changes (lead time), recoveries, and the deployment days around a period.

They depend on the definition, the grouping and the services, so they are built per call;
building and compiling one takes about a millisecond, against tens of milliseconds (small
stores) to seconds (a million deployments) to run it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import DOUBLE_PRECISION, Date, FromClause, case, cast, func, null, select

from headway.definitions import Definition
from headway.metrics.queries import failure
from headway.metrics.queries import rules as r
from headway.metrics.queries.rules import Query
from headway.store import Store
from headway.store.schema import changes, deployments, services

Row = tuple[Any, ...]


class KeyRows(NamedTuple):
    """The rows the five keys are computed from, each starting (group, bucket):
    `deployments` (count, days, failed, unrecovered, rework), `lead` and `recovery`
    (count, median, p75, p90, mean, spans left out as negative)."""

    deployments: list[Row]
    lead: list[Row]
    recovery: list[Row]


def _summarised(defn: Definition, rows: FromClause, *counts: Any) -> Query:
    """grp, bkt, the `counts`, the durations of column x and the negatives left out."""
    return select(
        rows.c.grp, rows.c.bkt, *counts, *r.durations(defn, rows.c.x), func.sum(rows.c.neg)
    ).group_by(rows.c.grp, rows.c.bkt)


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
    d, s = deployments.alias("d"), services.alias("s")
    fail = failure.failures(defn).cte("fail")
    rework = failure.rework().cte("rw")
    distinct_rework = select(rework.c.id).distinct().subquery("rwd")
    f = fail.alias("f")
    # One pass over deployments gives frequency, failures, rework and (for the usual
    # failed-deployment → first-fix rule) the recovery durations, which are NULL, and so
    # ignored by the aggregates, for deployments that did not fail.
    inline_recovery = (
        defn.recovery.start == "failed_deployment" and defn.recovery.end == "first_fix"
    )
    recovery_x, recovery_neg = (
        (
            r.span(defn, defn.recovery.rounding, d.c.finished_at, f.c.first_fix),
            r.negatives(defn, d.c.finished_at, f.c.first_fix),
        )
        if inline_recovery
        else (cast(null(), DOUBLE_PRECISION), r.lit(0))
    )
    failed = f.c.deployment_id.is_not(None)
    scoped = (
        r.counted(defn, d),
        r.in_window(defn, d.c.finished_at, since, until),
        d.c.service.in_(names),
    )
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
        .where(*scoped)
        .subquery("t")
    )
    dep_rows = store.rows(
        _summarised(
            defn,
            per_deployment,
            func.count(),
            func.count(per_deployment.c.day.distinct()),
            func.sum(per_deployment.c.failed),
            func.sum(per_deployment.c.unrecovered),
            func.sum(per_deployment.c.rework),
        )
    )
    c = changes.alias("c")
    per_change = (
        select(
            r.group_key(group, d, s).label("grp"),
            r.bucket(by, d.c.finished_at).label("bkt"),
            r.lead_time(defn, c, d).label("x"),
            r.lead_negative(defn, c, d).label("neg"),
        )
        .select_from(c.join(d, d.c.id == c.c.deployment_id).outerjoin(s, s.c.name == d.c.service))
        .where(r.counted(defn, d), r.ships(defn, d), r.lead_changes(defn, c), *scoped[1:])
        .subquery("t")
    )
    lead_rows = store.rows(_summarised(defn, per_change))
    if inline_recovery:
        rec_rows = [(row[0], row[1], *row[7:]) for row in dep_rows]
    else:
        rec_rows = store.rows(_recoveries(defn, names, since, until, by, group))
    return KeyRows([row[:7] for row in dep_rows], lead_rows, rec_rows)


def _recoveries(
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    by: str | None,
    group: str,
) -> Query:
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
                r.in_window(defn, i.c.opened_at, since, until),
                i.c.service.in_(names),
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
        .where(
            r.counted(defn, d),
            r.in_window(defn, d.c.finished_at, since, until),
            d.c.service.in_(names),
        )
        .subquery("t")
    )
    return _summarised(defn, per_fix)


def deploy_days(
    store: Store,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    group: str,
) -> list[Row]:
    """(group, day) for every day a counted deployment of `names` finished in [since, until)."""
    d, s = deployments.alias("d"), services.alias("s")
    return store.rows(
        select(r.group_key(group, d, s), cast(d.c.finished_at, Date))
        .distinct()
        .select_from(d.outerjoin(s, s.c.name == d.c.service))
        .where(
            r.counted(defn, d),
            d.c.finished_at >= since,
            d.c.finished_at < until,
            d.c.service.in_(names),
        )
    )
