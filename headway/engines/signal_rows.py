"""The records every friction signal is computed from, as Ibis expressions on an engine: the
rows `metrics.queries.signals` fetches from the store, column for column and in the same
order, so `metrics.signals` computes the same document from either.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import ibis
import ibis.expr.types as ir

from headway.config import Settings
from headway.definitions import Definition
from headway.engines import relations as r
from headway.engines.connect import Engine, connected
from headway.engines.flow import naive
from headway.engines.run import latest_deployments, scope_services
from headway.metrics import signals
from headway.metrics.queries.rules import GATE_KINDS
from headway.metrics.queries.signals import NOT_USER_VISIBLE
from headway.metrics.scope import Period, Scope
from headway.metrics.signal_rows import Rows, finish
from headway.store import Store

__all__ = [
    "EngineSignals",
    "approval_rows",
    "change_rows",
    "defect_rows",
    "deployment_rows",
    "incident_rows",
    "on_engine_signals",
]


def _lines(c: ir.Table) -> ir.FloatingValue:
    """Lines a change touched, as a float; a negative or missing size counts as none."""
    parts = [
        ibis.cases((c[name] >= 0, c[name].cast("float64")), else_=ibis.literal(0.0))
        for name in ("additions", "deletions")
    ]
    return parts[0] + parts[1]


def _invisible(c: ir.Table) -> ir.BooleanValue:
    """A change users cannot see, by its labels (stored as JSON text) or title."""
    condition = c.title.like("Bump %")
    for label in NOT_USER_VISIBLE:
        condition = c.labels.like(f'%"{label}"%') | condition
    return condition


def _window(value: ir.TimestampValue, period: Period) -> ir.BooleanValue:
    return (value >= period.since) & (value < period.until)


def deployment_rows(
    t: r.Tables, defn: Definition, names: tuple[str, ...], period: Period
) -> ir.Table:
    """Counted deployments of `names` finished in the period, in time order, with their
    failure reason, rework, changes, lines, pipeline runs, gates and repeated version."""
    d, c = t.deployments, t.changes
    shipped = c.filter(c.deployment_id.notnull())
    invisible, lines = _invisible(shipped), _lines(shipped)
    cs = shipped.group_by(cs_id=shipped.deployment_id).aggregate(
        cs_n=shipped.count(),
        cs_lines=lines.sum(),
        cs_visible=ibis.cases((invisible, 0), else_=1).sum(),
        cs_visible_lines=ibis.cases((invisible, 0.0), else_=lines).sum(),
    )
    p = t.pipeline_runs.filter(t.pipeline_runs.deployment_ref.notnull())
    pr = p.group_by(pr_id=p.deployment_ref).aggregate(
        pr_runs=p.count(), pr_failed=ibis.cases((p.conclusion == "failure", 1), else_=0).sum()
    )
    gates = t.approvals.filter(t.approvals.kind.isin(list(GATE_KINDS)))
    named = gates.filter(gates.deployment_ref.notnull())
    dg = named.group_by(dg_id=named.deployment_ref).aggregate(dg_n=named.count())
    owner = c.select(g_change=c.id, g_dep=c.deployment_id)
    gated = gates.join(owner, gates.change_ref == owner.g_change)
    cg = gated.group_by(cg_id=gated.g_dep).aggregate(cg_n=gated.count())
    versioned = d.filter(d.version.notnull())
    first = versioned.group_by(
        v_service=versioned.service, v_env=versioned.environment, v_version=versioned.version
    ).aggregate(v_first=versioned.finished_at.min())
    s = t.services.select(s_name=t.services.name, s_team=t.services.team)
    rows = d.filter(
        r.counted(defn, d) & _window(d.finished_at, period) & d.service.isin(list(names))
    )
    rows = rows.left_join(s, rows.service == s.s_name)
    reasons = r.failure_reasons(defn, t)
    if reasons is not None:
        rows = rows.left_join(reasons, rows.id == reasons.failed_id)
    rework = r.rework(t)
    rows = rows.left_join(rework, rows.id == rework.rework_id)
    for table, key in ((cs, "cs_id"), (pr, "pr_id"), (dg, "dg_id"), (cg, "cg_id")):
        rows = rows.left_join(table, rows.id == table[key])
    rows = rows.left_join(
        first,
        [
            rows.service == first.v_service,
            rows.environment == first.v_env,
            rows.version == first.v_version,
        ],
    )
    return rows.select(
        id=rows.id,
        service=rows.service,
        team=rows.s_team.fill_null("(no team)"),
        kind=rows.kind,
        started_at=rows.started_at,
        finished_at=rows.finished_at,
        trig=rows["trigger"],
        failure_reason=rows.reason if reasons is not None else ibis.null("string"),
        rework=ibis.cases((rows.rework_id.notnull(), 1), else_=0),
        changes=rows.cs_n.fill_null(0),
        lines=rows.cs_lines.fill_null(0.0),
        runs=rows.pr_runs.fill_null(0),
        failed_runs=rows.pr_failed.fill_null(0),
        gates=rows.dg_n.fill_null(0) + rows.cg_n.fill_null(0),
        visible=rows.cs_visible.fill_null(0),
        visible_lines=rows.cs_visible_lines.fill_null(0.0),
        repeat_version=ibis.cases((rows.finished_at > rows.v_first, 1), else_=0),
    ).order_by(["finished_at", "id"])


def change_rows(t: r.Tables, defn: Definition, names: tuple[str, ...], period: Period) -> ir.Table:
    """Changes shipped by the counted deployments of `names` finished in the period, with
    their lead-time start, lines, whether their deployment failed and whether they were
    reverted."""
    c, d = t.changes, t.deployments
    shipped = d.filter(
        r.counted(defn, d) & _window(d.finished_at, period) & d.service.isin(list(names))
    ).select(d_id=d.id, d_finished=d.finished_at)
    reverted = c.filter(c.reverts.notnull()).select(rv_of=c.reverts).distinct()
    rows = c.join(shipped, c.deployment_id == shipped.d_id)
    reasons = r.failure_reasons(defn, t)
    if reasons is not None:
        rows = rows.left_join(reasons, rows.d_id == reasons.failed_id)
    rows = rows.left_join(reverted, rows.id == reverted.rv_of)
    failed = (
        ibis.cases((rows.failed_id.notnull(), 1), else_=0)
        if reasons is not None
        else ibis.literal(0)
    )
    return rows.select(
        id=rows.id,
        service=rows.service,
        author=rows.author,
        title=rows.title,
        labels=rows.labels,
        deployment_id=rows.d_id,
        finished_at=rows.d_finished,
        lead_start=r.lead_start(defn, rows),
        lines=_lines(rows),
        is_revert=rows.is_revert,
        failed=failed,
        reverted=ibis.cases((rows.rv_of.notnull(), 1), else_=0),
    ).order_by(["finished_at", "id"])


def approval_rows(t: r.Tables, names: tuple[str, ...], period: Period) -> ir.Table:
    """Approvals of `names` decided in the period, with the service of their change or
    deployment when they name none."""
    a = t.approvals
    c = t.changes.select(c_id=t.changes.id, c_service=t.changes.service)
    d = t.deployments.select(d_id=t.deployments.id, d_service=t.deployments.service)
    rows = a.left_join(c, a.change_ref == c.c_id)
    rows = rows.left_join(d, rows.deployment_ref == d.d_id)
    service = ibis.coalesce(rows.service, rows.c_service, rows.d_service)
    rows = rows.filter(_window(rows.decided_at, period) & service.isin(list(names)))
    return rows.select(
        id=rows.id,
        kind=rows.kind,
        requested_at=rows.requested_at,
        decided_at=rows.decided_at,
        decision=rows.decision,
        deployment_ref=rows.deployment_ref,
        service=ibis.coalesce(rows.service, rows.c_service, rows.d_service),
    ).order_by(["decided_at", "id"])


def incident_rows(
    t: r.Tables, defn: Definition, names: tuple[str, ...], period: Period
) -> ir.Table:
    """Incidents of `names` opened in the period, blamed as the metrics blame them."""
    i = t.incidents
    a = r.attributed(defn, t)
    a = a.select(a_id=a.id, a_dep=a.deployment_id)
    rows = i.join(a, i.id == a.a_id)
    rows = rows.filter(_window(rows.opened_at, period) & rows.service.isin(list(names)))
    named = (
        []
        if defn.attribution.rule == "latest_before"
        else [(rows.a_dep == rows.cause_ref, "named")]
    )
    attribution = ibis.cases(
        (rows.a_dep.isnull(), ibis.null("string")), *named, else_=ibis.literal("window")
    )
    return rows.select(
        id=rows.id,
        service=rows.service,
        opened_at=rows.opened_at,
        resolved_at=rows.resolved_at,
        severity=rows.severity,
        title=rows.title,
        labels=rows.labels,
        attribution=attribution,
        deployment_id=rows.a_dep,
    ).order_by(["opened_at", "id"])


def defect_rows(t: r.Tables, names: tuple[str, ...], period: Period) -> ir.Table:
    """Escaped defects of `names` found in the period."""
    x = t.defects
    rows = x.filter(_window(x.found_at, period) & x.service.isin(list(names)))
    return rows.select(
        "id", "service", "found_at", "severity", "change_ref", "deployment_ref"
    ).order_by(["found_at", "id"])


@dataclass(frozen=True)
class EngineSignals:
    """The friction signals' records from an engine (`metrics.signals.SignalSource`)."""

    engine: Engine

    def services(self, scope: Scope) -> list[tuple[str, str]]:
        return scope_services(self.engine, scope)

    def teams(self) -> dict[str, str]:
        """Each declared service's team, "(no team)" when it has none."""
        s = self.engine.tables["services"]
        listed = self.engine.rows(s.select(name=s.name, team=s.team.fill_null("(no team)")))
        return {row["name"]: row["team"] for row in listed}

    def latest(self, defn: Definition, names: list[str]) -> dict[str, datetime]:
        return latest_deployments(self.engine, defn, names)

    def undone(self, deployment_ids: list[str]) -> dict[str, datetime]:
        """For each of these deployments a rollback or flag release recovered, when the
        first of those finished."""
        if not deployment_ids:
            return {}
        d = self.engine.tables["deployments"]
        repairs = d.filter(
            d.kind.isin(["rollback", "release"]) & d.recovers_id.isin(deployment_ids)
        )
        found = self.engine.rows(
            repairs.group_by(failed=repairs.recovers_id).aggregate(at=repairs.finished_at.min())
        )
        return {row["failed"]: naive(row["at"]) for row in found}

    def rows(self, defn: Definition, names: list[str], period: Period) -> Rows:
        if not names:
            return Rows()
        t, scope = r.Tables.of(self.engine.tables), tuple(names)
        read = self.engine.rows
        x = t.defects.filter(t.defects.service.isin(names))
        i = t.incidents.filter(t.incidents.service.isin(names))
        [defects] = read(x.aggregate(n=x.count()))
        [incidents] = read(i.aggregate(n=i.count()))
        return finish(
            [_naive(row) for row in read(deployment_rows(t, defn, scope, period))],
            [_naive(row) for row in read(change_rows(t, defn, scope, period))],
            [_naive(row) for row in read(approval_rows(t, scope, period))],
            [_naive(row) for row in read(incident_rows(t, defn, scope, period))],
            [_naive(row) for row in read(defect_rows(t, scope, period))],
            (bool(defects["n"]), bool(incidents["n"])),
        )


def _naive(row: dict[str, Any]) -> dict[str, Any]:
    """Spark answers zoned times; the store's rows are naive UTC."""
    return {k: naive(v) for k, v in row.items()}


def on_engine_signals(
    settings: Settings,
    store: Store | None,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    by: str = "week",
    ai: signals.AiRule | None = None,
    each: str | None = None,
    spark: Any = None,
) -> list[dict[str, Any]]:
    """The friction signals (one document, or one per service, team or context inside
    `scope` with `each`) on the engine the settings name, connected for this call."""
    with connected(settings, store=store, spark=spark) as engine:
        source = EngineSignals(engine)
        return signals.compute_each(source, defn, scope, period, by=by, ai=ai, each=each)
