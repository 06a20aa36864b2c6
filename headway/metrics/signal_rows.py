"""The records every friction signal is computed from, over a scope and period: deployments
with their failure and friction facts, changes, approvals, incidents and defects, fetched by
the statements of `metrics.queries.signals`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from headway.definitions import Definition
from headway.metrics.dora_queries import latest_deployments
from headway.metrics.queries import scope as scope_queries
from headway.metrics.queries import signals as queries
from headway.metrics.scope import Period, Scope, services_in
from headway.model import list_of
from headway.store import Store
from headway.store import interpret as interpret_queries


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


class SignalSource(Protocol):
    """Where the friction signals' records come from: the store's statements
    (`StoreSignals`) or an analytics engine's expressions (`engines.signal_rows`)."""

    def services(self, scope: Scope) -> list[tuple[str, str]]: ...
    def teams(self) -> dict[str, str]: ...
    def latest(self, defn: Definition, names: list[str]) -> dict[str, datetime]: ...
    def rows(self, defn: Definition, names: list[str], period: Period) -> Rows: ...
    def undone(self, deployment_ids: list[str]) -> dict[str, datetime]: ...


@dataclass(frozen=True)
class StoreSignals:
    store: Store

    def services(self, scope: Scope) -> list[tuple[str, str]]:
        return services_in(self.store, scope)

    def teams(self) -> dict[str, str]:
        return scope_queries.teams(self.store)

    def latest(self, defn: Definition, names: list[str]) -> dict[str, datetime]:
        return latest_deployments(self.store, defn, names)

    def rows(self, defn: Definition, names: list[str], period: Period) -> Rows:
        return load(self.store, defn, names, period)

    def undone(self, deployment_ids: list[str]) -> dict[str, datetime]:
        """For each of these deployments a rollback or flag release recovered, when the
        first of those finished."""
        return interpret_queries.undone(self.store, deployment_ids)


def load(store: Store, defn: Definition, services: list[str], period: Period) -> Rows:
    if not services:
        return Rows()
    since, until = period.since, period.until
    return finish(
        queries.deployment_rows(store, defn, services, since, until),
        queries.change_rows(store, defn, services, since, until),
        queries.approval_rows(store, services, since, until),
        queries.incident_rows(store, defn, services, since, until),
        queries.defect_rows(store, services, since, until),
        queries.ever_recorded(store, services),
    )


def finish(
    deployments: list[dict[str, Any]],
    changes: list[dict[str, Any]],
    approvals: list[dict[str, Any]],
    incidents: list[dict[str, Any]],
    defects: list[dict[str, Any]],
    ever: tuple[bool, bool],
) -> Rows:
    """The rows as the signals read them, whichever engine fetched them: counts and lines as
    ints (PostgreSQL sums BIGINT as NUMERIC; lines are summed as floats), labels as lists."""
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
    return Rows(deployments, changes, approvals, incidents, defects, *ever)


def shipping(rows: Rows) -> list[dict[str, Any]]:
    return [d for d in rows.deployments if d["kind"] in ("deploy", "hotfix")]


def share(part: int | float, whole: int | float) -> float | None:
    return round(part / whole, 4) if whole else None
