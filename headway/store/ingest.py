"""The statements of the write path (`headway.ingest`): what reconciling reads, what records
written together decide (first commits, reviews), the folds of requests merged by rebase, and
deriving stored deliveries again. (Requests merged by rebase: `store/folds.py`.)

A webhook group runs most of these once or twice, so every one is built once: a constant, or
a `ByList` (one statement per list size) for those over a list of ids. Values that name
Headway's own sources (`git`, the `git:%` pattern of what the git import wrote) come from the
caller, which owns them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.sql.expression import ClauseElement

from headway.model import Change, columns
from headway.store.base import Store
from headway.store.lists import ByList, together
from headway.store.schema import (
    approvals,
    changes,
    derived_records,
    event_order,
    metadata,
    raw_events,
    seen_commits,
    services,
)

# The columns of a `changes` row, in the order `Change` declares its fields.
CHANGE_COLUMNS = columns(Change)
CHANGE_ROW = [changes.c[name] for name in CHANGE_COLUMNS]

# -- what reconciling reads (`ingest.stored`) -------------------------------------------------

_RAW_IDS = ByList(lambda ids: select(raw_events.c.id).where(raw_events.c.id.in_(ids)))
_EVENT_ORDERS = ByList(
    lambda ids: select(event_order.c.id, event_order.c.event, event_order.c.occurred_at).where(
        event_order.c.id.in_(ids)
    )
)
_SERVICE_NAMES = ByList(lambda names: select(services.c.name).where(services.c.name.in_(names)))
_CHANGES = ByList(lambda ids: select(*CHANGE_ROW).where(changes.c.id.in_(ids)))
_MOMENTS: dict[tuple[str, tuple[str, ...]], ByList] = {}


def raw_ids_and_orders(
    store: Store, ids: Collection[str], keys: Collection[str]
) -> tuple[set[str], list[tuple[str, str, datetime]]]:
    """Those of the delivery ids `ids` already stored (`raw_events`), and (record key, event,
    when) of the newest event applied to each of the records `keys`: read together."""
    raws, orders = together(store, (_RAW_IDS, ids), (_EVENT_ORDERS, keys))
    return {str(r[0]) for r in raws}, [(str(k), str(e), at) for k, e, at in orders]


def event_orders(store: Store, keys: Collection[str]) -> list[tuple[str, str, datetime]]:
    """(record key, event, when) of the newest event applied to each of these records."""
    return [(str(k), str(e), at) for k, e, at in _EVENT_ORDERS.rows(store, keys)]


def change_rows(store: Store, ids: Collection[str]) -> list[tuple[Any, ...]]:
    """The stored `changes` rows among `ids`, their columns as `CHANGE_COLUMNS`."""
    return _CHANGES.rows(store, ids)


def changes_and_services(
    store: Store, ids: Collection[str], names: Collection[str]
) -> tuple[list[tuple[Any, ...]], set[str]]:
    """The stored `changes` rows among `ids` (their columns as `CHANGE_COLUMNS`), and those of
    the service `names` the store holds: read together."""
    rows, found = together(store, (_CHANGES, ids), (_SERVICE_NAMES, names))
    return rows, {str(r[0]) for r in found}


def moments(
    store: Store, wanted: Mapping[str, tuple[tuple[str, ...], Collection[str]]]
) -> dict[str, list[tuple[Any, ...]]]:
    """For each table of `wanted`, (id, *names) of its rows with the ids given: every table
    read together."""
    tables = list(wanted)
    asked = [(_moments(table, wanted[table][0]), wanted[table][1]) for table in tables]
    return dict(zip(tables, together(store, *asked), strict=True))


def _moments(table: str, names: tuple[str, ...]) -> ByList:
    by_list = _MOMENTS.get((table, names))
    if by_list is None:  # a few per table: which lists the records leave unsaid
        t = metadata.tables[table]
        by_list = _MOMENTS[(table, names)] = ByList(
            lambda ids: select(t.c.id, *(t.c[n] for n in names)).where(t.c.id.in_(ids))
        )
    return by_list


# -- what records written together decide (`ingest.refresh`) ---------------------------------


def _first_commits(repositories: list[BindParameter[Any]]) -> ClauseElement:
    s = seen_commits.alias("s")
    earliest = (
        select(func.min(s.c.committed_at))
        .where(s.c.repository == changes.c.repository, s.c.push_head == changes.c.merge_sha)
        .scalar_subquery()
    )
    return (
        update(changes)
        .values(first_commit_at=earliest)
        .where(
            changes.c.repository.in_(repositories),
            changes.c.source != bindparam("git"),
            changes.c.merge_sha.is_not(None),
            earliest.is_not(None),
            or_(changes.c.first_commit_at.is_(None), changes.c.first_commit_at > earliest),
        )
    )


_FIRST_COMMITS = ByList(_first_commits)


def first_commits(store: Store, repositories: Collection[str], git: str) -> None:
    """A merged request's first commit (in these repositories; not one of source `git`): the
    earliest commit of the push its merge commit headed, when earlier than the one stored."""
    _FIRST_COMMITS.run(store, repositories, git=git)


def _merged_by_request(repositories: list[BindParameter[Any]]) -> ClauseElement:
    c, s, r = changes.alias("c"), seen_commits.alias("s"), changes.alias("r")
    git: BindParameter[str] = bindparam("git")
    return (
        select(c.c.id, r.c.id)
        .distinct()
        .select_from(
            c.join(s, and_(s.c.repository == c.c.repository, s.c.sha == c.c.merge_sha)).join(
                r,
                and_(
                    r.c.repository == s.c.repository,
                    r.c.merge_sha == s.c.push_head,
                    r.c.source != git,
                ),
            )
        )
        .where(c.c.source == git, c.c.repository.in_(repositories))
        .order_by(c.c.id, r.c.id)
    )


_MERGED_BY_REQUEST = ByList(_merged_by_request)


def merged_by_request(
    store: Store, repositories: Collection[str], git: str
) -> list[tuple[str, str]]:
    """(direct change, request) for each commit of source `git` in these repositories that a
    push headed by a request's merge commit listed, by direct change and request."""
    return [(str(d), str(r)) for d, r in _MERGED_BY_REQUEST.rows(store, repositories, git=git)]


SET_SIZE = (
    update(changes)
    .values(
        first_commit_at=bindparam("first"),
        additions=bindparam("added"),
        deletions=bindparam("deleted"),
        files=bindparam("touched"),
    )
    .where(changes.c.id == bindparam("change"))
)


def set_size(
    store: Store,
    change_id: str,
    first_commit_at: datetime | None,
    size: tuple[int | None, int | None, int | None],
) -> None:
    """Store a change's first commit and its size (additions, deletions, files)."""
    added, deleted, touched = size
    store.run(
        SET_SIZE,
        first=first_commit_at,
        added=added,
        deleted=deleted,
        touched=touched,
        change=change_id,
    )


def _reviews(ids: list[BindParameter[Any]]) -> ClauseElement:
    a = approvals.alias("a")

    def first(*more: ColumnElement[bool]) -> ColumnElement[Any]:
        return (
            select(func.min(a.c.decided_at))
            .where(a.c.change_ref == changes.c.id, a.c.kind == "code_review", *more)
            .scalar_subquery()
        )

    return (
        update(changes)
        .values(
            first_review_at=func.coalesce(first(), changes.c.first_review_at),
            approved_at=func.coalesce(first(a.c.decision == "approved"), changes.c.approved_at),
        )
        .where(changes.c.id.in_(ids))
    )


_REVIEWS = ByList(_reviews)


def reviews(store: Store, ids: Collection[str]) -> None:
    """A change's first review and first approval, from every code review seen for it."""
    _REVIEWS.run(store, ids)


# -- deriving stored deliveries again (`ingest.reprocess`), and what arrived -------------------

_DERIVED_TABLES = select(derived_records.c.record_table).distinct()
_PAGE = (
    select(
        raw_events.c.source,
        raw_events.c.source_id,
        raw_events.c.kind,
        raw_events.c.received_at,
        raw_events.c.payload,
        raw_events.c.default_service,
    )
    .order_by(raw_events.c.received_at, raw_events.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_FORGET = (delete(derived_records), delete(seen_commits), delete(event_order))
_DROP_RAW = ByList(lambda ids: delete(raw_events).where(raw_events.c.id.in_(ids)))
_COUNT = {name: select(func.count()).select_from(t) for name, t in metadata.tables.items()}
_DROP_DERIVED: dict[str, ClauseElement] = {}
_STATUS = (
    select(
        raw_events.c.source,
        raw_events.c.kind,
        raw_events.c.status,
        raw_events.c.note,
        func.count().label("deliveries"),
        func.max(raw_events.c.received_at).label("latest"),
    )
    .group_by(raw_events.c.source, raw_events.c.kind, raw_events.c.status, raw_events.c.note)
    .order_by(raw_events.c.source, raw_events.c.kind, raw_events.c.status, raw_events.c.note)
)


def derived_tables(store: Store) -> list[str]:
    """The tables deliveries derived records in."""
    return [str(r[0]) for r in store.rows(_DERIVED_TABLES)]


def count(store: Store, table: str) -> int:
    """How many rows `table` holds."""
    return int(store.rows(_COUNT[table])[0][0])


def _drop_derived(table: str) -> ClauseElement:
    t = metadata.tables[table]
    imported: BindParameter[str] = bindparam("imported")
    derived = select(derived_records.c.record_id).where(
        derived_records.c.record_table == bindparam("table")
    )
    statement = delete(t).where(t.c.id.in_(derived), t.c.id.not_like(imported))
    if table == "changes":
        ref = t.c.deployment_ref
        statement = statement.where(or_(ref.is_(None), ref.not_like(imported)))
    return statement


def drop_derived(store: Store, table: str, imported: str) -> None:
    """Remove the `table` records deliveries derived, but those whose id is LIKE `imported`,
    and (changes) those whose `deployment_ref` is: the git import stored them."""
    statement = _DROP_DERIVED.get(table)
    if statement is None:
        statement = _DROP_DERIVED[table] = _drop_derived(table)
    store.run(statement, table=table, imported=imported)


def forget_derivations(store: Store) -> None:
    """Forget which delivery derived which record, the commits pushes listed and the order
    of events applied."""
    for statement in _FORGET:
        store.run(statement)


def raw_page(store: Store, limit: int, offset: int) -> list[tuple[Any, ...]]:
    """(source, source_id, kind, received_at, payload, default_service) of stored deliveries
    in the order they arrived, `limit` from `offset`."""
    return store.rows(_PAGE, limit=limit, offset=offset)


def drop_raw(store: Store, ids: Collection[str]) -> None:
    """Remove these stored deliveries."""
    _DROP_RAW.run(store, ids)


def status(store: Store) -> list[dict[str, Any]]:
    """Deliveries by source, event kind, outcome and note: how many, the latest arrival."""
    return store.dicts(_STATUS)
