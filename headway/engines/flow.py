"""The moments of the flow breakdown as Ibis expressions: when each change covered by a
period started, was opened, reviewed, approved, merged and deployed, and when its gates were
requested and decided (`metrics.queries.flow.shipped_moments` on the store).

`metrics.stages.cut` turns these rows into stages the same way on every engine, so only the
rows can differ, and tests/engines holds them equal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np

from headway.config import Settings
from headway.definitions import Definition
from headway.engines import relations as r
from headway.engines.connect import Engine, connected
from headway.engines.run import latest_deployments, scope_services, service_rows
from headway.metrics import flow
from headway.metrics.flow import FlowBreakdown
from headway.metrics.queries.rules import GATE_KINDS
from headway.metrics.scope import Period, Scope
from headway.metrics.stages import columns_of
from headway.store import Store

__all__ = [
    "COLUMNS",
    "EngineFlow",
    "moments",
    "on_engine_flows",
    "shipped_moments",
    "waiting_moments",
]

Row = tuple[Any, ...]
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


def _pending(t: r.Tables, ref: str, prefix: str, as_of: Any) -> ir.Table:
    """Per change or deployment: its earliest gate requested before `as_of` and undecided
    then."""
    a = t.approvals
    pending = a.filter(
        a.kind.isin(list(GATE_KINDS)),
        a[ref].notnull(),
        a.requested_at < as_of,
        a.decided_at.isnull() | (a.decided_at >= as_of),
    )
    return pending.group_by(**{f"{prefix}_ref": pending[ref]}).aggregate(
        **{f"{prefix}_since": pending.requested_at.min()}
    )


def waiting_moments(
    t: r.Tables, defn: Definition, services: tuple[str, ...], as_of: datetime
) -> ir.Table:
    """The changes of `services` not with users at `as_of`, by id: (id, service, opened,
    first review, approved, merged, change gate pending since, deployment gate pending since),
    as `metrics.queries.flow.waiting_moments` (`metrics.waiting` says which)."""
    d, c = t.deployments, t.changes
    counted = d.filter(r.counted(defn, d))
    first = (
        counted.filter(counted.finished_at < as_of)
        .group_by(fd_service=counted.service)
        .aggregate(first_t=counted.finished_at.min())
    )
    shipping = counted.select(dd_id=counted.id, dd_finished=counted.finished_at)
    rows = c.left_join(shipping, c.deployment_id == shipping.dd_id)
    rows = rows.left_join(first, rows.service == first.fd_service)
    cg, dg = _pending(t, "change_ref", "cg", as_of), _pending(t, "deployment_ref", "dg", as_of)
    rows = rows.left_join(cg, rows.id == cg.cg_ref)
    rows = rows.left_join(dg, rows.dd_id == dg.dg_ref)
    is_open = (
        (rows.opened_at < as_of)
        & (rows.merged_at.isnull() | (rows.merged_at >= as_of))
        & (rows.closed_at.isnull() | (rows.closed_at >= as_of))
    )
    undeployed = (
        (rows.merged_at < as_of)
        & (rows.merged_at >= rows.first_t)
        & (rows.dd_id.isnull() | rows.dd_finished.isnull() | (rows.dd_finished >= as_of))
    )
    out = rows.filter(rows.service.isin(list(services)), is_open | undeployed).select(
        "id",
        "service",
        "opened_at",
        "first_review_at",
        "approved_at",
        "merged_at",
        "cg_since",
        "dg_since",
    )
    return out.order_by("id")


def moments(engine: Engine, defn: Definition, services: list[str], period: Period) -> list[Row]:
    """The rows of `shipped_moments` on an engine, as the store's statement gives them."""
    if not services:
        return []
    t = r.Tables.of(engine.tables)
    found = engine.rows(shipped_moments(t, defn, tuple(services), period))
    return [tuple(naive(row[name]) for name in COLUMNS) for row in found]


@dataclass(frozen=True)
class EngineFlow:
    """The flow breakdown's rows from an engine (`metrics.flow_source.FlowSource`). The
    release wait reads the flags' history, which only the store holds: None here."""

    engine: Engine

    def services(self, scope: Scope) -> list[tuple[str, str]]:
        return scope_services(self.engine, scope)

    def teams(self) -> dict[str, str]:
        return {row["name"]: row["team"] for row in service_rows(self.engine)}

    def shipped(self, defn: Definition, names: list[str], period: Period) -> list[np.ndarray]:
        return columns_of(moments(self.engine, defn, names, period), len(COLUMNS))

    def waiting(self, defn: Definition, names: list[str], as_of: datetime) -> list[Row]:
        t = r.Tables.of(self.engine.tables)
        found = self.engine.rows(waiting_moments(t, defn, tuple(names), as_of))
        return [tuple(naive(v) for v in row.values()) for row in found]

    def latest(self, defn: Definition, names: list[str]) -> dict[str, datetime]:
        return latest_deployments(self.engine, defn, names)

    def release_wait(
        self, defn: Definition, names: list[str], period: Period
    ) -> dict[str, Any] | None:
        return None


def naive(value: Any) -> Any:
    """Spark answers zoned times; the store's rows are naive UTC."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def on_engine_flows(
    settings: Settings,
    store: Store | None,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    by: str | None = None,
    each: str | None = None,
    spark: Any = None,
) -> list[FlowBreakdown]:
    """The flow breakdown (one, or one per service, team or context inside `scope` with
    `each`) on the engine the settings name, connected for this call as `sets.on_engine`."""
    with connected(settings, store=store, spark=spark) as engine:
        source = EngineFlow(engine)
        if each:
            return flow.breakdown_each(source, defn, each, period, scope, by)
        return [flow.breakdown(source, defn, scope, period, by)]
