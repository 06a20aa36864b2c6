"""Which deployments failed and why, under a definition: the evidence each failure rule
finds (incidents blamed on a deployment, rollbacks, hotfixes, reverts, failed statuses), the
repairs that make up rework, and which deployment each incident is blamed on.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    DateTime,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    null,
    or_,
    select,
    union,
    union_all,
)

from headway.definitions import Definition
from headway.metrics.queries.rules import (
    Col,
    Query,
    epoch,
    good_deployments,
    lit,
    names_in,
    since,
)
from headway.store.schema import changes, deployments, incidents

__all__ = [
    "Near",
    "attributed",
    "evidence",
    "failures",
    "in_period",
    "nearest",
    "reverted_shipments",
    "rework",
]

#: A condition on a deployment's or an incident's (service, time) that narrows the walk
#: blaming incidents on deployments to the records near the deployments a statement reads.
#: It must keep, for each service it keeps, every record from some instant on (services in
#: a list, times from a floor): the walk is per service and looks back only to the latest
#: deployment, so every kept deployment is blamed for exactly the incidents the whole
#: store's walk blames on it. Incidents blamed on a deployment it drops come out blamed on
#: none, so only a statement that reads kept deployments alone may pass one.
Near = Callable[[Col, Col], Col]


def in_period(count: int) -> Near:
    """The blame only around a period's deployments of the bound services: those services'
    records from the bound period's start (`since`) on, as the metrics and lists read them."""
    return lambda service, t: and_(t >= since(), names_in(service, count))


def evidence(defn: Definition, *, fixer: bool = False, near: Near | None = None) -> Query:
    """One row per reason a deployment failed: (deployment_id, reason, evidence, fixed_at),
    and fixed_by when `fixer` is set; the incidents' blame only `near` (see `Near`) the
    deployments the caller reads, when given.

    `fixed_at` is when that piece of evidence says service was restored, and `fixed_by` the
    record that restored it: the incident resolved, the rollback or hotfix finishing, the
    deployment shipping the revert, the next successful deployment after a failed status.
    Only the records list reads `fixed_by`; the metrics leave it out, so their statements
    carry no lookup they do not use.
    """
    rules = set(defn.failure.rules)
    parts: list[Query] = []

    def by(record: Col) -> list[Col]:
        return [record.label("fixed_by")] if fixer else []

    if "incident" in rules:
        i = attributed(defn, near).subquery("i")
        parts.append(
            select(
                i.c.deployment_id.label("deployment_id"),
                lit("incident").label("reason"),
                i.c.id.label("evidence"),
                i.c.resolved_at.label("fixed_at"),
                *by(case((i.c.resolved_at.is_not(None), i.c.id), else_=null())),
            ).where(i.c.deployment_id.is_not(None))
        )
    for rule in ("rollback", "hotfix", "rollout_rollback"):
        if rule in rules:
            r = deployments.alias("r")
            condition = (
                and_(r.c.kind == lit("rollback"), r.c.trigger == lit("rollout"))
                if rule == "rollout_rollback"
                else r.c.kind == lit(rule)
            )
            parts.append(
                select(
                    r.c.recovers_id.label("deployment_id"),
                    lit(rule).label("reason"),
                    r.c.id.label("evidence"),
                    r.c.finished_at.label("fixed_at"),
                    *by(r.c.id),
                ).where(condition, r.c.status == lit("success"), r.c.recovers_id.is_not(None))
            )
    if "revert" in rules:
        rs = reverted_shipments().subquery("rs")
        window_s = defn.failure.revert_window_days * 86400.0
        parts.append(
            select(
                rs.c.shipped.label("deployment_id"),
                lit("revert").label("reason"),
                rs.c.revert.label("evidence"),
                rs.c.fixed_at,
                *by(rs.c.fix),
            ).where(epoch(rs.c.reverted_at) - epoch(rs.c.shipped_at) <= lit(window_s))
        )
    if "failed_status" in rules:
        f, n = deployments.alias("f"), deployments.alias("n")
        after = (
            n.c.service == f.c.service,
            n.c.environment == f.c.environment,
            n.c.status == lit("success"),
            n.c.finished_at > f.c.finished_at,
        )
        next_good = select(func.min(n.c.finished_at)).where(*after).scalar_subquery()
        next_id = (
            select(n.c.id)
            .where(*after)
            .order_by(n.c.finished_at, n.c.id)
            .limit(lit(1))
            .scalar_subquery()
        )
        parts.append(
            select(
                f.c.id.label("deployment_id"),
                lit("failed_status").label("reason"),
                f.c.id.label("evidence"),
                next_good.label("fixed_at"),
                *by(next_id),
            ).where(f.c.status == lit("failure"))
        )
    if not parts:
        return select(
            cast(null(), Text).label("deployment_id"),
            cast(null(), Text).label("reason"),
            cast(null(), Text).label("evidence"),
            cast(null(), DateTime).label("fixed_at"),
            *by(cast(null(), Text)),
        ).where(false())
    return parts[0] if len(parts) == 1 else union_all(*parts)  # type: ignore[return-value]


def failures(defn: Definition, near: Near | None = None) -> Query:
    """Per failed deployment: its first reason, evidence count and first fix (exact for the
    deployments `near` keeps, when given)."""
    ev = evidence(defn, near=near).subquery("ev")
    return select(
        ev.c.deployment_id,
        func.min(ev.c.reason).label("reason"),
        func.count().label("evidence_count"),
        func.min(ev.c.fixed_at).label("first_fix"),
    ).group_by(ev.c.deployment_id)


def reverted_shipments() -> Query:
    """One row per revert that undid a change a deployment shipped without that revert:
    (revert, reverted_at, shipped, shipped_at, fix, fixed_at, fix_service).

    `shipped` is the deployment that shipped the reverted change, `fix` the one shipping the
    revert (NULL while none does). A deployment shipping a change together with its revert,
    or after the revert already shipped, put nothing broken in front of users, so it is left
    out; so is reverting a revert, which re-lands the change rather than repairing anything.
    """
    rv, c = changes.alias("rv"), changes.alias("c")
    cd, rd = deployments.alias("cd"), deployments.alias("rd")
    return (
        select(
            rv.c.id.label("revert"),
            rv.c.merged_at.label("reverted_at"),
            cd.c.id.label("shipped"),
            cd.c.finished_at.label("shipped_at"),
            rd.c.id.label("fix"),
            rd.c.finished_at.label("fixed_at"),
            rd.c.service.label("fix_service"),
        )
        .select_from(
            rv.join(c, c.c.id == rv.c.reverts)
            .join(cd, cd.c.id == c.c.deployment_id)
            .outerjoin(rd, rd.c.id == rv.c.deployment_id)
        )
        .where(
            rv.c.reverts.is_not(None),
            rv.c.merged_at.is_not(None),
            c.c.reverts.is_(None),
            or_(rd.c.id.is_(None), rd.c.finished_at > cd.c.finished_at),
        )
    )


def rework(near: Near | None = None) -> Query:
    """The ids (column `id`, each once) of deployments that exist to repair production: a
    rollback or hotfix of a failed deployment, or a deployment that ships the revert of a
    change an earlier deployment shipped. With `near`, only the repairs among the
    deployments it keeps (`Near`)."""
    rs = reverted_shipments().subquery("rs")
    d = deployments
    return union(  # type: ignore[return-value]
        select(d.c.id).where(
            d.c.recovers_id.is_not(None),
            *([] if near is None else [near(d.c.service, d.c.finished_at)]),
        ),
        select(rs.c.fix).where(
            rs.c.fix.is_not(None),
            *([] if near is None else [near(rs.c.fix_service, rs.c.fixed_at)]),
        ),
    )


def nearest(events: Query, candidates: Query, *, after: bool) -> Query:
    """For each event (id, service, t), the deployment (id, service, t) nearest in time on
    one side: columns event_id, event_t, dep_t, deployment_id. No `t` may be NULL.

    The timeline walk the stored links use (`headway.linking`): events and deployments are
    merged into one timeline per service, walked backwards (the next deployment at or after
    each event) or forwards (the last one at or before it), and each event carries the
    time of the last deployment the walk passed: one sort, whatever the planner guesses
    about row counts. The deployment itself is then found by an equal join on (service,
    that time), not by a range. On a tie the deployment sorts first: an incident opened at
    the instant a deployment finishes is blamed on it. Deployments of one service at the
    same instant are one point of the timeline, the one with the smallest id standing for
    them.
    """
    e, d = events.subquery("e"), candidates.subquery("d")
    timeline = union_all(
        select(e.c.id.label("event_id"), e.c.service, e.c.t, lit(1).label("o")),
        select(null(), d.c.service, d.c.t, lit(0)),
    ).cte("timeline")
    walk = [timeline.c.t.desc(), timeline.c.o] if after else [timeline.c.t, timeline.c.o]
    passed = (func.min if after else func.max)(case((timeline.c.o == lit(0), timeline.c.t)))
    carried = select(
        timeline.c.event_id,
        timeline.c.service,
        timeline.c.t.label("event_t"),
        passed.over(partition_by=timeline.c.service, order_by=walk, rows=(None, 0)).label("dep_t"),
    ).cte("carried")
    # the two steps as one WITH inside the statement, so a query may hold several walks
    return (
        select(
            carried.c.event_id,
            carried.c.event_t,
            carried.c.dep_t,
            func.min(d.c.id).label("deployment_id"),
        )
        .select_from(
            carried.join(d, and_(d.c.service == carried.c.service, d.c.t == carried.c.dep_t))
        )
        .where(carried.c.event_id.is_not(None))
        .group_by(carried.c.event_id, carried.c.event_t, carried.c.dep_t)
        .add_cte(timeline, carried, nest_here=True)
    )


def attributed(defn: Definition, near: Near | None = None) -> Query:
    """Every incident with the deployment the definition blames it on (NULL: none):
    columns id, service, opened_at, resolved_at, deployment_id, cause_t (when the blamed
    deployment finished).

    Computed from the definition, not read from the stored link, so two definitions can be
    compared on one store; the preceding deployment is found by the same timeline walk the
    stored link uses (two sorts, whatever the row counts). With `near`, the walk reads only
    the records it keeps, and only the blame of the deployments it keeps is whole."""
    rules = defn.attribution

    def kept(service: Col, t: Col) -> list[Col]:
        return [] if near is None else [near(service, t)]

    ni, n = incidents.alias("i"), deployments.alias("n")
    named = (
        select(ni.c.id, n.c.id.label("deployment_id"), n.c.finished_at.label("cause_t"))
        .select_from(ni.join(n, n.c.id == ni.c.cause_ref))
        .where(*kept(n.c.service, n.c.finished_at))
    )
    blamed: Query
    if rules.rule == "named":
        blamed = named
    else:
        events = select(
            incidents.c.id, incidents.c.service, incidents.c.opened_at.label("t")
        ).where(*kept(incidents.c.service, incidents.c.opened_at))
        if rules.rule == "named_or_window":
            # a named cause that is not stored blames nothing, as the stored link does
            events = events.where(incidents.c.cause_ref.is_(None))
        candidates = select(
            deployments.c.id, deployments.c.service, deployments.c.finished_at.label("t")
        ).where(
            good_deployments(defn, deployments),
            *kept(deployments.c.service, deployments.c.finished_at),
        )
        walked = nearest(events, candidates, after=False).subquery("n")
        preceding = select(
            walked.c.event_id.label("id"),
            walked.c.deployment_id,
            walked.c.dep_t.label("cause_t"),
        )
        if rules.rule == "named_or_window":
            preceding = preceding.where(
                epoch(walked.c.event_t) - epoch(walked.c.dep_t) <= lit(rules.window_hours * 3600.0)
            )
        blamed = (
            preceding if rules.rule == "latest_before" else union_all(named, preceding)  # type: ignore[assignment]
        )
    i, b = incidents.alias("i"), blamed.subquery("b")
    return select(
        i.c.id,
        i.c.service,
        i.c.opened_at,
        i.c.resolved_at,
        b.c.deployment_id,
        b.c.cause_t,
    ).select_from(i.outerjoin(b, b.c.id == i.c.id))


def blamed_incidents(defn: Definition) -> Query:
    """Every incident's own columns with the deployment `defn` blames it on and how:
    `attribution` is `named` (the incident names it, under a rule that reads names),
    `window` (the walk back to the latest deployment) or NULL (none blamed)."""
    i = incidents
    a = attributed(defn).subquery("a")
    # (the latest deployment before an incident may be the one it names: under a rule that
    # reads no names, the walk back is still what blamed it)
    named = (
        []
        if defn.attribution.rule == "latest_before"
        else [(a.c.deployment_id == i.c.cause_ref, lit("named"))]
    )
    attribution = case((a.c.deployment_id.is_(None), null()), *named, else_=lit("window"))
    return select(
        i.c.id,
        i.c.service,
        i.c.title,
        i.c.severity,
        i.c.opened_at,
        i.c.acknowledged_at,
        i.c.resolved_at,
        a.c.deployment_id,
        attribution.label("attribution"),
        i.c.labels,
        i.c.url,
    ).select_from(i.join(a, a.c.id == i.c.id))
