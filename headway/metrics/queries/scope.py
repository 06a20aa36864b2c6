"""The statements a scope is resolved with: the services there are, with their teams and
operating contexts.
"""

from __future__ import annotations

from sqlalchemy import select

from headway.metrics.queries.rules import no_team
from headway.store import Store
from headway.store.schema import services

TEAMS = select(services.c.name, no_team(services))


def teams(store: Store) -> dict[str, str]:
    """Each stored service's team ("(no team)" when it has none)."""
    return {str(name): str(team) for name, team in store.rows(TEAMS)}
