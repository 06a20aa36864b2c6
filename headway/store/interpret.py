"""Statements of the interpretation services: notes (`annotations`), and what the review and
its detectors read beside the metrics (a scope's first record, the rollbacks and releases
that undid failed deployments)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import BindParameter, ColumnElement, bindparam, func, select

from headway.store.base import Store
from headway.store.schema import annotations as notes_table
from headway.store.schema import changes, deployments, services
from headway.store.statements import insert_into

__all__ = [
    "first_record",
    "insert_note",
    "notes",
    "notes_on",
    "service_groups",
    "undone",
]

_NOTE_COLUMNS = (
    notes_table.c.id,
    notes_table.c.scope,
    notes_table.c.period_start,
    notes_table.c.period_end,
    notes_table.c.kind,
    notes_table.c.text,
    notes_table.c.author,
    notes_table.c.created_at,
)
_INSERT_NOTE = insert_into(
    notes_table,
    "id",
    "scope",
    "period_start",
    "period_end",
    "kind",
    "text",
    "author",
    "created_at",
)
_NOTE_ORDER = (notes_table.c.period_start, notes_table.c.created_at, notes_table.c.id)


def _overlapping(
    since: datetime | BindParameter[datetime], until: datetime | BindParameter[datetime]
) -> tuple[ColumnElement[bool], ...]:
    """A note overlaps [since, until) when it starts before the end and ends after the start."""
    return (notes_table.c.period_start < until, notes_table.c.period_end > since)


_NOTES = (
    select(*_NOTE_COLUMNS)
    .where(*_overlapping(bindparam("since"), bindparam("until")))
    .order_by(*_NOTE_ORDER)
)
_SERVICE_GROUPS = select(services.c.team, services.c.context).where(
    services.c.name == bindparam("name")
)


def insert_note(
    store: Store,
    *,
    id: str,
    scope: str,
    period_start: datetime,
    period_end: datetime,
    kind: str,
    text: str,
    author: str,
    created_at: datetime,
) -> None:
    store.run(
        _INSERT_NOTE,
        id=id,
        scope=scope,
        period_start=period_start,
        period_end=period_end,
        kind=kind,
        text=text,
        author=author,
        created_at=created_at,
    )


def notes(store: Store, since: datetime, until: datetime) -> list[dict[str, Any]]:
    """Every note overlapping [since, until), by start, creation and id."""
    return store.dicts(_NOTES, since=since, until=until)


def notes_on(
    store: Store, scopes: Iterable[str], since: datetime, until: datetime
) -> list[dict[str, Any]]:
    """As `notes`, on these scopes only."""
    # Built per call, its values in it: an IN list is written out with one parameter per
    # scope, and a statement holding one is compiled with its values.
    statement = (
        select(*_NOTE_COLUMNS)
        .where(notes_table.c.scope.in_(sorted(scopes)), *_overlapping(since, until))
        .order_by(*_NOTE_ORDER)
    )
    return store.dicts(statement)


def service_groups(store: Store, service: str | None) -> list[tuple[str | None, str]]:
    """(team, context) of the service of this name."""
    return cast(list[tuple[str | None, str]], store.rows(_SERVICE_GROUPS, name=service))


def first_record(store: Store, service_names: list[str]) -> datetime | None:
    """When the first deployment of these services finished or their first change merged."""
    if not service_names:
        return None
    firsts = (
        select(func.min(deployments.c.finished_at).label("first_at"))
        .where(deployments.c.service.in_(service_names))
        .union_all(
            select(func.min(changes.c.merged_at)).where(changes.c.service.in_(service_names))
        )
        .subquery()
    )
    found = store.rows(select(func.min(firsts.c.first_at)))[0][0]
    return found if isinstance(found, datetime) else None


def undone(store: Store, deployment_ids: Iterable[str]) -> dict[str, datetime]:
    """For each of these deployments a rollback or flag release recovered, when the first of
    those finished."""
    # An IN list is written out per call: one parameter per deployment.
    statement = (
        select(deployments.c.recovers_id, func.min(deployments.c.finished_at))
        .where(
            deployments.c.kind.in_(("rollback", "release")),
            deployments.c.recovers_id.in_(list(deployment_ids)),
        )
        .group_by(deployments.c.recovers_id)
    )
    return dict(store.rows(statement))
