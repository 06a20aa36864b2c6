"""The statements a scope is resolved with: the services there are, with their teams and
operating contexts, and the latest deployment a default period ends at.

They never change, so they are built once and each store compiles them once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, union

from headway.metrics.queries.rules import lit, no_team
from headway.store import Store
from headway.store.schema import deployments, services

TEAMS = select(services.c.name, no_team(services))
SERVICES = select(services.c.name, no_team(services), services.c.context)
# Services named by deployments but not declared count too, with no team and no context.
_KNOWN = union(
    SERVICES,
    select(deployments.c.service, lit("(no team)"), lit("(no context)"))
    .distinct()
    .where(deployments.c.service.not_in(select(services.c.name))),
)
KNOWN = _KNOWN.order_by(_KNOWN.selected_columns[0])
LATEST = select(func.max(deployments.c.finished_at)).where(
    deployments.c.finished_at >= bindparam("earliest"),
    deployments.c.finished_at < bindparam("latest"),
)


def teams(store: Store) -> dict[str, str]:
    """Each stored service's team ("(no team)" when it has none)."""
    return {str(name): str(team) for name, team in store.rows(TEAMS)}


def declared(store: Store) -> list[tuple[Any, ...]]:
    """(name, team, context) of each stored service."""
    return store.rows(SERVICES)


def known(store: Store) -> list[tuple[Any, ...]]:
    """(name, team, context) of every service, declared or named by a deployment, by name."""
    return store.rows(KNOWN)


def latest_deployment(store: Store, earliest: datetime, latest: datetime) -> datetime | None:
    """When the latest deployment in [earliest, latest) finished; None without one."""
    value: datetime | None = store.rows(LATEST, earliest=earliest, latest=latest)[0][0]
    return value
