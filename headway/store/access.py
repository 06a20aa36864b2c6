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
from sqlalchemy import bindparam, select, update

from headway.store.base import Store
from headway.store.schema import api_tokens, services, users

__all__ = [
    "Scope",
    "UserRow",
    "all_service_teams",
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
    "id",
    "email",
    "name",
    "role",
    "role_from",
    "teams",
    "environments",
    "subject",
    "created_by",
    "created_at",
    "signed_in_at",
    "removed_at",
)
_USER = select(*(users.c[c] for c in _USER_COLUMNS))
_USERS = _USER.order_by(users.c.email)
_USER_BY_EMAIL = _USER.where(users.c.email == bindparam("value"))
_USER_BY_ID = _USER.where(users.c.id == bindparam("value"))
_SAVE_SCOPE = (
    update(api_tokens)
    .where(api_tokens.c.id == bindparam("token_id"))
    .values(teams=bindparam("v_teams"), environments=bindparam("v_environments"))
)
_INSERT_USER = users.insert().values({c: bindparam(f"v_{c}") for c in _USER_COLUMNS})
_UPDATE_USER = (
    update(users)
    .where(users.c.id == bindparam("user_id"))
    .values({c: bindparam(f"v_{c}") for c in _USER_COLUMNS[1:]})
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
    store.run(
        _SAVE_SCOPE, token_id=token_id, v_teams=_names(teams), v_environments=_names(environments)
    )


def token_scopes(store: Store, ids: Iterable[str]) -> dict[str, Scope]:
    """The scope of each of these tokens that has one (others span everything)."""
    wanted = sorted(set(ids))
    found: dict[str, Scope] = {}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        statement = select(api_tokens.c.id, api_tokens.c.teams, api_tokens.c.environments).where(
            api_tokens.c.id.in_(chunk),
            api_tokens.c.teams.is_not(None) | api_tokens.c.environments.is_not(None),
        )
        for token_id, teams, environments in store.rows(statement):
            found[token_id] = (_unnames(teams), _unnames(environments))
    return found


_ALL_SERVICES = select(services.c.name, services.c.team).order_by(services.c.name)


def all_service_teams(store: Store) -> dict[str, str | None]:
    """Every service the store knows, by name, with its team."""
    return {str(name): team for name, team in store.rows(_ALL_SERVICES)}


def service_teams(store: Store, services_named: Iterable[str]) -> dict[str, str | None]:
    """The team of each of these services the store knows."""
    wanted = sorted(set(services_named))
    if not wanted:
        return {}
    statement = select(services.c.name, services.c.team).where(services.c.name.in_(wanted))
    return {str(name): team for name, team in store.rows(statement)}


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
    return [_user(r) for r in store.rows(_USERS)]


def find_user(
    store: Store, *, email: str | None = None, user_id: str | None = None
) -> UserRow | None:
    """The user with this e-mail address or id, removed or not."""
    if email is not None:
        rows = store.rows(_USER_BY_EMAIL, value=email)
    else:
        rows = store.rows(_USER_BY_ID, value=user_id)
    return _user(rows[0]) if rows else None


def insert_user(store: Store, user: UserRow) -> None:
    store.run(_INSERT_USER, **{f"v_{c}": v for c, v in _values(user).items()})


def update_user(store: Store, user: UserRow) -> None:
    """Write every field of `user` over the stored row with its id."""
    values = {f"v_{c}": v for c, v in _values(user).items() if c != "id"}
    store.run(_UPDATE_USER, user_id=user.id, **values)


def _values(user: UserRow) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "role_from": user.role_from,
        "teams": _names(user.teams),
        "environments": _names(user.environments),
        "subject": user.subject,
        "created_by": user.created_by,
        "created_at": _naive(user.created_at),
        "signed_in_at": _naive(user.signed_in_at),
        "removed_at": _naive(user.removed_at),
    }
