"""The statements behind the flow breakdown: the moments of every shipped change (its stages
are cut from them in Python) and the changes still waiting at an instant.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import DateTime, FromClause, Subquery, and_, bindparam, func, or_, select

from headway.definitions import Definition
from headway.metrics.queries.rules import (
    GATE_KINDS,
    Col,
    Query,
    counted,
    in_window,
    lead_start,
    lit,
    lits,
    named,
    names_in,
    ships,
    since,
    until,
)
from headway.store import Store
from headway.store.schema import approvals, changes, deployments

Row = tuple[Any, ...]
# Statements are kept per definition and number of services (see `queries.dora`).
KEEP = 128


def _gates(ref: str) -> Subquery:
    """Per change (`ref` change_ref) or deployment (deployment_ref): when its gates were
    first requested and last decided."""
    column = approvals.c[ref]
    return (
        select(
            column,
            func.min(approvals.c.requested_at).label("requested"),
            func.max(approvals.c.decided_at).label("decided"),
        )
        .where(approvals.c.kind.in_(lits(GATE_KINDS)), column.is_not(None))
        .group_by(column)
        .subquery("cg" if ref == "change_ref" else "dg")
    )


def _reviewed(defn: Definition, c: FromClause) -> Col:
    """When a change's (`c`) review started under the definition."""
    if defn.flow.review_start != "first_review_by_other":
        return c.c.first_review_at
    # DevLake's first comment by someone other than the pull request's author
    a = approvals.alias("a")
    return (
        select(func.min(a.c.decided_at))
        .where(
            a.c.change_ref == c.c.id,
            a.c.kind == lit("code_review"),
            a.c.actor.is_distinct_from(c.c.author),
        )
        .scalar_subquery()
    )


def shipped_moments(
    store: Store, defn: Definition, names: list[str], start: datetime, end: datetime
) -> list[np.ndarray]:
    """The changes the flow breakdown covers, in time order, as columns (`Store.columns`:
    there may be hundreds of thousands): id, service, deployed, lead start, first commit,
    opened, reviewed, approved, merged, change gate requested, decided, deployment gate
    requested, decided.

    Under `flow.changes = shipped`, every change first shipped by a counted deployment of
    `names` that finished in the period; under `merged`, every change of `names` merged in
    the period, with its shipping deployment's finish (NULL when none has shipped it)."""
    statement = _merged if defn.flow.changes == "merged" else _shipped
    return store.columns(statement(defn, len(names)), since=start, until=end, **named(names))


def _stage_columns(
    defn: Definition, c: FromClause, d: FromClause, cg: FromClause, dg: FromClause, service: Col
) -> list[Col]:
    """A change's stage times: its id and service, when its deployment finished, and each
    stage's start and end, with the change's and the deployment's gates."""
    return [
        c.c.id,
        service,
        d.c.finished_at,
        lead_start(defn, c).label("lead_start"),
        c.c.first_commit_at,
        c.c.opened_at,
        _reviewed(defn, c).label("reviewed"),
        c.c.approved_at,
        c.c.merged_at,
        cg.c.requested,
        cg.c.decided,
        dg.c.requested,
        dg.c.decided,
    ]


@lru_cache(maxsize=KEEP)
def _shipped(defn: Definition, count: int) -> Query:
    c, d = changes.alias("c"), deployments.alias("d")
    cg, dg = _gates("change_ref"), _gates("deployment_ref")
    return (
        select(*_stage_columns(defn, c, d, cg, dg, d.c.service))
        .select_from(
            c.join(d, d.c.id == c.c.deployment_id)
            .outerjoin(cg, cg.c.change_ref == c.c.id)
            .outerjoin(dg, dg.c.deployment_ref == d.c.id)
        )
        .where(
            counted(defn, d),
            ships(defn, d),
            in_window(defn, d.c.finished_at, since(), until()),
            names_in(d.c.service, count),
        )
        .order_by(d.c.finished_at, c.c.id)
    )


@lru_cache(maxsize=KEEP)
def _merged(defn: Definition, count: int) -> Query:
    c, d = changes.alias("c"), deployments.alias("d")
    cg, dg = _gates("change_ref"), _gates("deployment_ref")
    # DevLake gives every merged pull request its coding, pickup and review times; only the
    # deploy time waits for a deployment, whenever that finishes.
    shipped = and_(d.c.id == c.c.deployment_id, counted(defn, d), ships(defn, d))
    return (
        select(*_stage_columns(defn, c, d, cg, dg, c.c.service))
        .select_from(
            c.outerjoin(d, shipped)
            .outerjoin(cg, cg.c.change_ref == c.c.id)
            .outerjoin(dg, dg.c.deployment_ref == d.c.id)
        )
        .where(
            in_window(defn, c.c.merged_at, since(), until()),
            names_in(c.c.service, count),
        )
        .order_by(c.c.merged_at, c.c.id)
    )


def _pending(ref: str, as_of: Col) -> Subquery:
    """Per change or deployment: its earliest gate requested before `as_of` and undecided
    then."""
    column = approvals.c[ref]
    return (
        select(column, func.min(approvals.c.requested_at).label("since"))
        .where(
            approvals.c.kind.in_(lits(GATE_KINDS)),
            column.is_not(None),
            approvals.c.requested_at < as_of,
            or_(approvals.c.decided_at.is_(None), approvals.c.decided_at >= as_of),
        )
        .group_by(column)
        .subquery("cg" if ref == "change_ref" else "dg")
    )


def waiting_moments(store: Store, defn: Definition, names: list[str], as_of: datetime) -> list[Row]:
    """The changes of `names` that have not reached users at `as_of`, by id: (id, service,
    opened, first review, approved, merged, change gate pending since, deployment gate
    pending since). See `metrics.waiting.waiting_changes` for which."""
    return store.rows(_waiting(defn, len(names)), as_of=as_of, **named(names))


@lru_cache(maxsize=KEEP)
def _waiting(defn: Definition, count: int) -> Query:
    as_of = bindparam("as_of", type_=DateTime)
    c, d, first = changes.alias("c"), deployments.alias("d"), deployments.alias("d")
    fd = (
        select(first.c.service, func.min(first.c.finished_at).label("first_t"))
        .where(counted(defn, first), first.c.finished_at < as_of)
        .group_by(first.c.service)
        .subquery("fd")
    )
    cg, dg = _pending("change_ref", as_of), _pending("deployment_ref", as_of)
    is_open = and_(
        c.c.opened_at < as_of,
        or_(c.c.merged_at.is_(None), c.c.merged_at >= as_of),
        or_(c.c.closed_at.is_(None), c.c.closed_at >= as_of),
    )
    undeployed = and_(
        c.c.merged_at < as_of,
        c.c.merged_at >= fd.c.first_t,
        or_(d.c.id.is_(None), d.c.finished_at.is_(None), d.c.finished_at >= as_of),
    )
    return (
        select(
            c.c.id,
            c.c.service,
            c.c.opened_at,
            c.c.first_review_at,
            c.c.approved_at,
            c.c.merged_at,
            cg.c.since,
            dg.c.since,
        )
        .select_from(
            c.outerjoin(d, (d.c.id == c.c.deployment_id) & counted(defn, d))
            .outerjoin(fd, fd.c.service == c.c.service)
            .outerjoin(cg, cg.c.change_ref == c.c.id)
            .outerjoin(dg, dg.c.deployment_ref == d.c.id)
        )
        .where(names_in(c.c.service, count), or_(is_open, undeployed))
        .order_by(c.c.id)
    )
