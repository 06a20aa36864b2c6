"""Who may see and change what: the scopes of tokens and the people who sign in.

The SQL behind roles: a token's teams and environments (columns of `api_tokens`), the `users`
table, and the one lookup a team scope needs (which team a service belongs to). A scope is
stored as a JSON array of names; NULL spans every team or environment. The services that
decide with these rows are `headway.flags.tokens` and `headway.flags.users`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from headway.store.base import Store

__all__ = [
    "Scope",
    "UserRow",
    "find_user",
    "insert_user",
    "list_users",
    "save_token_scope",
    "service_teams",
    "token_scopes",
    "update_user",
]

# (teams, environments); None spans them all.
Scope = tuple[tuple[str, ...] | None, tuple[str, ...] | None]
_USER_COLUMNS = (
    "id, email, name, role, role_from, teams, environments, subject, created_by, created_at, "
    "signed_in_at, removed_at"
)


@dataclass(frozen=True, slots=True)
class UserRow:
    id: str
    email: str
    name: str
    role: str | None
    role_from: str  # "admin" or "groups"
    teams: tuple[str, ...] | None
    environments: tuple[str, ...] | None
    subject: str | None
    created_by: str
    created_at: datetime
    signed_in_at: datetime | None = None
    removed_at: datetime | None = None


def _names(value: Sequence[str] | None) -> str | None:
    return None if value is None else orjson.dumps(list(value)).decode()


def _unnames(text: str | None) -> tuple[str, ...] | None:
    return None if text is None else tuple(orjson.loads(text))


def _naive(when: datetime | None) -> datetime | None:
    return None if when is None else when.astimezone(UTC).replace(tzinfo=None)


def _aware(when: datetime | None) -> datetime | None:
    return None if when is None else when.replace(tzinfo=UTC)


# --- tokens ----------------------------------------------------------------------------------


def save_token_scope(
    store: Store, token_id: str, teams: Sequence[str] | None, environments: Sequence[str] | None
) -> None:
    store.execute(
        "UPDATE api_tokens SET teams = ?, environments = ? WHERE id = ?",
        [_names(teams), _names(environments), token_id],
    )


def token_scopes(store: Store, ids: Iterable[str]) -> dict[str, Scope]:
    """The scope of each of these tokens that has one (others span everything)."""
    wanted = sorted(set(ids))
    found: dict[str, Scope] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for token_id, teams, environments in store.query(
            f"SELECT id, teams, environments FROM api_tokens WHERE id IN ({marks}) "
            "AND (teams IS NOT NULL OR environments IS NOT NULL)",
            chunk,
        ):
            found[token_id] = (_unnames(teams), _unnames(environments))
    return found


def service_teams(store: Store, services: Iterable[str]) -> dict[str, str | None]:
    """The team of each of these services the store knows."""
    wanted = sorted(set(services))
    if not wanted:
        return {}
    marks = ", ".join("?" for _ in wanted)
    rows = store.query(f"SELECT name, team FROM services WHERE name IN ({marks})", wanted)
    return {str(name): team for name, team in rows}


# --- users -----------------------------------------------------------------------------------


def _user(row: tuple[Any, ...]) -> UserRow:
    (uid, email, name, role, role_from, teams, envs, subject, by, created, signed, removed) = row
    return UserRow(
        uid,
        email,
        name,
        role,
        role_from,
        _unnames(teams),
        _unnames(envs),
        subject,
        by,
        created.replace(tzinfo=UTC),
        _aware(signed),
        _aware(removed),
    )


def list_users(store: Store) -> list[UserRow]:
    return [_user(r) for r in store.query(f"SELECT {_USER_COLUMNS} FROM users ORDER BY email")]


def find_user(
    store: Store, *, email: str | None = None, user_id: str | None = None
) -> UserRow | None:
    """The user with this e-mail address or id, removed or not."""
    column, value = ("email", email) if email is not None else ("id", user_id)
    rows = store.query(f"SELECT {_USER_COLUMNS} FROM users WHERE {column} = ?", [value])
    return _user(rows[0]) if rows else None


def insert_user(store: Store, user: UserRow) -> None:
    store.execute(
        f"INSERT INTO users ({_USER_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        _values(user),
    )


def update_user(store: Store, user: UserRow) -> None:
    """Write every field of `user` over the stored row with its id."""
    store.execute(
        "UPDATE users SET email = ?, name = ?, role = ?, role_from = ?, teams = ?, "
        "environments = ?, subject = ?, created_by = ?, created_at = ?, signed_in_at = ?, "
        "removed_at = ? WHERE id = ?",
        [*_values(user)[1:], user.id],
    )


def _values(user: UserRow) -> list[Any]:
    return [
        user.id,
        user.email,
        user.name,
        user.role,
        user.role_from,
        _names(user.teams),
        _names(user.environments),
        user.subject,
        user.created_by,
        _naive(user.created_at),
        _naive(user.signed_in_at),
        _naive(user.removed_at),
    ]
