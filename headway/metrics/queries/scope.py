"""The statements a scope is resolved with: the services there are, with their teams and
operating contexts, and each service's latest counted deployment (where the data of a scope
with an empty window is).

The service statements never change, so they are built once and each store compiles them
once; the latest deployments' is built once per definition and number of services.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select, union

from headway.definitions import Definition
from headway.metrics.queries import rules as r
from headway.metrics.queries.rules import Query, lit, no_team
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


def teams(store: Store) -> dict[str, str]:
    """Each stored service's team ("(no team)" when it has none)."""
    return {str(name): str(team) for name, team in store.rows(TEAMS)}


def declared(store: Store) -> list[tuple[Any, ...]]:
    """(name, team, context) of each stored service."""
    return store.rows(SERVICES)


def known(store: Store) -> list[tuple[Any, ...]]:
    """(name, team, context) of every service, declared or named by a deployment, by name."""
    return store.rows(KNOWN)


def latest_counted(
    store: Store,
    defn: Definition,
    names: list[str],
    earliest: datetime,
    latest: datetime,
) -> list[tuple[Any, ...]]:
    """(service, when its latest deployment counted by `defn` finished) for each of `names`
    with one finishing in [earliest, latest)."""
    statement = _latest_counted(defn, len(names))
    return store.rows(statement, since=earliest, until=latest, **r.named(names))


@lru_cache(maxsize=64)
def _latest_counted(defn: Definition, count: int) -> Query:
    d = deployments.alias("d")
    return (
        select(d.c.service, func.max(d.c.finished_at))
        .where(
            r.counted(defn, d),
            d.c.finished_at >= r.since(),
            d.c.finished_at < r.until(),
            r.names_in(d.c.service, count),
        )
        .group_by(d.c.service)
    )
