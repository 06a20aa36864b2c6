"""The records every friction signal is computed from, over a scope and period: deployments
with their failure and friction facts, changes, approvals, incidents and defects, fetched by
the statements of `metrics.queries.signals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from headway.definitions import Definition
from headway.metrics.queries import signals as queries
from headway.metrics.scope import Period
from headway.model import list_of
from headway.store import Store


@dataclass
class Rows:
    """The records of one scope and period that every signal is computed from."""

    deployments: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    incidents: list[dict[str, Any]] = field(default_factory=list)
    defects: list[dict[str, Any]] = field(default_factory=list)
    # whether the scope ever had a defect or an incident recorded, at any time: without, a
    # period's zero is missing data
    defects_recorded: bool = False
    incidents_recorded: bool = False


def load(store: Store, defn: Definition, services: list[str], period: Period) -> Rows:
    if not services:
        return Rows()
    since, until = period.since, period.until
    deployments = queries.deployment_rows(store, defn, services, since, until)
    changes = queries.change_rows(store, defn, services, since, until)
    approvals = queries.approval_rows(store, services, since, until)
    incidents = queries.incident_rows(store, defn, services, since, until)
    defects = queries.defect_rows(store, services, since, until)
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
    ever_defects, ever_incidents = queries.ever_recorded(store, services)
    return Rows(deployments, changes, approvals, incidents, defects, ever_defects, ever_incidents)


def shipping(rows: Rows) -> list[dict[str, Any]]:
    return [d for d in rows.deployments if d["kind"] in ("deploy", "hotfix")]


def share(part: int | float, whole: int | float) -> float | None:
    return round(part / whole, 4) if whole else None
