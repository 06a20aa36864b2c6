"""Where the flow breakdown reads its rows from: the store's statements (`StoreFlow`), or an
analytics engine's expressions (`engines.flow.EngineFlow`), which give the same rows.

`metrics.flow.breakdown` asks a source for the scope's services, the moments of the changes
it covers, the changes waiting at an instant, each service's latest deployment (to point an
empty window to its data) and the release wait; everything else is cut and summed by the same
code whichever source answered.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from headway.definitions import Definition
from headway.metrics import release
from headway.metrics.dora_queries import latest_deployments
from headway.metrics.queries import flow as queries
from headway.metrics.queries import scope as scope_queries
from headway.metrics.scope import Period, Scope, services_in
from headway.store import Store

Row = tuple[Any, ...]


class FlowSource(Protocol):
    def services(self, scope: Scope) -> list[tuple[str, str]]:
        """(service, context) pairs in `scope`; an unknown name is an UnknownScope error."""
        ...

    def teams(self) -> dict[str, str]:
        """Each service's team ("(no team)" when it has none)."""
        ...

    def shipped(self, defn: Definition, names: list[str], period: Period) -> list[np.ndarray]:
        """The covered changes' moments as columns, as `queries.flow.shipped_moments`."""
        ...

    def waiting(self, defn: Definition, names: list[str], as_of: datetime) -> list[Row]:
        """The changes not yet with users at `as_of`, as `queries.flow.waiting_moments`."""
        ...

    def latest(self, defn: Definition, names: list[str]) -> dict[str, datetime]:
        """Each service's latest counted deployment, whatever the period."""
        ...

    def release_wait(
        self, defn: Definition, names: list[str], period: Period
    ) -> dict[str, Any] | None:
        """The release figure (`metrics.release`), or None where the flags' history is not."""
        ...


@dataclass(frozen=True)
class StoreFlow:
    """The flow's rows from the store's own statements."""

    store: Store

    def services(self, scope: Scope) -> list[tuple[str, str]]:
        return services_in(self.store, scope)

    def teams(self) -> dict[str, str]:
        return scope_queries.teams(self.store)

    def shipped(self, defn: Definition, names: list[str], period: Period) -> list[np.ndarray]:
        return queries.shipped_moments(self.store, defn, names, period.since, period.until)

    def waiting(self, defn: Definition, names: list[str], as_of: datetime) -> list[Row]:
        return queries.waiting_moments(self.store, defn, names, as_of)

    def latest(self, defn: Definition, names: list[str]) -> dict[str, datetime]:
        return latest_deployments(self.store, defn, names)

    def release_wait(
        self, defn: Definition, names: list[str], period: Period
    ) -> dict[str, Any] | None:
        found = release.release_figures(self.store, defn, names, period, "organisation")
        return found.get("organisation") or release.empty_figure()
