"""Sorting, filtering and searching the records behind the numbers in the store, so a list of
tens of thousands of rows is still one query a page (`headway.metrics.records`).

Every column, filter and searched field is named here, by the column a list's query answers,
and written into SQL only from these tables: what a user typed reaches the query as a bound
parameter, never as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FILTERS", "SEARCHED", "SORTS", "RefineError", "Refinement", "clauses"]


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
# ...the filters it offers...
FILTERS: dict[str, dict[str, str]] = {
    "deployments": {
        "failed": "has_failure = 1",
        "recovered": "first_fix IS NOT NULL",
        "rework": "rework",
    },
    "changes": {
        "shipped": "lead_time_s IS NOT NULL",
        "unshipped": "deployment_id IS NULL",
        "revert": "is_revert",
    },
    "incidents": {
        "attributed": "deployment_id IS NOT NULL",
        "unattributed": "deployment_id IS NULL",
    },
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


def clauses(kind: str, refinement: Refinement, own_order: str) -> tuple[str, str, list[str]]:
    """(` AND …` conditions, the ORDER BY list, their parameters) for a list of `kind`.

    Rows without the sorted value come last either way; ties keep the list's own order."""
    where, params = [], []
    if refinement.only:
        where.append(FILTERS[kind][refinement.only])
    if refinement.search:
        needle = refinement.search.lower().replace("\\", "\\\\")
        needle = needle.replace("%", "\\%").replace("_", "\\_")
        fields = SEARCHED[kind]
        where.append(
            "(" + " OR ".join(f"LOWER(COALESCE({f}, '')) LIKE ? ESCAPE '\\'" for f in fields) + ")"
        )
        params += [f"%{needle}%"] * len(fields)
    order = own_order
    if refinement.sort:
        column = SORTS[kind][refinement.sort]
        way = "DESC" if refinement.desc else "ASC"
        order = f"CASE WHEN {column} IS NULL THEN 1 ELSE 0 END, {column} {way}, {own_order}"
    elif refinement.desc:
        order = ", ".join(f"{part.strip()} DESC" for part in own_order.split(","))
    return "".join(f" AND {w}" for w in where), order, params
