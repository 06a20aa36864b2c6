"""Sorting, filtering and searching the records behind the numbers in the store, so a list of
tens of thousands of rows is still one query a page (`headway.metrics.records`).

Every column, filter and searched field a list offers is named here, by the column its query
answers; `metrics.queries.records` builds the statements from these names alone, so what a
user typed reaches the query as a bound parameter, never as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FILTERS", "SEARCHED", "SORTS", "RefineError", "Refinement"]


class RefineError(ValueError):
    """A sort column or filter the kind of record does not have."""


# Per kind of record: the columns a list sorts by (the first is its own order)...
SORTS: dict[str, dict[str, str]] = {
    "deployments": {
        "finished_at": "finished_at",
        "service": "service",
        "environment": "environment",
        "kind": "kind",
        "status": "status",
        "failed": "has_failure",
        "recovered_at": "first_fix",
    },
    "changes": {
        "merged_at": "merged_at",
        "service": "service",
        "author": "author",
        "lead_time_s": "lead_time_s",
        "deployed_at": "deployed_at",
    },
    "incidents": {
        "opened_at": "opened_at",
        "service": "service",
        "severity": "severity",
        "resolved_at": "resolved_at",
    },
}
# ...the filters it offers (what each keeps is in `metrics.queries.records`)...
FILTERS: dict[str, tuple[str, ...]] = {
    "deployments": ("failed", "recovered", "rework"),
    "changes": ("shipped", "unshipped", "revert"),
    "incidents": ("attributed", "unattributed"),
}
# ...and the fields a search looks in.
SEARCHED: dict[str, tuple[str, ...]] = {
    "deployments": ("id", "service", "version", "sha"),
    "changes": ("id", "service", "title", "author", "deployment_id"),
    "incidents": ("id", "service", "title", "severity"),
}


@dataclass(frozen=True)
class Refinement:
    """Which rows of a list, in which order: one filter, a case-blind search, a column."""

    only: str | None = None
    search: str | None = None
    sort: str | None = None
    desc: bool = False

    def check(self, kind: str) -> Refinement:
        """This refinement, if `kind` has its filter and column; else a RefineError saying
        which it has."""
        if self.only is not None and self.only not in FILTERS[kind]:
            raise RefineError(f"only must be one of {', '.join(FILTERS[kind])}, not {self.only!r}")
        if self.sort is not None and self.sort not in SORTS[kind]:
            raise RefineError(f"sort must be one of {', '.join(SORTS[kind])}, not {self.sort!r}")
        return self

    def needs_failures(self) -> bool:
        """Whether the deployments' list must join their failures to answer it."""
        return self.only in ("failed", "recovered") or self.sort in ("failed", "recovered_at")
