"""The statements that fetch the records every friction signal is computed from, over a scope
and period: deployments with their failure and friction facts, changes, approvals, incidents
and defects.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import DOUBLE_PRECISION, Subquery, case, cast, exists, func, or_, select

from headway.definitions import Definition
from headway.metrics.queries import failure
from headway.metrics.queries.rules import (
    GATE_KINDS,
    Col,
    Query,
    counted,
    lead_start,
    lit,
    lits,
    named,
    names_in,
    no_team,
    since,
    until,
)
from headway.store import Store
from headway.store.schema import (
    approvals,
    changes,
    defects,
    deployments,
    incidents,
    pipeline_runs,
    services,
)

# Changes users cannot see: chores, docs, CI, dependency bumps and version bumps.
NOT_USER_VISIBLE = ("chore", "docs", "ci", "dependencies", "build")

Rows = list[dict[str, Any]]


def _lines(additions: Col, deletions: Col) -> Col:
    """Lines a change touched, as a float so that no two sizes overflow 64 bits when added;
    a negative size (no writer stores one) counts as unknown."""
    parts = [
        func.coalesce(case((c >= lit(0), cast(c, DOUBLE_PRECISION))), lit(0))
        for c in (additions, deletions)
    ]
    return parts[0] + parts[1]


def _invisible() -> Col:
    """A change users cannot see, by its labels or title."""
    c = changes
    return or_(
        *[c.c.labels.like(lit(f'%"{label}"%')) for label in NOT_USER_VISIBLE],
        c.c.title.like(lit("Bump %")),
    )


def _per_deployment() -> Subquery:
    """Per deployment: changes shipped, lines, and the visible ones."""
    c = changes
    lines = _lines(c.c.additions, c.c.deletions)
    invisible = _invisible()
    return (
        select(
            c.c.deployment_id,
            func.count().label("n"),
            func.sum(lines).label("lines"),
            func.sum(case((invisible, lit(0)), else_=lit(1))).label("visible"),
            func.sum(case((invisible, lit(0)), else_=lines)).label("visible_lines"),
        )
        .where(c.c.deployment_id.is_not(None))
        .group_by(c.c.deployment_id)
        .subquery("cs")
    )


# Each statement is built once per definition and number of services, and kept (see
# `queries.dora`); the period and the services are bound.
KEEP = 128


def _bound(names: list[str], start: datetime, end: datetime) -> dict[str, Any]:
    return {"since": start, "until": end, **named(names)}


def deployment_rows(
    store: Store, defn: Definition, names: list[str], start: datetime, end: datetime
) -> Rows:
    """Counted deployments of `names` finished in [start, end), in time order, with their
    failure reason, rework, changes, lines, pipeline runs, gates and repeated version."""
    return store.dicts(_deployments(defn, len(names)), **_bound(names, start, end))


@lru_cache(maxsize=KEEP)
def _deployments(defn: Definition, count: int) -> Query:
    d, s, e = deployments.alias("d"), services.alias("s"), deployments.alias("e")
    fail = failure.failures(defn).cte("fail")
    rework = failure.rework().subquery("r")
    rw = select(rework.c.id).distinct().cte("rw")
    f = fail.alias("f")
    cs = _per_deployment()
    pr = (
        select(
            pipeline_runs.c.deployment_ref,
            func.count().label("runs"),
            func.sum(
                case((pipeline_runs.c.conclusion == lit("failure"), lit(1)), else_=lit(0))
            ).label("failed_runs"),
        )
        .where(pipeline_runs.c.deployment_ref.is_not(None))
        .group_by(pipeline_runs.c.deployment_ref)
        .subquery("pr")
    )
    dg = (
        select(approvals.c.deployment_ref, func.count().label("n"))
        .where(approvals.c.kind.in_(lits(GATE_KINDS)), approvals.c.deployment_ref.is_not(None))
        .group_by(approvals.c.deployment_ref)
        .subquery("dg")
    )
    a, c = approvals.alias("a"), changes.alias("c")
    cg = (
        select(c.c.deployment_id, func.count().label("n"))
        .select_from(a.join(c, c.c.id == a.c.change_ref))
        .where(a.c.kind.in_(lits(GATE_KINDS)))
        .group_by(c.c.deployment_id)
        .subquery("cg")
    )
    repeated = exists(
        select(lit(1))
        .select_from(e)
        .where(
            e.c.service == d.c.service,
            e.c.environment == d.c.environment,
            e.c.version == d.c.version,
            e.c.finished_at < d.c.finished_at,
        )
    )
    return (
        select(
            d.c.id,
            d.c.service,
            no_team(s).label("team"),
            d.c.kind,
            d.c.started_at,
            d.c.finished_at,
            d.c.trigger.label("trig"),
            f.c.reason.label("failure_reason"),
            case((rw.c.id.is_not(None), lit(1)), else_=lit(0)).label("rework"),
            func.coalesce(cs.c.n, lit(0)).label("changes"),
            func.coalesce(cs.c.lines, lit(0)).label("lines"),
            func.coalesce(pr.c.runs, lit(0)).label("runs"),
            func.coalesce(pr.c.failed_runs, lit(0)).label("failed_runs"),
            (func.coalesce(dg.c.n, lit(0)) + func.coalesce(cg.c.n, lit(0))).label("gates"),
            func.coalesce(cs.c.visible, lit(0)).label("visible"),
            func.coalesce(cs.c.visible_lines, lit(0)).label("visible_lines"),
            case((d.c.version.is_not(None) & repeated, lit(1)), else_=lit(0)).label(
                "repeat_version"
            ),
        )
        .select_from(
            d.outerjoin(s, s.c.name == d.c.service)
            .outerjoin(f, f.c.deployment_id == d.c.id)
            .outerjoin(rw, rw.c.id == d.c.id)
            .outerjoin(cs, cs.c.deployment_id == d.c.id)
            .outerjoin(pr, pr.c.deployment_ref == d.c.id)
            .outerjoin(dg, dg.c.deployment_ref == d.c.id)
            .outerjoin(cg, cg.c.deployment_id == d.c.id)
        )
        .where(
            counted(defn, d),
            d.c.finished_at >= since(),
            d.c.finished_at < until(),
            names_in(d.c.service, count),
        )
        .order_by(d.c.finished_at, d.c.id)
    )


def change_rows(
    store: Store, defn: Definition, names: list[str], start: datetime, end: datetime
) -> Rows:
    """Changes shipped by the counted deployments of `names` finished in [start, end), with
    their lead-time start, lines, whether their deployment failed and whether they were
    reverted."""
    return store.dicts(_changes(defn, len(names)), **_bound(names, start, end))


@lru_cache(maxsize=KEEP)
def _changes(defn: Definition, count: int) -> Query:
    c, d, later = changes.alias("c"), deployments.alias("d"), changes.alias("r")
    fail = failure.failures(defn).cte("fail")
    f = fail.alias("f")
    reverted = exists(select(lit(1)).select_from(later).where(later.c.reverts == c.c.id))
    return (
        select(
            c.c.id,
            c.c.service,
            c.c.author,
            c.c.title,
            c.c.labels,
            d.c.id.label("deployment_id"),
            d.c.finished_at,
            lead_start(defn, c).label("lead_start"),
            _lines(c.c.additions, c.c.deletions).label("lines"),
            c.c.is_revert,
            case((f.c.deployment_id.is_not(None), lit(1)), else_=lit(0)).label("failed"),
            case((reverted, lit(1)), else_=lit(0)).label("reverted"),
        )
        .select_from(
            c.join(d, d.c.id == c.c.deployment_id).outerjoin(f, f.c.deployment_id == d.c.id)
        )
        .where(
            counted(defn, d),
            d.c.finished_at >= since(),
            d.c.finished_at < until(),
            names_in(d.c.service, count),
        )
        .order_by(d.c.finished_at, c.c.id)
    )


def approval_rows(store: Store, names: list[str], start: datetime, end: datetime) -> Rows:
    """Approvals of `names` decided in [start, end), with the service of their change or
    deployment when they name none."""
    return store.dicts(_approvals(len(names)), **_bound(names, start, end))


@lru_cache(maxsize=KEEP)
def _approvals(count: int) -> Query:
    a, c, d = approvals.alias("a"), changes.alias("c"), deployments.alias("d")
    service = func.coalesce(a.c.service, c.c.service, d.c.service)
    return (
        select(
            a.c.id,
            a.c.kind,
            a.c.requested_at,
            a.c.decided_at,
            a.c.decision,
            a.c.deployment_ref,
            service.label("service"),
        )
        .select_from(
            a.outerjoin(c, c.c.id == a.c.change_ref).outerjoin(d, d.c.id == a.c.deployment_ref)
        )
        .where(a.c.decided_at >= since(), a.c.decided_at < until(), names_in(service, count))
        .order_by(a.c.decided_at, a.c.id)
    )


def incident_rows(
    store: Store, defn: Definition, names: list[str], start: datetime, end: datetime
) -> Rows:
    """Incidents of `names` opened in [start, end), blamed as the metrics blame them."""
    return store.dicts(_incidents(defn, len(names)), **_bound(names, start, end))


@lru_cache(maxsize=KEEP)
def _incidents(defn: Definition, count: int) -> Query:
    i = failure.blamed_incidents(defn).subquery("i")
    return (
        select(
            i.c.id,
            i.c.service,
            i.c.opened_at,
            i.c.resolved_at,
            i.c.severity,
            i.c.title,
            i.c.labels,
            i.c.attribution,
            i.c.deployment_id,
        )
        .where(i.c.opened_at >= since(), i.c.opened_at < until(), names_in(i.c.service, count))
        .order_by(i.c.opened_at, i.c.id)
    )


def ever_recorded(store: Store, names: list[str]) -> tuple[bool, bool]:
    """Whether any defect, and any incident, was ever recorded for `names`, at any time: a
    scope with none has no source for them, and its zero is missing data, not a count."""
    [(has_defects, has_incidents)] = store.rows(_ever(len(names)), **named(names))
    return bool(has_defects), bool(has_incidents)


@lru_cache(maxsize=KEEP)
def _ever(count: int) -> Query:
    return select(
        exists().where(names_in(defects.c.service, count)),
        exists().where(names_in(incidents.c.service, count)),
    )


def defect_rows(store: Store, names: list[str], start: datetime, end: datetime) -> Rows:
    """Escaped defects of `names` found in [start, end)."""
    return store.dicts(_defects(len(names)), **_bound(names, start, end))


@lru_cache(maxsize=KEEP)
def _defects(count: int) -> Query:
    x = defects
    return (
        select(x.c.id, x.c.service, x.c.found_at, x.c.severity, x.c.change_ref, x.c.deployment_ref)
        .where(x.c.found_at >= since(), x.c.found_at < until(), names_in(x.c.service, count))
        .order_by(x.c.found_at, x.c.id)
    )
