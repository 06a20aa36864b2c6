"""The statements behind the lists of records (deployments, changes, incidents): each list a
query over a scope and period, refined in the store (one filter, a case-blind search, a sort
column) and paged, so a list of tens of thousands of rows is still one query a page.

What a user typed reaches a statement as a bound parameter; filters, sorted columns and
searched fields are named by `metrics.refine` and mapped to columns here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import FromClause, case, false, func, null, or_, select, true

from headway.definitions import Definition
from headway.metrics.queries import failure
from headway.metrics.queries.rules import Col, Query, counted, lead_changes, lead_time, lit, ships
from headway.metrics.refine import SEARCHED, SORTS, Refinement
from headway.store import Store
from headway.store.schema import changes, deployments, incidents

Rows = list[dict[str, Any]]

# What each filter of `refine.FILTERS` keeps, on the columns of its list.
ONLY: dict[str, dict[str, Callable[[FromClause], Col]]] = {
    "deployments": {
        "failed": lambda x: x.c.has_failure == lit(1),
        "recovered": lambda x: x.c.first_fix.is_not(None),
        "rework": lambda x: x.c.rework,
    },
    "changes": {
        "shipped": lambda x: x.c.lead_time_s.is_not(None),
        "unshipped": lambda x: x.c.deployment_id.is_(None),
        "revert": lambda x: x.c.is_revert,
    },
    "incidents": {
        "attributed": lambda x: x.c.deployment_id.is_not(None),
        "unattributed": lambda x: x.c.deployment_id.is_(None),
    },
}
# Each list's own order: the first is its time column.
OWN_ORDER = {
    "deployments": ("finished_at", "id"),
    "changes": ("merged_at", "id"),
    "incidents": ("opened_at", "id"),
}


def _refined(kind: str, listed: Query, refine: Refinement | None) -> Query:
    """The list's rows under the refinement's filter and case-blind search."""
    refinement = (refine or Refinement()).check(kind)
    x = listed.subquery("x")
    statement = select(x)
    if refinement.only:
        statement = statement.where(ONLY[kind][refinement.only](x))
    if refinement.search:
        needle = refinement.search.lower().replace("\\", "\\\\")
        needle = needle.replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(
            or_(
                *[
                    func.lower(func.coalesce(x.c[f], lit(""))).like(f"%{needle}%", escape="\\")
                    for f in SEARCHED[kind]
                ]
            )
        )
    return statement


def _page(
    kind: str, statement: Query, refine: Refinement | None, limit: int | None, offset: int
) -> Query:
    """The refined rows in the refinement's order, one page of them: rows without the sorted
    value come last either way; ties keep the list's own order."""
    refinement = refine or Refinement()
    x = statement.selected_columns
    own: list[Col] = [x[name] for name in OWN_ORDER[kind]]
    order: list[Col]
    if refinement.sort:
        column = x[SORTS[kind][refinement.sort]]
        last = case((column.is_(None), lit(1)), else_=lit(0))
        order = [last, column.desc() if refinement.desc else column.asc(), *own]
    elif refinement.desc:
        order = [c.desc() for c in own]
    else:
        order = own
    statement = statement.order_by(*order)
    if limit:
        statement = statement.limit(lit(int(limit)))
    if offset:
        statement = statement.offset(lit(int(offset)))
    return statement


def _count(store: Store, statement: Query) -> int:
    return int(store.rows(select(func.count()).select_from(statement.subquery("n")))[0][0])


def _deployments(
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    refine: Refinement,
    *,
    counting: bool = False,
) -> Query:
    d = deployments.alias("d")
    joined: FromClause = d
    columns: list[Col] = [
        d.c.id,
        d.c.service,
        d.c.environment,
        d.c.kind,
        d.c.status,
        d.c.version,
        d.c.sha,
        d.c.started_at,
        d.c.finished_at,
        d.c.recovers_id,
    ]
    # Failures are joined only when the refinement reads them, and rework only when it or
    # the rows do: each costs a pass over the whole store's deployments or evidence.
    if counting and refine.only != "rework":
        columns.append(false().label("rework"))
    else:
        repairs = failure.rework().subquery("r")
        rw = select(repairs.c.id).distinct().subquery("rw")
        joined = joined.outerjoin(rw, rw.c.id == d.c.id)
        columns.append(case((rw.c.id.is_not(None), true()), else_=false()).label("rework"))
    if refine.needs_failures():
        f = failure.failures(defn).subquery("f")
        joined = joined.outerjoin(f, f.c.deployment_id == d.c.id)
        columns += [
            case((f.c.deployment_id.is_(None), lit(0)), else_=lit(1)).label("has_failure"),
            f.c.first_fix.label("first_fix"),
        ]
    return (
        select(*columns)
        .select_from(joined)
        .where(
            counted(defn, d),
            d.c.finished_at >= since,
            d.c.finished_at < until,
            d.c.service.in_(names),
        )
    )


def _changes(defn: Definition, names: list[str], since: datetime, until: datetime) -> Query:
    c, d = changes.alias("c"), deployments.alias("d")
    lead = case(
        (or_(d.c.id.is_(None), ~lead_changes(defn, c)), null()), else_=lead_time(defn, c, d)
    )
    return (
        select(
            c.c.id,
            c.c.service,
            c.c.number,
            c.c.title,
            c.c.author,
            c.c.first_commit_at,
            c.c.opened_at,
            c.c.merged_at,
            c.c.is_revert,
            c.c.reverts,
            c.c.additions,
            c.c.deletions,
            c.c.files,
            d.c.id.label("deployment_id"),
            d.c.finished_at.label("deployed_at"),
            lead.label("lead_time_s"),
        )
        .select_from(
            c.outerjoin(d, (d.c.id == c.c.deployment_id) & counted(defn, d) & ships(defn, d))
        )
        .where(c.c.merged_at >= since, c.c.merged_at < until, c.c.service.in_(names))
    )


def _incidents(names: list[str], since: datetime, until: datetime) -> Query:
    # Incidents are attributed when stored: no definition changes which rows they are.
    i = incidents
    return select(
        i.c.id,
        i.c.service,
        i.c.title,
        i.c.severity,
        i.c.opened_at,
        i.c.acknowledged_at,
        i.c.resolved_at,
        i.c.deployment_id,
        i.c.attribution,
        i.c.labels,
    ).where(i.c.opened_at >= since, i.c.opened_at < until, i.c.service.in_(names))


def total(
    store: Store,
    kind: str,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    refine: Refinement | None,
) -> int:
    """How many rows the list of `kind` holds under `refine`."""
    listed: Query
    if kind == "deployments":
        # A count reads neither order nor columns: only what its filter needs is joined.
        counted_by = Refinement((refine or Refinement()).only, (refine or Refinement()).search)
        listed = _deployments(defn, names, since, until, counted_by, counting=True)
    elif kind == "changes":
        listed = _changes(defn, names, since, until)
    else:
        listed = _incidents(names, since, until)
    return _count(store, _refined(kind, listed, refine))


def deployment_rows(
    store: Store,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    limit: int | None,
    offset: int,
    refine: Refinement | None,
) -> Rows:
    """A page of the counted deployments of `names` finished in [since, until)."""
    listed = _deployments(defn, names, since, until, refine or Refinement())
    return store.dicts(
        _page("deployments", _refined("deployments", listed, refine), refine, limit, offset)
    )


def evidence_rows(store: Store, defn: Definition, ids: list[str]) -> list[tuple[Any, ...]]:
    """(deployment, rule, record, fixed at) for each piece of failure evidence about `ids`."""
    e = failure.evidence(defn).subquery("e")
    return store.rows(
        select(e.c.deployment_id, e.c.reason, e.c.evidence, e.c.fixed_at)
        .where(e.c.deployment_id.in_(ids))
        .order_by(e.c.deployment_id, e.c.reason, e.c.evidence)
    )


def shipped_rows(store: Store, ids: list[str]) -> list[tuple[Any, ...]]:
    """(deployment, change) for each change the deployments `ids` shipped, by change id."""
    return store.rows(
        select(changes.c.deployment_id, changes.c.id)
        .where(changes.c.deployment_id.in_(ids))
        .order_by(changes.c.id)
    )


def change_rows(
    store: Store,
    defn: Definition,
    names: list[str],
    since: datetime,
    until: datetime,
    limit: int | None,
    offset: int,
    refine: Refinement | None,
) -> Rows:
    """A page of the changes of `names` merged in [since, until), with the deployment that
    shipped them (when the definition counts it) and their lead time."""
    listed = _changes(defn, names, since, until)
    return store.dicts(_page("changes", _refined("changes", listed, refine), refine, limit, offset))


def incident_rows(
    store: Store,
    names: list[str],
    since: datetime,
    until: datetime,
    limit: int | None,
    offset: int,
    refine: Refinement | None,
) -> Rows:
    """A page of the incidents of `names` opened in [since, until)."""
    listed = _incidents(names, since, until)
    return store.dicts(
        _page("incidents", _refined("incidents", listed, refine), refine, limit, offset)
    )


__all__ = [
    "ONLY",
    "change_rows",
    "deployment_rows",
    "evidence_rows",
    "incident_rows",
    "shipped_rows",
    "total",
]
