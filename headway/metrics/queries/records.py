"""The statements behind the lists of records (deployments, changes, incidents): each list a
query over a scope and period, refined in the store (one filter, a case-blind search, a sort
column) and paged, so a list of tens of thousands of rows is still one query a page.

What a user typed reaches a statement as a bound parameter; filters, sorted columns and
searched fields are named by `metrics.refine` and mapped to columns here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    FromClause,
    String,
    and_,
    bindparam,
    case,
    false,
    func,
    null,
    or_,
    select,
    true,
    union,
)

from headway.definitions import Definition
from headway.metrics.queries import failure
from headway.metrics.queries.rules import (
    Col,
    Query,
    counted,
    lead_changes,
    lead_time,
    lit,
    lits,
    named,
    names_in,
    ships,
    since,
    until,
)
from headway.metrics.refine import SEARCHED, SORTS, Refinement
from headway.store import Store
from headway.store.schema import changes, deployments, seen_commits, services

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


# Statements are kept per shape (see `queries.dora`): kind, definition, number of services,
# filter, whether a search is made, order and page. The period, the services and the
# searched text are bound.
KEEP = 256


def _refined(kind: str, listed: Query, only: str | None, searching: bool) -> Query:
    """The list's rows under the filter and a case-blind search for the bound `needle`."""
    x = listed.subquery("x")
    statement = select(x)
    if only:
        statement = statement.where(ONLY[kind][only](x))
    if searching:
        needle = bindparam("needle", type_=String)
        statement = statement.where(
            or_(
                *[
                    func.lower(func.coalesce(x.c[f], lit(""))).like(needle, escape="\\")
                    for f in SEARCHED[kind]
                ]
            )
        )
    return statement


def _bound(
    names: list[str], start: datetime, end: datetime, refine: Refinement | None
) -> dict[str, Any]:
    values: dict[str, Any] = {"since": start, "until": end, **named(names)}
    if refine and refine.search:
        needle = refine.search.lower().replace("\\", "\\\\")
        values["needle"] = "%" + needle.replace("%", "\\%").replace("_", "\\_") + "%"
    return values


def _listed(kind: str, defn: Definition, count: int, refine: Refinement, counting: bool) -> Query:
    if kind == "incidents":
        return _incidents(defn, count)
    if kind == "deployments":
        return _deployments(defn, count, refine, counting=counting)
    return _changes(defn, count)


@lru_cache(maxsize=KEEP)
def _total(kind: str, defn: Definition, count: int, only: str | None, searching: bool) -> Query:
    # A count reads neither order nor columns: only what its filter needs is joined.
    listed = _listed(kind, defn, count, Refinement(only), counting=True)
    return select(func.count()).select_from(_refined(kind, listed, only, searching).subquery("n"))


@lru_cache(maxsize=KEEP)
def _page(
    kind: str,
    defn: Definition,
    count: int,
    only: str | None,
    searching: bool,
    sort: str | None,
    desc: bool,
    limit: int | None,
    offset: int,
    counted: bool = False,
) -> Query:
    """The refined rows in the refinement's order, one page of them: rows without the sorted
    value come last either way; ties keep the list's own order. `counted` adds how many rows
    the whole list holds (`listed`), so a filter on failures is worked out once for both."""
    listed = _listed(kind, defn, count, Refinement(only, None, sort, desc), counting=False)
    statement = _refined(kind, listed, only, searching)
    if counted:
        statement = statement.add_columns(func.count().over().label("listed"))
    x = statement.selected_columns
    own: list[Col] = [x[name] for name in OWN_ORDER[kind]]
    order: list[Col]
    if sort:
        column = x[SORTS[kind][sort]]
        last = case((column.is_(None), lit(1)), else_=lit(0))
        order = [last, column.desc() if desc else column.asc(), *own]
    elif desc:
        order = [c.desc() for c in own]
    else:
        order = own
    statement = statement.order_by(*order)
    if limit:
        statement = statement.limit(lit(int(limit)))
    if offset:
        statement = statement.offset(lit(int(offset)))
    return statement


def _rows(
    store: Store,
    kind: str,
    defn: Definition,
    names: list[str],
    start: datetime,
    end: datetime,
    page: tuple[int | None, int],
    refine: Refinement | None,
    counted: bool = False,
) -> Rows:
    checked = (refine or Refinement()).check(kind)
    shape = (checked.only, bool(checked.search), checked.sort, checked.desc)
    statement = _page(kind, defn, len(names), *shape, *page, counted)
    return store.dicts(statement, **_bound(names, start, end, refine))


def _deployments(defn: Definition, count: int, refine: Refinement, *, counting: bool) -> Query:
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
    if not counting:
        # Where the deployment came from, for its link (`metrics.links`).
        s = services.alias("s")
        joined = joined.outerjoin(s, s.c.name == d.c.service)
        columns += [d.c.source, s.c.repository]
    # Failures are joined only when the refinement reads them, and rework only when it or
    # the rows do: each costs a pass over the whole store's deployments or evidence.
    if counting and refine.only != "rework":
        columns.append(false().label("rework"))
    else:
        repairs = failure.rework(failure.in_period(count)).subquery("r")
        rw = select(repairs.c.id).distinct().subquery("rw")
        joined = joined.outerjoin(rw, rw.c.id == d.c.id)
        columns.append(case((rw.c.id.is_not(None), true()), else_=false()).label("rework"))
    if refine.needs_failures():
        f = failure.failures(defn, failure.in_period(count)).subquery("f")
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
            d.c.finished_at >= since(),
            d.c.finished_at < until(),
            names_in(d.c.service, count),
        )
    )


def _changes(defn: Definition, count: int) -> Query:
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
            c.c.source,
            c.c.repository,
            c.c.merge_sha,
        )
        .select_from(
            c.outerjoin(d, (d.c.id == c.c.deployment_id) & counted(defn, d) & ships(defn, d))
        )
        .where(c.c.merged_at >= since(), c.c.merged_at < until(), names_in(c.c.service, count))
    )


def _incidents(defn: Definition, count: int) -> Query:
    # Blamed by the definition's rule, as the metrics blame them, not by the stored link;
    # the columns in the order the list shows them.
    i = failure.blamed_incidents(defn).subquery("i")
    return select(i).where(
        i.c.opened_at >= since(), i.c.opened_at < until(), names_in(i.c.service, count)
    )


def total(
    store: Store,
    kind: str,
    defn: Definition,
    names: list[str],
    start: datetime,
    end: datetime,
    refine: Refinement | None,
) -> int:
    """How many rows the list of `kind` holds under `refine`."""
    checked = (refine or Refinement()).check(kind)
    statement = _total(kind, defn, len(names), checked.only, bool(checked.search))
    return int(store.rows(statement, **_bound(names, start, end, refine))[0][0])


def deployment_rows(
    store: Store,
    defn: Definition,
    names: list[str],
    start: datetime,
    end: datetime,
    page: tuple[int | None, int],
    refine: Refinement | None,
    counted: bool = False,
) -> Rows:
    """A page (limit, offset) of the counted deployments of `names` finished in [start, end),
    each row with the whole list's length (`listed`) when `counted`."""
    return _rows(store, "deployments", defn, names, start, end, page, refine, counted)


def change_rows(
    store: Store,
    defn: Definition,
    names: list[str],
    start: datetime,
    end: datetime,
    page: tuple[int | None, int],
    refine: Refinement | None,
) -> Rows:
    """A page (limit, offset) of the changes of `names` merged in [start, end), with the
    deployment that shipped them (when the definition counts it) and their lead time."""
    return _rows(store, "changes", defn, names, start, end, page, refine)


def incident_rows(
    store: Store,
    defn: Definition,
    names: list[str],
    start: datetime,
    end: datetime,
    page: tuple[int | None, int],
    refine: Refinement | None,
) -> Rows:
    """A page (limit, offset) of the incidents of `names` opened in [start, end), each with
    the deployment `defn` blames it on."""
    return _rows(store, "incidents", defn, names, start, end, page, refine)


def evidence_rows(store: Store, defn: Definition, ids: list[str]) -> list[tuple[Any, ...]]:
    """(deployment, rule, record, fixed at, fixed by) for each piece of failure evidence
    about `ids`."""
    return store.rows(_evidence(defn, len(ids)), **named(ids, "id"))


@lru_cache(maxsize=KEEP)
def _evidence(defn: Definition, count: int) -> Query:
    # the incidents' blame walked only over the listed deployments' services, from the
    # earliest of them on (`failure.Near`)
    listed = deployments.alias("listed")
    ids = names_in(listed.c.id, count, "id")
    services_listed = select(listed.c.service).where(ids)
    first = select(func.min(listed.c.finished_at)).where(ids).scalar_subquery()
    e = failure.evidence(
        defn, fixer=True, near=lambda service, t: and_(t >= first, service.in_(services_listed))
    ).subquery("e")
    return (
        select(e.c.deployment_id, e.c.reason, e.c.evidence, e.c.fixed_at, e.c.fixed_by)
        .where(names_in(e.c.deployment_id, count, "id"))
        .order_by(e.c.deployment_id, e.c.reason, e.c.evidence)
    )


def host_rows(store: Store, repositories: list[str]) -> list[tuple[Any, ...]]:
    """(repository, host) for each host (`github`, `gitlab`) that sent a request or a push of
    one of `repositories`: where a record of it another source sent (a git import, a CD
    event) lives."""
    return store.rows(_hosts(len(repositories)), **named(repositories, "repo"))


@lru_cache(maxsize=KEEP)
def _hosts(count: int) -> CompoundSelect[tuple[str, str]]:
    hosts = lits(["github", "gitlab"])
    sent = select(changes.c.repository, changes.c.source).where(
        changes.c.source.in_(hosts), names_in(changes.c.repository, count, "repo")
    )
    pushed = select(seen_commits.c.repository, seen_commits.c.source).where(
        seen_commits.c.source.in_(hosts), names_in(seen_commits.c.repository, count, "repo")
    )
    return union(sent, pushed)


def revert_rows(store: Store, ids: list[str]) -> list[tuple[Any, ...]]:
    """(fix, revert, shipped) for each revert the deployments `ids` ship that undoes a change
    the deployment `shipped` had shipped before (`failure.reverted_shipments`)."""
    return store.rows(_reverts(len(ids)), **named(ids, "id"))


@lru_cache(maxsize=KEEP)
def _reverts(count: int) -> Query:
    rs = failure.reverted_shipments().subquery("rs")
    return (
        select(rs.c.fix, rs.c.revert, rs.c.shipped)
        .where(names_in(rs.c.fix, count, "id"))
        .order_by(rs.c.fix, rs.c.revert, rs.c.shipped)
    )


def shipped_rows(store: Store, ids: list[str]) -> list[tuple[Any, ...]]:
    """(deployment, change) for each change the deployments `ids` shipped, by change id."""
    return store.rows(_shipped(len(ids)), **named(ids, "id"))


@lru_cache(maxsize=KEEP)
def _shipped(count: int) -> Query:
    return (
        select(changes.c.deployment_id, changes.c.id)
        .where(names_in(changes.c.deployment_id, count, "id"))
        .order_by(changes.c.id)
    )


__all__ = [
    "ONLY",
    "change_rows",
    "deployment_rows",
    "evidence_rows",
    "host_rows",
    "incident_rows",
    "revert_rows",
    "shipped_rows",
    "total",
]
