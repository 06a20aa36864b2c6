"""The `api_tokens` table's statements.

A token's secret is looked up on every authenticated request (when not in the token service's
short cache) and a web session's token checked on every page, so those statements are module
constants, compiled once per store. Only a SHA-256 of each secret is stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import BindParameter, ColumnElement, bindparam, insert, or_, select, update

from headway.store.base import Store
from headway.store.schema import api_tokens

__all__ = [
    "TokenRow",
    "insert_token",
    "live_ids",
    "revoke",
    "token_by_digest",
    "token_rows",
    "unrevoked",
]

#: (id, kind, environment, name, created_by, created_at, revoked_at, expires_at)
TokenRow = tuple[str, str, str | None, str, str, datetime, datetime | None, datetime | None]

_COLUMNS = (
    api_tokens.c.id,
    api_tokens.c.kind,
    api_tokens.c.environment,
    api_tokens.c.name,
    api_tokens.c.created_by,
    api_tokens.c.created_at,
    api_tokens.c.revoked_at,
    api_tokens.c.expires_at,
)
# The columns a new token is written with, named: a later column (a scope) is left NULL.
_INSERTED = (
    "id",
    "kind",
    "environment",
    "name",
    "secret_hash",
    "created_by",
    "created_at",
    "revoked_at",
    "expires_at",
)
_INSERT = insert(api_tokens).values({c: bindparam(f"v_{c}") for c in _INSERTED})
_BY_DIGEST = select(*_COLUMNS).where(
    api_tokens.c.secret_hash == bindparam("digest"), api_tokens.c.revoked_at.is_(None)
)
_TOKENS = select(*_COLUMNS).order_by(api_tokens.c.created_at)
_UNREVOKED = select(api_tokens.c.id).where(
    api_tokens.c.id == bindparam("id"), api_tokens.c.revoked_at.is_(None)
)
_REVOKE = (
    update(api_tokens)
    .where(api_tokens.c.id == bindparam("token"))
    .values(revoked_at=bindparam("revoked_at"))
)


def _live(now: datetime | BindParameter[datetime]) -> tuple[ColumnElement[bool], ...]:
    """Neither revoked nor expired at `now`."""
    return (
        api_tokens.c.revoked_at.is_(None),
        or_(api_tokens.c.expires_at.is_(None), api_tokens.c.expires_at > now),
    )


# One session's token, asked on every page of the web app.
_LIVE_ONE = select(api_tokens.c.id).where(
    api_tokens.c.id == bindparam("id"), *_live(bindparam("now"))
)


def insert_token(
    store: Store,
    *,
    id: str,
    kind: str,
    environment: str | None,
    name: str,
    secret_hash: str,
    created_by: str,
    created_at: datetime,
    expires_at: datetime | None,
) -> None:
    store.run(
        _INSERT,
        v_id=id,
        v_kind=kind,
        v_environment=environment,
        v_name=name,
        v_secret_hash=secret_hash,
        v_created_by=created_by,
        v_created_at=created_at,
        v_revoked_at=None,
        v_expires_at=expires_at,
    )


def token_by_digest(store: Store, digest: str) -> TokenRow | None:
    """The unrevoked token whose secret has this SHA-256, if any."""
    found = cast(list[TokenRow], store.rows(_BY_DIGEST, digest=digest))
    return found[0] if found else None


def token_rows(store: Store) -> list[TokenRow]:
    """Every token, oldest first."""
    return cast(list[TokenRow], store.rows(_TOKENS))


def live_ids(store: Store, ids: Sequence[str], now: datetime) -> set[str]:
    """Which of these token ids are neither revoked nor expired at `now`."""
    if len(ids) == 1:
        return {row[0] for row in store.rows(_LIVE_ONE, id=ids[0], now=now)}
    # Built per call, its values in it: an IN list is written out with one parameter per id,
    # and a statement holding one is compiled with its values.
    statement = select(api_tokens.c.id).where(api_tokens.c.id.in_(ids), *_live(now))
    return {row[0] for row in store.rows(statement)}


def unrevoked(store: Store, token_id: str) -> bool:
    return bool(store.rows(_UNREVOKED, id=token_id))


def revoke(store: Store, token_id: str, at: datetime) -> None:
    store.run(_REVOKE, token=token_id, revoked_at=at)
