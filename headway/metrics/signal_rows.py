"""The records every friction signal is computed from, fetched by four portable queries over a
scope and period: deployments with their failure and friction facts, changes, approvals,
incidents and defects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headway.definitions import Definition
from headway.metrics import sql as q
from headway.metrics.scope import Period
from headway.metrics.stages import GATE_KINDS
from headway.model import list_of
from headway.store import Store

# Changes users cannot see: chores, docs, CI, dependency bumps and version bumps.
NOT_USER_VISIBLE = ("chore", "docs", "ci", "dependencies", "build")


def _lines(alias: str = "") -> str:
    """Lines a change touched, as a float so that no two sizes overflow 64 bits when added;
    a negative size (no writer stores one) counts as unknown."""
    return " + ".join(
        f"COALESCE(CASE WHEN {alias}{c} >= 0 THEN CAST({alias}{c} AS DOUBLE PRECISION) END, 0)"
        for c in ("additions", "deletions")
    )


_INVISIBLE = (
    "("
    + " OR ".join(
        [f"labels LIKE '%\"{label}\"%'" for label in NOT_USER_VISIBLE] + ["title LIKE 'Bump %'"]
    )
    + ")"
)


@dataclass
class Rows:
    """The records of one scope and period that every signal is computed from."""

    deployments: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    defects: list[dict[str, Any]] = field(default_factory=list)


def load(store: Store, defn: Definition, services: list[str], period: Period) -> Rows:
    if not services:
        return Rows()
    marks = ", ".join("?" for _ in services)
    args = [period.since, period.until, *services]
    gates = ", ".join(q.quote(k) for k in GATE_KINDS)
    deployments = store.query_dicts(
        f"""
        WITH fail AS ({q.failures(defn)}), rw AS (SELECT DISTINCT id FROM ({q.rework()}) r)
        SELECT d.id, d.service, COALESCE(s.team, '(no team)') AS team, d.kind, d.started_at,
               d.finished_at, d."trigger" AS trig, f.reason AS failure_reason,
               CASE WHEN rw.id IS NOT NULL THEN 1 ELSE 0 END AS rework,
               COALESCE(cs.n, 0) AS changes, COALESCE(cs.lines, 0) AS lines,
               COALESCE(pr.runs, 0) AS runs, COALESCE(pr.failed_runs, 0) AS failed_runs,
               COALESCE(dg.n, 0) + COALESCE(cg.n, 0) AS gates,
               COALESCE(cs.visible, 0) AS visible, COALESCE(cs.visible_lines, 0) AS visible_lines,
               CASE WHEN d.version IS NOT NULL AND EXISTS (
                   SELECT 1 FROM deployments e WHERE e.service = d.service
                   AND e.environment = d.environment AND e.version = d.version
                   AND e.finished_at < d.finished_at) THEN 1 ELSE 0 END AS repeat_version
        FROM deployments d LEFT JOIN services s ON s.name = d.service
        LEFT JOIN fail f ON f.deployment_id = d.id
        LEFT JOIN rw ON rw.id = d.id
        LEFT JOIN (SELECT deployment_id, COUNT(*) AS n,
                          SUM({_lines()}) AS lines
                          , SUM(CASE WHEN {_INVISIBLE} THEN 0 ELSE 1 END) AS visible
                          , SUM(CASE WHEN {_INVISIBLE} THEN 0
                                     ELSE {_lines()} END)
                                AS visible_lines
                   FROM changes WHERE deployment_id IS NOT NULL GROUP BY deployment_id) cs
               ON cs.deployment_id = d.id
        LEFT JOIN (SELECT deployment_ref, COUNT(*) AS runs,
                          SUM(CASE WHEN conclusion = 'failure' THEN 1 ELSE 0 END) AS failed_runs
                   FROM pipeline_runs WHERE deployment_ref IS NOT NULL GROUP BY deployment_ref) pr
               ON pr.deployment_ref = d.id
        LEFT JOIN (SELECT deployment_ref, COUNT(*) AS n FROM approvals
                   WHERE kind IN ({gates}) AND deployment_ref IS NOT NULL GROUP BY deployment_ref) dg
               ON dg.deployment_ref = d.id
        LEFT JOIN (SELECT c.deployment_id, COUNT(*) AS n FROM approvals a
                   JOIN changes c ON c.id = a.change_ref
                   WHERE a.kind IN ({gates}) GROUP BY c.deployment_id) cg ON cg.deployment_id = d.id
        WHERE {q.counted_deployments(defn)} AND d.finished_at >= ? AND d.finished_at < ?
          AND d.service IN ({marks})
        ORDER BY d.finished_at, d.id
        """,
        args,
    )
    changes = store.query_dicts(
        f"""
        WITH fail AS ({q.failures(defn)})
        SELECT c.id, c.service, c.author, c.title, c.labels, d.id AS deployment_id, d.finished_at,
               {q.lead_start(defn)} AS lead_start,
               {_lines("c.")} AS lines, c.is_revert,
               CASE WHEN f.deployment_id IS NOT NULL THEN 1 ELSE 0 END AS failed,
               CASE WHEN EXISTS (SELECT 1 FROM changes r WHERE r.reverts = c.id) THEN 1 ELSE 0 END
                   AS reverted
        FROM changes c JOIN deployments d ON d.id = c.deployment_id
        LEFT JOIN fail f ON f.deployment_id = d.id
        WHERE {q.counted_deployments(defn)} AND d.finished_at >= ? AND d.finished_at < ?
          AND d.service IN ({marks})
        ORDER BY d.finished_at, c.id
        """,
        args,
    )
    approvals = store.query_dicts(
        f"""
        SELECT a.id, a.kind, a.requested_at, a.decided_at, a.decision, a.deployment_ref,
               COALESCE(a.service, c.service, d.service) AS service
        FROM approvals a LEFT JOIN changes c ON c.id = a.change_ref
        LEFT JOIN deployments d ON d.id = a.deployment_ref
        WHERE a.decided_at >= ? AND a.decided_at < ?
          AND COALESCE(a.service, c.service, d.service) IN ({marks})
        ORDER BY a.decided_at, a.id
        """,
        args,
    )
    incidents = store.query_dicts(
        f"SELECT id, service, opened_at, resolved_at, severity, title, labels, attribution, "
        f"deployment_id FROM incidents WHERE opened_at >= ? AND opened_at < ? "
        f"AND service IN ({marks}) ORDER BY opened_at, id",
        args,
    )
    defects = store.query_dicts(
        f"SELECT id, service, found_at, severity, change_ref, deployment_ref FROM defects "
        f"WHERE found_at >= ? AND found_at < ? AND service IN ({marks}) ORDER BY found_at, id",
        args,
    )
    # PostgreSQL returns SUM(BIGINT) as NUMERIC; counts are integers on both engines.
    for row in deployments:
        row["failed"] = row["failure_reason"] is not None
        for key in (
            "rework",
            "changes",
            "lines",
            "runs",
            "failed_runs",
            "gates",
            "visible",
            "visible_lines",
            "repeat_version",
        ):
            row[key] = int(row[key])
    for row in changes:
        for key in ("lines", "failed", "reverted"):
            row[key] = int(row[key])
    for row in (*changes, *incidents):
        row["labels"] = list_of(row.get("labels"))
    return Rows(deployments, changes, approvals, incidents, defects)


def shipping(rows: Rows) -> list[dict[str, Any]]:
    return [d for d in rows.deployments if d["kind"] in ("deploy", "hotfix")]


def share(part: int | float, whole: int | float) -> float | None:
    return round(part / whole, 4) if whole else None
