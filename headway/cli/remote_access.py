"""The token and user services of the CLI over a running `headway serve`: the same methods,
results and errors as `TokenService` and `UserService`, through the admin API."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote

from headway.cli.remote import Api
from headway.flags.service import NotFound
from headway.flags.tokens import Token
from headway.store.access import UserRow

__all__ = ["RemoteTokenService", "RemoteUserService"]


class RemoteTokenService:
    """The `TokenService` methods the CLI uses, through the admin API."""

    def __init__(self, api: Api) -> None:
        self._api = api

    def create(
        self,
        kind: str,
        *,
        name: str,
        actor: str,
        environment: str | None = None,
        expires_at: datetime | None = None,
        teams: Sequence[str] | None = None,
        environments: Sequence[str] | None = None,
    ) -> tuple[Token, str]:
        body = {
            "kind": kind,
            "name": name,
            "environment": environment,
            "expires_at": expires_at.isoformat() if expires_at else None,
            "teams": list(teams) if teams is not None else None,
            "environments": list(environments) if environments is not None else None,
        }
        found = self._api.call("POST", "/tokens", json=body)
        return _token(found), found["secret"]

    def list(self) -> list[Token]:
        return [_token(t) for t in self._api.call("GET", "/tokens")]

    def revoke(self, token_id: str, *, actor: str) -> bool:
        try:
            self._api.call("DELETE", f"/tokens/{token_id}")
        except NotFound:
            return False
        return True


def _token(found: Mapping[str, Any]) -> Token:
    revoked = found.get("revoked_at")
    expires = found.get("expires_at")
    return Token(
        id=found["id"],
        kind=found["kind"],
        environment=found["environment"],
        name=found["name"],
        created_by=found["created_by"],
        created_at=datetime.fromisoformat(found["created_at"]),
        revoked_at=datetime.fromisoformat(revoked) if revoked else None,
        expires_at=datetime.fromisoformat(expires) if expires else None,
        teams=_names(found.get("teams")),
        environments=_names(found.get("environments")),
    )


def _names(value: Sequence[str] | None) -> tuple[str, ...] | None:
    return None if value is None else tuple(value)


class RemoteUserService:
    """The `UserService` methods the CLI uses, through the admin API."""

    def __init__(self, api: Api) -> None:
        self._api = api

    def list(self, *, removed: bool = False) -> list[UserRow]:
        return [_user(u) for u in self._api.call("GET", "/users", params={"removed": removed})]

    def add(
        self,
        email: str,
        role: str,
        *,
        actor: str,
        name: str | None = None,
        teams: Sequence[str] | None = None,
        environments: Sequence[str] | None = None,
    ) -> UserRow:
        body = {"email": email, "role": role, "name": name, "teams": teams}
        found = self._api.call("POST", "/users", json={**body, "environments": environments})
        return _user(found)

    def set_role(
        self,
        email: str,
        role: str | None,
        *,
        actor: str,
        teams: Sequence[str] | None = None,
        environments: Sequence[str] | None = None,
    ) -> UserRow:
        body = {"role": role, "teams": teams, "environments": environments}
        return _user(self._api.call("PUT", f"/users/{quote(email, safe='@')}", json=body))

    def remove(self, email: str, *, actor: str) -> None:
        self._api.call("DELETE", f"/users/{quote(email, safe='@')}")


def _user(found: Mapping[str, Any]) -> UserRow:
    signed, removed = found.get("signed_in_at"), found.get("removed_at")
    return UserRow(
        id=found["id"],
        email=found["email"],
        name=found["name"],
        role=found["role"],
        role_from=found["role_from"],
        teams=_names(found.get("teams")),
        environments=_names(found.get("environments")),
        subject=None,
        created_by=found["created_by"],
        created_at=datetime.fromisoformat(found["created_at"]),
        signed_in_at=datetime.fromisoformat(signed) if signed else None,
        removed_at=datetime.fromisoformat(removed) if removed else None,
    )
