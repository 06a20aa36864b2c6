"""The statements behind the five DORA metrics, each grouped by scope key and time bucket in
the database: deployments (frequency, change fail rate, rework, and usually recovery),
changes (lead time), recoveries, and the deployment days around a period.

A statement can answer several shapes (a bucket and a grouping each: the period as a whole,
its weeks, each team) at once, as grouping sets over one pass: a page showing a scope, its
trend and the scopes below it reads the store's failures once, not once per shape.

Each is built once per shape (definition, number of services, bucket, grouping) and kept, so
a store compiles it once (tens of milliseconds for the deployments' statement) and every
later request only binds its period and services.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple

from sqlalchemy import (
    DOUBLE_PRECISION,
    Date,
    FromClause,
    case,
    cast,
    func,
    null,
    select,
    tuple_,
)

from headway.definitions import Definition
from headway.metrics.queries import failure
from headway.metrics.queries import rules as r
from headway.metrics.queries.rules import Query
from headway.store import Store
from headway.store.schema import changes, deployments, services

Row = tuple[Any, ...]
#: What rows are summed over: a bucket (`week`, `month`, None for the whole period) and a
#: grouping (`organisation`, `service`, `team`, `context`).
Shape = tuple[str | None, str]
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
    return shaped_rows(store, defn, names, since, until, ((by, group),))[(by, group)]


def shaped_rows(
    store: Store,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    shapes: tuple[Shape, ...],
) -> dict[Shape, KeyRows]:
    """`key_rows` for each of `shapes` (at most one kind of bucket among them), each
    statement run once for all of them."""
    shapes = tuple(dict.fromkeys(shapes))
    values = {"since": since, "until": until, **r.named(names)}
    dep_rows = _split(shapes, store.rows(_deployments(defn, len(names), shapes), **values))
    lead_rows = _split(shapes, store.rows(_lead(defn, len(names), shapes), **values))
    if _inline_recovery(defn):
        rec_rows = {k: [(row[0], row[1], *row[7:]) for row in v] for k, v in dep_rows.items()}
    else:
        statement = _recoveries(defn, len(names), shapes)
        rec_rows = _split(shapes, store.rows(statement, **values))
    return {
        shape: KeyRows([row[:7] for row in dep_rows[shape]], lead_rows[shape], rec_rows[shape])
        for shape in shapes
    }


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


def _groups(shapes: tuple[Shape, ...]) -> list[str]:
    return list(dict.fromkeys(group for _, group in shapes))


def _keys(shapes: tuple[Shape, ...], d: FromClause, s: FromClause, at: Any) -> list[Any]:
    """The columns a row is summed by, for each of `shapes`: its key under each grouping
    (`g_<grouping>`, from its deployment or incident `d` and service `s`) and the bucket
    `at` falls in (`bkt`, NULL when no shape has one)."""
    buckets = {by for by, _ in shapes if by}
    assert len(buckets) <= 1, "one kind of bucket per statement"
    by = next(iter(buckets), None)
    return [
        *(r.group_key(group, d, s).label(f"g_{group}") for group in _groups(shapes)),
        r.bucket(by, at).label("bkt"),
    ]


def _masks(shapes: tuple[Shape, ...]) -> dict[int, Shape]:
    """Each shape by its `GROUPING(g_…, bkt)` value: a bit set for each key column it does
    not group by, the last column the lowest bit."""
    groups, bucketed = _groups(shapes), any(by for by, _ in shapes)
    if len(shapes) == 1:
        return {0: shapes[0]}
    out = {}
    for by, group in shapes:
        kept = {f"g_{group}", *(["bkt"] if by or not bucketed else [])}
        columns = [f"g_{g}" for g in groups] + ["bkt"]
        out[sum(1 << i for i, c in enumerate(reversed(columns)) if c not in kept)] = (by, group)
    return out


def _split(shapes: tuple[Shape, ...], rows: list[Row]) -> dict[Shape, list[Row]]:
    """A statement's rows (grouping, the keys, the bucket, …) per shape, each as (group key,
    bucket, …)."""
    groups, masks = _groups(shapes), _masks(shapes)
    out: dict[Shape, list[Row]] = {shape: [] for shape in shapes}
    width = len(groups)
    for row in rows:
        by, group = masks[row[0]]
        key = row[1 + groups.index(group)]
        out[(by, group)].append((key, row[1 + width] if by else None, *row[2 + width :]))
    return out


def _summarised(
    defn: Definition, rows: FromClause, shapes: tuple[Shape, ...], *counts: Any
) -> Query:
    """The grouping, each grouping's key, the bucket, the `counts`, the durations of column
    x and the negatives left out, once per shape: one GROUP BY, or grouping sets."""
    keys = [rows.c[f"g_{group}"] for group in _groups(shapes)]
    bucketed = any(by for by, _ in shapes)
    sets = [
        (rows.c[f"g_{group}"], *([rows.c.bkt] if by or not bucketed else []))
        for by, group in shapes
    ]
    statement = select(
        func.grouping(*keys, rows.c.bkt) if len(shapes) > 1 else r.lit(0),
        *keys,
        rows.c.bkt,
        *counts,
        *r.durations(defn, rows.c.x),
        func.sum(rows.c.neg),
    )
    if len(shapes) == 1:
        return statement.group_by(*keys, rows.c.bkt)
    return statement.group_by(func.grouping_sets(*(tuple_(*keys) for keys in sets)))


@lru_cache(maxsize=KEEP)
def _deployments(defn: Definition, count: int, shapes: tuple[Shape, ...]) -> Query:
    d, s = deployments.alias("d"), services.alias("s")
    fail = failure.failures(defn, failure.in_period(count)).cte("fail")
    rework = failure.rework(failure.in_period(count)).cte("rw")
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
            *_keys(shapes, d, s, d.c.finished_at),
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
        shapes,
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
def _lead(defn: Definition, count: int, shapes: tuple[Shape, ...]) -> Query:
    c, d, s = changes.alias("c"), deployments.alias("d"), services.alias("s")
    counted, *in_scope = scoped(defn, d, count)
    per_change = (
        select(
            *_keys(shapes, d, s, d.c.finished_at),
            r.lead_time(defn, c, d).label("x"),
            r.lead_negative(defn, c, d).label("neg"),
        )
        .select_from(c.join(d, d.c.id == c.c.deployment_id).outerjoin(s, s.c.name == d.c.service))
        .where(counted, r.ships(defn, d), r.lead_changes(defn, c), *in_scope)
        .subquery("t")
    )
    return _summarised(defn, per_change, shapes)


@lru_cache(maxsize=KEEP)
def _recoveries(defn: Definition, count: int, shapes: tuple[Shape, ...]) -> Query:
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
                *_keys(shapes, i, s, i.c.opened_at),
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
        return _summarised(defn, per_incident, shapes)
    # failed deployment → each attributed incident's resolution (the first-fix rule is
    # computed in the deployments pass)
    blamed = failure.attributed(defn, failure.in_period(count)).subquery("i")
    fixes = (
        select(blamed.c.deployment_id, blamed.c.resolved_at.label("fixed_at"))
        .where(blamed.c.deployment_id.is_not(None), blamed.c.resolved_at.is_not(None))
        .subquery("f")
    )
    d = deployments.alias("d")
    per_fix = (
        select(
            *_keys(shapes, d, s, d.c.finished_at),
            r.span(defn, rec.rounding, d.c.finished_at, fixes.c.fixed_at).label("x"),
            r.negatives(defn, d.c.finished_at, fixes.c.fixed_at).label("neg"),
        )
        .select_from(
            d.join(fixes, fixes.c.deployment_id == d.c.id).outerjoin(s, s.c.name == d.c.service)
        )
        .where(*scoped(defn, d, count), *_resolved_in_window(defn, fixes.c.fixed_at))
        .subquery("t")
    )
    return _summarised(defn, per_fix, shapes)


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
