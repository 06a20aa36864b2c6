"""The facts a listed deployment shows, as Ibis expressions: each piece of failure evidence
with the record that fixed it, the reverts it ships, the changes it shipped; and
`EngineRecords`, which reads the records lists (`record_lists`) and these facts from an
engine for `metrics.records` (`metrics.record_reads.RecordSource`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from headway.config import Settings
from headway.definitions import Definition
from headway.engines import record_lists as lists
from headway.engines import relations as r
from headway.engines.connect import Engine, connected
from headway.engines.flow import naive
from headway.engines.run import scope_services
from headway.metrics.record_reads import Page, RecordSource
from headway.metrics.refine import Refinement
from headway.metrics.scope import Scope
from headway.store import Store

__all__ = ["EngineRecords", "evidence", "on_engine", "reverts", "shipped"]

_REPAIRS = ("rollback", "hotfix", "rollout_rollback")


def evidence(defn: Definition, t: r.Tables, ids: list[str]) -> ir.Table | None:
    """One row per piece of evidence that one of the deployments `ids` failed, by
    deployment, rule and record: deployment_id, reason, evidence (the record), fixed_at and
    fixed_by (the record that restored service: the incident resolved, the rollback or
    hotfix, the deployment shipping the revert, the next good deployment after a failed
    one). None when the definition has no failure rule."""
    rules = set(defn.failure.rules)
    d = t.deployments
    parts: list[ir.Table] = []

    def add(part: ir.Table, rule: str) -> None:
        parts.append(
            part.select(
                deployment_id=part.failed,
                reason=ibis.literal(rule),
                evidence=part.record,
                fixed_at=part.fixed_at,
                fixed_by=part.fixed_by,
            )
        )

    if "incident" in rules:
        # the blame walked only over the listed deployments' services: a walk is per
        # service, so their blame is the whole store's
        listed = d.filter(d.id.isin(ids)).service
        a = r.attributed(defn, dataclasses.replace(t, deployments=d.filter(d.service.isin(listed))))
        a = a.filter(a.deployment_id.notnull())
        resolved = ibis.cases((a.resolved_at.notnull(), a.id), else_=ibis.null("string"))
        add(
            a.select(
                failed=a.deployment_id, record=a.id, fixed_at=a.resolved_at, fixed_by=resolved
            ),
            "incident",
        )
    for rule in _REPAIRS:
        if rule in rules:
            kind = d.kind == ("rollback" if rule == "rollout_rollback" else rule)
            if rule == "rollout_rollback":
                kind &= d["trigger"] == "rollout"
            x = d.filter(kind, d.status == "success", d.recovers_id.notnull())
            add(
                x.select(failed=x.recovers_id, record=x.id, fixed_at=x.finished_at, fixed_by=x.id),
                rule,
            )
    if "revert" in rules:
        rs = r.reverted_shipments(t)
        window = round(defn.failure.revert_window_days * 86400 * r.MICROS)
        rs = rs.filter(r.micros_between(rs.shipped_at, rs.reverted_at) <= window)
        add(
            rs.select(failed=rs.shipped, record=rs.revert, fixed_at=rs.fixed_at, fixed_by=rs.fix),
            "revert",
        )
    if "failed_status" in rules:
        add(_next_good(t), "failed_status")
    if not parts:
        return None
    found = r.union_all(*parts)
    return found.filter(found.deployment_id.isin(ids)).order_by(
        ["deployment_id", "reason", "evidence"]
    )


def _next_good(t: r.Tables) -> ir.Table:
    """Each failed deployment, fixed by its service's next successful one in its
    environment (the first by time, then id): failed, record, fixed_at, fixed_by."""
    d = t.deployments
    f = d.filter(d.status == "failure").select(
        f_id=d.id, f_service=d.service, f_env=d.environment, f_t=d.finished_at
    )
    n = d.filter(d.status == "success").select(
        n_id=d.id, n_service=d.service, n_env=d.environment, n_t=d.finished_at
    )
    joined = f.left_join(n, [f.f_service == n.n_service, f.f_env == n.n_env, n.n_t > f.f_t])
    first = ibis.row_number().over(group_by=joined.f_id, order_by=[joined.n_t, joined.n_id])
    ranked = joined.mutate(k=first)
    ranked = ranked.filter(ranked.k == 0)
    return ranked.select(
        failed=ranked.f_id, record=ranked.f_id, fixed_at=ranked.n_t, fixed_by=ranked.n_id
    )


def reverts(t: r.Tables, ids: list[str]) -> ir.Table:
    """(fix, revert, shipped) per revert one of the deployments `ids` ships that undoes a
    change an earlier deployment shipped, by fix, revert and shipped."""
    rs = r.reverted_shipments(t)
    rs = rs.filter(rs.fix.isin(ids))
    return rs.select("fix", "revert", "shipped").order_by(["fix", "revert", "shipped"])


def shipped(t: r.Tables, ids: list[str]) -> ir.Table:
    """(deployment_id, id) per change one of the deployments `ids` shipped, by change."""
    c = t.changes
    return c.filter(c.deployment_id.isin(ids)).select("deployment_id", "id").order_by("id")


@dataclass(frozen=True)
class EngineRecords:
    """The records lists read from an engine (`metrics.record_reads.RecordSource`)."""

    engine: Engine

    @property
    def tables(self) -> r.Tables:
        return r.Tables.of(self.engine.tables)

    def names(self, scope: Scope) -> list[str]:
        return [s for s, _ in scope_services(self.engine, scope)]

    def rows(
        self,
        kind: str,
        defn: Definition,
        names: list[str],
        start: datetime,
        end: datetime,
        page: Page,
        refine: Refinement | None,
        counted: bool = False,
    ) -> list[dict[str, Any]]:
        checked = (refine or Refinement()).check(kind)
        whole = lists.listed(self.tables, kind, defn, names, start, end, checked)
        rows = lists.refined(kind, whole, checked)
        expr = lists.paged(kind, rows, checked, *page, with_length=counted)
        return [{k: naive(v) for k, v in row.items()} for row in self.engine.rows(expr)]

    def total(
        self,
        kind: str,
        defn: Definition,
        names: list[str],
        start: datetime,
        end: datetime,
        refine: Refinement | None,
    ) -> int:
        checked = (refine or Refinement()).check(kind)
        whole = lists.listed(self.tables, kind, defn, names, start, end, checked)
        [row] = self.engine.rows(lists.counted(lists.refined(kind, whole, checked)))
        return int(row["n"])

    def evidence(self, defn: Definition, ids: list[str]) -> list[tuple[Any, ...]]:
        expr = evidence(defn, self.tables, ids)
        return [] if expr is None else self._tuples(expr)

    def reverts(self, ids: list[str]) -> list[tuple[Any, ...]]:
        return self._tuples(reverts(self.tables, ids))

    def shipped(self, ids: list[str]) -> list[tuple[Any, ...]]:
        return self._tuples(shipped(self.tables, ids))

    def _tuples(self, expr: ir.Table) -> list[tuple[Any, ...]]:
        return [tuple(naive(v) for v in row.values()) for row in self.engine.rows(expr)]


@contextmanager
def on_engine(
    settings: Settings, store: Store | None, *, spark: Any = None
) -> Iterator[RecordSource]:
    """The records lists on the engine the settings name, connected while the caller reads."""
    with connected(settings, store=store, spark=spark) as engine:
        yield EngineRecords(engine)
