"""Where the records lists read their rows: the store's statements (`queries.records`), or
an analytics engine's expressions (`engines.record_lists`), behind one protocol, so
`metrics.records` builds the same lists from either.

Each read answers in the store's shapes: a page of a list as dicts, in the list's order,
with the columns `queries.records` selects; the facts about listed deployments (failure
evidence, reverts shipped, changes shipped) as tuples, in their statements' order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from headway.definitions import Definition
from headway.metrics.queries import records as queries
from headway.metrics.refine import Refinement
from headway.metrics.scope import Scope, services_in
from headway.store import Store

__all__ = ["Page", "RecordSource", "StoreRecords"]

Rows = list[dict[str, Any]]
Page = tuple[int | None, int]  # (limit, offset)


class RecordSource(Protocol):
    """The reads behind the records lists (`metrics.records`)."""

    def names(self, scope: Scope) -> list[str]:
        """The services of `scope`, as `metrics.scope.services_in` finds them."""
        ...

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
    ) -> Rows:
        """A page of the list of `kind` (deployments, changes, incidents) of `names` in
        [start, end), refined; with `counted`, each row has the whole list's length
        (`listed`)."""
        ...

    def total(
        self,
        kind: str,
        defn: Definition,
        names: list[str],
        start: datetime,
        end: datetime,
        refine: Refinement | None,
    ) -> int:
        """How many rows the list of `kind` holds under `refine`."""
        ...

    def evidence(self, defn: Definition, ids: list[str]) -> list[tuple[Any, ...]]:
        """(deployment, rule, record, fixed at, fixed by) per piece of failure evidence about
        `ids`, by deployment, rule and record."""
        ...

    def reverts(self, ids: list[str]) -> list[tuple[Any, ...]]:
        """(fix, revert, shipped) per revert the deployments `ids` ship that undoes a change
        an earlier deployment shipped, by fix, revert and shipped."""
        ...

    def shipped(self, ids: list[str]) -> list[tuple[Any, ...]]:
        """(deployment, change) per change the deployments `ids` shipped, by change."""
        ...


@dataclass(frozen=True)
class StoreRecords:
    """The records lists read from the transactional store."""

    store: Store

    def names(self, scope: Scope) -> list[str]:
        return [s for s, _ in services_in(self.store, scope)]

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
    ) -> Rows:
        if kind == "deployments":
            return queries.deployment_rows(
                self.store, defn, names, start, end, page, refine, counted
            )
        if kind == "changes":
            return queries.change_rows(self.store, defn, names, start, end, page, refine)
        return queries.incident_rows(self.store, defn, names, start, end, page, refine)

    def total(
        self,
        kind: str,
        defn: Definition,
        names: list[str],
        start: datetime,
        end: datetime,
        refine: Refinement | None,
    ) -> int:
        return queries.total(self.store, kind, defn, names, start, end, refine)

    def evidence(self, defn: Definition, ids: list[str]) -> list[tuple[Any, ...]]:
        return queries.evidence_rows(self.store, defn, ids)

    def reverts(self, ids: list[str]) -> list[tuple[Any, ...]]:
        return queries.revert_rows(self.store, ids)

    def shipped(self, ids: list[str]) -> list[tuple[Any, ...]]:
        return queries.shipped_rows(self.store, ids)
