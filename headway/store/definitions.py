"""The `definitions` table's statements: every definition made active, with its author, time
and reason. The active one is read by every metrics request, so the statements are module
constants, compiled once per store."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import bindparam, select

from headway.store.base import Store
from headway.store.schema import definitions
from headway.store.statements import insert_into

__all__ = [
    "ChangeRow",
    "active",
    "changes",
    "history",
    "insert_definition",
    "names",
    "versions",
]

#: (name, version, body, author, created_at, reason)
ChangeRow = tuple[str, int, str, str, datetime, str]

_ACTIVE = (
    select(definitions.c.name, definitions.c.version, definitions.c.body)
    .order_by(definitions.c.created_at.desc(), definitions.c.version.desc())
    .limit(1)
)
_VERSIONS = (
    select(definitions.c.name, definitions.c.version, definitions.c.body)
    .where(definitions.c.name == bindparam("name"))
    .order_by(definitions.c.version.desc())
)
_NAMES = select(definitions.c.name).distinct()
_INSERT = insert_into(
    definitions, "id", "name", "version", "body", "author", "created_at", "reason"
)
_HISTORY = select(
    definitions.c.name,
    definitions.c.version,
    definitions.c.author,
    definitions.c.created_at,
    definitions.c.reason,
).order_by(definitions.c.created_at)
_CHANGES = select(
    definitions.c.name,
    definitions.c.version,
    definitions.c.body,
    definitions.c.author,
    definitions.c.created_at,
    definitions.c.reason,
).order_by(definitions.c.created_at)


def active(store: Store) -> tuple[str, int, str] | None:
    """(name, version, body) of the definition made active last, if any was."""
    found = cast(list[tuple[str, int, str]], store.rows(_ACTIVE))
    return found[0] if found else None


def versions(store: Store, name: str) -> list[tuple[str, int, str]]:
    """(name, version, body) of each stored version of `name`, newest first."""
    return cast(list[tuple[str, int, str]], store.rows(_VERSIONS, name=name))


def names(store: Store) -> set[str]:
    """The names of the stored definitions."""
    return {row[0] for row in store.rows(_NAMES)}


def insert_definition(
    store: Store,
    *,
    id: str,
    name: str,
    version: int,
    body: str,
    author: str,
    at: datetime,
    reason: str,
) -> None:
    store.run(
        _INSERT,
        id=id,
        name=name,
        version=version,
        body=body,
        author=author,
        created_at=at,
        reason=reason,
    )


def history(store: Store) -> list[dict[str, Any]]:
    """Each activation (name, version, author, created_at, reason), oldest first."""
    return store.dicts(_HISTORY)


def changes(store: Store) -> list[ChangeRow]:
    """Each activation with its body, oldest first."""
    return cast(list[ChangeRow], store.rows(_CHANGES))
