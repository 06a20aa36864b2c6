"""People who sign in to the web app through an identity provider, and their roles.

A user is known by e-mail address. Their role is `viewer`, `editor` or `admin`, optionally
scoped to teams or environments as a token's is, and comes from one of two places: an admin
(`headway users add` or `set-role`: kept over every sign-in) or the identity provider's group
claims, mapped by HEADWAY_OIDC_ROLE_MAP each time the person signs in. A person with neither
is refused, and so is a removed user until an admin adds them back. Every change is audited.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Literal

from headway.flags import store as rows
from headway.flags.model import ConfigError, Issue
from headway.flags.tokens import SCOPED_KINDS, Token, check_scope
from headway.store import Store, access
from headway.store.access import UserRow

__all__ = ["ROLES", "Refused", "UserRow", "UserService", "as_token", "role_of_groups"]

UserRole = Literal["viewer", "editor", "admin"]
# The least power first: a person in several mapped groups gets the strongest role.
ROLES: tuple[UserRole, ...] = ("viewer", "editor", "admin")


class Refused(Exception):
    """This person may not sign in; the message says why and what to do."""


def role_of_groups(groups: Iterable[str], role_map: Mapping[str, str]) -> UserRole | None:
    """The strongest role `role_map` gives any of `groups`, or None."""
    given = [role_map[g] for g in groups if g in role_map]
    ranked = [r for r in ROLES if r in given]
    return ranked[-1] if ranked else None


def as_token(user: UserRow) -> Token:
    """The user as the credential the API's checks read (`user:EMAIL` in the audit log)."""
    assert user.role in ROLES
    return Token(
        id=f"user:{user.id}",
        kind=user.role,
        environment=None,
        name=user.email,
        created_by=user.created_by,
        created_at=user.created_at,
        teams=user.teams,
        environments=user.environments,
    )


class UserService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def list(self, *, removed: bool = False) -> list[UserRow]:
        return [u for u in access.list_users(self.store) if removed or u.removed_at is None]

    def get(self, user_id: str) -> UserRow | None:
        """The live (not removed) user with this id."""
        user = access.find_user(self.store, user_id=user_id)
        return user if user is not None and user.removed_at is None else None

    def add(
        self,
        email: str,
        role: str,
        *,
        actor: str,
        name: str | None = None,
        teams: Iterable[str] | None = None,
        environments: Iterable[str] | None = None,
    ) -> UserRow:
        """Grant `email` a role (an admin's grant, kept over sign-ins); adds back a removed
        user. A user already present is a conflict: change them with `set_role`."""
        address = _email(email)
        team_scope, environment_scope = self._scope(role, teams, environments)
        now = datetime.now(UTC)
        with self.store.transaction() as tx:
            found = access.find_user(tx, email=address)
            if found is not None and found.removed_at is None:
                raise ConfigError(
                    [
                        Issue(
                            path="email",
                            message=f"{address} is a user already: change their role with "
                            "`headway users set-role`",
                        )
                    ]
                )
            user = UserRow(
                found.id if found else secrets.token_hex(6),
                address,
                (name or "").strip() or (found.name if found else address),
                role,
                "admin",
                team_scope,
                environment_scope,
                found.subject if found else None,
                actor,
                now,
                found.signed_in_at if found else None,
                None,
            )
            if found is None:
                access.insert_user(tx, user)
            else:
                access.update_user(tx, user)
            self._audit(tx, actor, user, "add", None, now)
        return user

    def set_role(
        self,
        email: str,
        role: str | None,
        *,
        actor: str,
        teams: Iterable[str] | None = None,
        environments: Iterable[str] | None = None,
    ) -> UserRow:
        """Change a user's role and scope; `role` None hands the role back to the identity
        provider's groups (from the next sign-in)."""
        address = _email(email)
        # The scope given replaces the old one, whoever decides the role.
        team_scope, environment_scope = self._scope(role or "viewer", teams, environments)
        now = datetime.now(UTC)
        with self.store.transaction() as tx:
            before = self._live(tx, address)
            after = replace(
                before,
                role=role if role is not None else before.role,
                role_from="admin" if role is not None else "groups",
                teams=team_scope,
                environments=environment_scope,
            )
            access.update_user(tx, after)
            self._audit(tx, actor, after, "set-role", before, now)
        return after

    def remove(self, email: str, *, actor: str) -> UserRow:
        """Remove a user: their sessions end at their next request and signing in again is
        refused until an admin adds them back."""
        now = datetime.now(UTC)
        with self.store.transaction() as tx:
            before = self._live(tx, _email(email))
            after = replace(before, removed_at=now)
            access.update_user(tx, after)
            self._audit(tx, actor, after, "remove", before, now)
        return after

    def sign_in(
        self, email: str, name: str, subject: str, mapped: UserRole | None, issuer: str
    ) -> UserRow:
        """The user an identity provider vouches for, with the role their groups map to
        (`mapped`), or `Refused`. An admin's grant outranks the groups."""
        address = _email(email)
        now = datetime.now(UTC)
        actor = f"oidc:{issuer}"
        with self.store.transaction() as tx:
            found = access.find_user(tx, email=address)
            if found is not None and found.removed_at is not None:
                raise Refused(f"{address} was removed by an admin; ask one to add you back")
            if found is not None and found.subject not in (None, subject):
                raise Refused(
                    f"{address} signed in before as another account of the identity provider; "
                    "ask an admin to remove and add the user again"
                )
            if found is not None and found.role_from == "admin":
                user = replace(found, subject=subject, signed_in_at=now, name=name or found.name)
                access.update_user(tx, user)
                return user
            if mapped is None:
                raise Refused(
                    f"none of {address}'s groups is given a role (HEADWAY_OIDC_ROLE_MAP); "
                    "ask an admin to map one of your groups or to add you"
                )
            if found is None:
                user = UserRow(
                    secrets.token_hex(6), address, name or address, mapped, "groups",
                    None, None, subject, actor, now, now, None,
                )  # fmt: skip
                access.insert_user(tx, user)
                self._audit(tx, actor, user, "add", None, now)
                return user
            user = replace(found, role=mapped, subject=subject, signed_in_at=now)
            access.update_user(tx, user)
            if found.role != mapped:
                self._audit(tx, actor, user, "set-role", found, now)
            return user

    # -- helpers ------------------------------------------------------------------------

    def _scope(
        self, role: str, teams: Iterable[str] | None, environments: Iterable[str] | None
    ) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
        if role not in ROLES:
            raise ConfigError([Issue(path="role", message=f"must be one of {', '.join(ROLES)}")])
        assert set(SCOPED_KINDS) <= set(ROLES)
        known = [e.key for e in rows.list_environments(self.store)]
        return check_scope(role, teams, environments, known)

    @staticmethod
    def _live(store: Store, email: str) -> UserRow:
        from headway.flags.service import NotFound

        found = access.find_user(store, email=email)
        if found is None or found.removed_at is not None:
            raise NotFound(f"no user {email}; `headway users list` lists them")
        return found

    @staticmethod
    def _audit(
        store: Store, actor: str, user: UserRow, action: str, before: UserRow | None, at: datetime
    ) -> None:
        rows.insert_audit(
            store,
            actor=actor,
            entity="user",
            entity_id=user.email,
            action=action,
            before=_document(before) if before else None,
            after=_document(user),
            at=at,
        )


def _document(user: UserRow) -> dict[str, object]:
    return {
        "role": user.role,
        "role_from": user.role_from,
        "teams": list(user.teams) if user.teams is not None else None,
        "environments": list(user.environments) if user.environments is not None else None,
        "removed": user.removed_at is not None,
    }


def _email(text: str) -> str:
    address = text.strip().lower()
    local, at, domain = address.partition("@")
    if not (local and at and domain) or any(c.isspace() for c in address) or len(address) > 254:
        raise ConfigError(
            [Issue(path="email", message=f"{text!r} is not an e-mail address like ann@example.com")]
        )
    return address
