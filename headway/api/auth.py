"""Who may call what: every route needs a credential except `/healthz`, the webhooks (which
verify their source's signature) and the SDK and OFREP routes (which take an SDK key).

People and programs that are not SDKs hold a role token: `viewer` reads, `editor` also
changes flags, segments, notes and rollouts, `admin` also tokens, environments and imports.
A `scrape` token reads `/metrics` and nothing else. Routers declare what they need with the
dependencies below, once per router or per route; `tests/api/test_auth.py` walks every route
of the OpenAPI document to check that none was forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from headway.flags.tokens import Token

__all__ = [
    "Admin",
    "AuthError",
    "Editor",
    "Role",
    "Scraper",
    "Viewer",
    "accepting",
    "acting",
    "answer",
    "authenticate",
    "bearer",
    "require",
    "sdk_key",
]

Role = Literal["viewer", "editor", "admin"]
# Each role can do what the roles before it can.
_ROLES: tuple[Role, ...] = ("viewer", "editor", "admin")


class AuthError(Exception):
    """No credential (401) or one that may not do this (403); the message says which is needed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def answer(error: AuthError) -> JSONResponse:
    """The response for `error`, the same on every route."""
    return JSONResponse(
        {"error": str(error)},
        status_code=error.status,
        headers={"WWW-Authenticate": "Bearer"} if error.status == 401 else None,
    )


def bearer(request: Request) -> str | None:
    """The token from `Authorization: Bearer …` or `X-API-Key`."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return request.headers.get("x-api-key") or None


def authenticate(request: Request, kinds: tuple[str, ...]) -> Token:
    """The live token the request carries, if it is one of `kinds`."""
    secret = bearer(request)
    token: Token | None
    if secret is None:
        token = _signed_in(request)
        if token is None:
            raise AuthError(401, "send a token: Authorization: Bearer <token>")
    else:
        token = request.app.state.tokens.verify(secret)
        if token is None:
            raise AuthError(401, "unknown, expired or revoked token")
    if token.kind not in kinds:
        raise AuthError(
            403, f"{_a(token.kind)} token cannot do this: it takes {_a(' or '.join(kinds))} token"
        )
    # The environment whose CORS origins apply to this answer (headway.api.cors).
    request.state.headway_environment = token.environment
    request.state.headway_caller = f"token:{token.name}"  # named in the access log
    return token


def _signed_in(request: Request) -> Token | None:
    """The token of the person signed in to the web app, for a read: a page's JSON twin opens
    in the same browser. Reads only, since a cookie rides along on any request a page makes;
    a change needs the bearer token. The web app, when installed, sets the reader; the API
    does not know how its sessions are kept."""
    if request.method not in ("GET", "HEAD"):
        return None
    reader = getattr(request.app.state, "session_token", None)
    return reader(request) if reader is not None else None


def _a(words: str) -> str:
    return f"{'an' if words[0] in 'aeiou' else 'a'} {words}"


def acting(token: Token, claimed: str = "") -> str:
    """Who the audit names for a change made with `token`: always the token (`token:NAME`),
    never a name the request merely claims; a person it says it acts for follows it."""
    who = f"token:{token.name}"
    claimed = claimed.strip()
    return f"{who} for {claimed}" if claimed and claimed not in (who, token.name) else who


def accepting(*kinds: str) -> Callable[[Request], Token]:
    """A dependency admitting a live token of one of `kinds`."""

    def check(request: Request) -> Token:
        return authenticate(request, kinds)

    check.__name__ = f"accepting_{'_'.join(kinds)}"
    return check


def require(role: Role) -> Callable[[Request], Token]:
    """A dependency admitting role tokens of `role` or a stronger one."""
    return accepting(*_ROLES[_ROLES.index(role) :])


def sdk_key(*kinds: str) -> Callable[[Request], Token]:
    """A dependency admitting SDK keys of `kinds` (`server`, `client`)."""
    return accepting(*kinds)


Viewer = Annotated[Token, Depends(require("viewer"))]
Editor = Annotated[Token, Depends(require("editor"))]
Admin = Annotated[Token, Depends(require("admin"))]
# Prometheus' scrape token reads /metrics; so may a person with any role.
Scraper = Annotated[Token, Depends(accepting("scrape", *_ROLES))]
