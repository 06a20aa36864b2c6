"""The moments of the flow breakdown as Ibis expressions: when each change covered by a
period started, was opened, reviewed, approved, merged and deployed, and when its gates were
requested and decided (`metrics.queries.flow.shipped_moments` on the store).

`metrics.stages.cut` turns these rows into stages the same way on every engine, so only the
rows can differ, and tests/engines holds them equal.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from headway.definitions import Definition
from headway.engines import relations as r
from headway.engines.connect import Engine
from headway.metrics.queries.rules import GATE_KINDS
from headway.metrics.scope import Period

__all__ = ["COLUMNS", "moments", "shipped_moments"]

# The row `metrics.stages.cut` reads, in order.
COLUMNS = (
    "id",
    "service",
    "deployed",
    "lead_start",
    "first_commit_at",
    "opened_at",
    "reviewed",
    "approved_at",
    "merged_at",
    "cg_requested",
    "cg_decided",
    "dg_requested",
    "dg_decided",
)


def _gates(t: r.Tables, ref: str, prefix: str) -> ir.Table:
    """Per change (`change_ref`) or deployment (`deployment_ref`): when its gates were first
    requested and last decided."""
    a = t.approvals
    return (
        a.filter(a.kind.isin(list(GATE_KINDS)), a[ref].notnull())
        .group_by(**{f"{prefix}_ref": a[ref]})
        .aggregate(
            **{f"{prefix}_requested": a.requested_at.min(), f"{prefix}_decided": a.decided_at.max()}
        )
    )


def _first_review_by_other(t: r.Tables) -> ir.Table:
    """Per change: the first code review decided by someone other than its author (DevLake)."""
    a, c = t.approvals, t.changes.select(rv_id=t.changes.id, rv_author=t.changes.author)
    joined = a.join(c, a.change_ref == c.rv_id)
    reviews = joined.filter(
        joined.kind == "code_review", ~joined.actor.identical_to(joined.rv_author)
    )
    return reviews.group_by(rv_ref=reviews.rv_id).aggregate(rv_at=reviews.decided_at.min())


def shipped_moments(
    t: r.Tables, defn: Definition, services: tuple[str, ...], period: Period
) -> ir.Table:
    """The changes the definition's flow covers in the period, in time order: every change
    first shipped by a counted deployment of `services` that finished in it, or under
    `flow.changes = merged` every change of `services` merged in it (its deployment's
    finish null when none has shipped it)."""
    d = t.deployments
    shipping = d.filter(r.counted(defn, d)).select(
        dep_id=d.id,
        deployed=d.finished_at,
        dep_service=d.service,
        dep_t=ibis.coalesce(d.started_at, d.finished_at),
    )
    starts = r.shipping_starts(defn, t)
    if starts is not None:  # DevLake: a service's first counted deployment ships nothing
        shipping = shipping.join(starts, shipping.dep_service == starts.first_service)
        shipping = shipping.filter(shipping.dep_t > shipping.first_t)
    shipping = shipping.select("dep_id", "deployed", "dep_service")
    c = t.changes
    merged = defn.flow.changes == "merged"
    if merged:
        rows = c.left_join(shipping, c.deployment_id == shipping.dep_id)
        rows = rows.filter(
            r.in_window(defn, rows.merged_at, period.since, period.until),
            rows.service.isin(list(services)),
        )
    else:
        rows = c.join(shipping, c.deployment_id == shipping.dep_id)
        rows = rows.filter(
            r.in_window(defn, rows.deployed, period.since, period.until),
            rows.dep_service.isin(list(services)),
        )
    cg = _gates(t, "change_ref", "cg")
    rows = rows.left_join(cg, rows.id == cg.cg_ref)
    dg = _gates(t, "deployment_ref", "dg")
    rows = rows.left_join(dg, rows.dep_id == dg.dg_ref)
    if defn.flow.review_start == "first_review_by_other":
        reviews = _first_review_by_other(t)
        rows = rows.left_join(reviews, rows.id == reviews.rv_ref)
        reviewed: Any = rows.rv_at
    else:
        reviewed = rows.first_review_at
    out = rows.select(
        id=rows.id,
        service=rows.service if merged else rows.dep_service,
        deployed=rows.deployed,
        lead_start=r.lead_start(defn, rows),
        first_commit_at=rows.first_commit_at,
        opened_at=rows.opened_at,
        reviewed=reviewed,
        approved_at=rows.approved_at,
        merged_at=rows.merged_at,
        cg_requested=rows.cg_requested,
        cg_decided=rows.cg_decided,
        dg_requested=rows.dg_requested,
        dg_decided=rows.dg_decided,
    )
    return out.order_by([out.merged_at if merged else out.deployed, out.id])


def moments(
    engine: Engine, defn: Definition, services: list[str], period: Period
) -> list[tuple[Any, ...]]:
    """The rows of `shipped_moments` on an engine, as the store's statement gives them."""
    if not services:
        return []
    t = r.Tables.of(engine.tables)
    found = engine.rows(shipped_moments(t, defn, tuple(services), period))
    return [tuple(_naive(row[name]) for name in COLUMNS) for row in found]


def _naive(value: Any) -> Any:
    """Spark answers zoned times; the store's rows are naive UTC."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
