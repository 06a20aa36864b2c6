"""Who is signed in to the web app, and the CSRF token their write forms carry.

A session is a cookie (HttpOnly, SameSite=Strict, Secure on https) holding the id, role and
name of the token a person signed in with, or of the user the identity provider vouched for,
and a random nonce, signed with HMAC-SHA256 under the server's session key. A token's secret
never leaves the login form: the browser keeps only what the server signed. Every page asks
the store whether the token is still live, or the user still there and with which role and
scope, so revoking a token, removing a user or changing their role holds at the next page.
A write form's CSRF token is an HMAC of the session's nonce under the same key: a page of
another site can neither read it nor forge it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from fastapi import Request
from fastapi.responses import Response

from headway.config import Settings
from headway.flags.tokens import Token
from headway.flags.users import as_token

__all__ = [
    "COOKIE",
    "LOGIN_COOKIE",
    "ROLES",
    "Keys",
    "Session",
    "WebRole",
    "current",
    "keep_login_nonce",
    "keys_of",
    "login_nonce",
    "session_token",
    "start",
    "stop",
]

COOKIE = "headway_session"
# Before a session there is the login form's own nonce, so a page of another site cannot sign
# a browser in to an account of its choosing (login CSRF).
LOGIN_COOKIE = "headway_login"
WebRole = Literal["viewer", "editor", "admin"]
# Each role can do what the roles before it can (as the API's tokens).
ROLES: tuple[WebRole, ...] = ("viewer", "editor", "admin")


@dataclass(frozen=True)
class Session:
    token_id: str  # the token's id, or the user's with `principal` "user"
    kind: WebRole
    name: str
    expires: int  # Unix time
    nonce: str
    principal: Literal["token", "user"] = "token"
    # Read from the store at each request (never trusted from the cookie): None spans all.
    teams: tuple[str, ...] | None = None
    environments: tuple[str, ...] | None = None

    def may(self, role: WebRole) -> bool:
        return ROLES.index(self.kind) >= ROLES.index(role)

    def may_change(self, environment: str | None) -> str | None:
        """Why this session may not change what `environment` (None: every one) serves."""
        if self.environments is None:
            return None
        if environment is None or environment not in self.environments:
            where = environment or "every environment"
            return f"You may change environments {', '.join(self.environments)} only, not {where}."
        return None

    @property
    def actor(self) -> str:
        """How the audit log names changes made in this session (as the API names a token)."""
        return f"{self.principal}:{self.name}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Keys:
    """Seals and opens session cookies and makes and checks CSRF tokens under one key."""

    def __init__(self, key: bytes, hours: float) -> None:
        self._key = key
        self.seconds = int(hours * 3600)

    def _mac(self, purpose: str, message: str) -> str:
        return _b64(hmac.new(self._key, f"{purpose}|{message}".encode(), hashlib.sha256).digest())

    def seal(self, session: Session) -> str:
        fields = {k: v for k, v in asdict(session).items() if k not in ("teams", "environments")}
        payload = _b64(json.dumps(fields, separators=(",", ":")).encode())
        return f"{payload}.{self._mac('session', payload)}"

    def open(self, cookie: str, now: float | None = None) -> Session | None:
        """The session a cookie holds, or None if it was not signed here or has expired."""
        payload, _, mac = cookie.partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac("session", payload).encode()):
            return None
        try:
            fields: dict[str, Any] = json.loads(_unb64(payload))
            session = Session(**fields)
        except (ValueError, TypeError):
            return None
        if session.kind not in ROLES or session.expires <= (now or time.time()):
            return None
        if session.principal not in ("token", "user"):
            return None
        return session

    def seal_value(self, purpose: str, text: str) -> str:
        """`text` signed for `purpose` (readable by the browser, not forgeable)."""
        payload = _b64(text.encode())
        return f"{payload}.{self._mac(purpose, payload)}"

    def open_value(self, purpose: str, sealed: str) -> str | None:
        """The text `seal_value` signed for `purpose`, or None."""
        payload, _, mac = sealed.partition(".")
        if not hmac.compare_digest(mac.encode(), self._mac(purpose, payload).encode()):
            return None
        try:
            return _unb64(payload).decode()
        except ValueError:
            return None

    def csrf(self, session: Session) -> str:
        return self._mac("csrf", session.nonce)

    def csrf_ok(self, session: Session, given: str | None) -> bool:
        return self._same(given, self.csrf(session))

    def login_csrf(self, nonce: str) -> str:
        return self._mac("login", nonce)

    def login_ok(self, nonce: str | None, given: str | None) -> bool:
        return nonce is not None and self._same(given, self.login_csrf(nonce))

    @staticmethod
    def _same(given: str | None, expected: str) -> bool:
        return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def keys_of(settings: Settings) -> Keys:
    """The configured session key, or a random one for this process (sessions then end when
    it restarts, and each worker signs its own)."""
    key = settings.session_key.encode() if settings.session_key else secrets.token_bytes(32)
    return Keys(key, settings.session_hours)


def current(request: Request) -> Session | None:
    """The live session the request's cookie holds, if any."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    keys: Keys = request.app.state.web_keys
    session = keys.open(cookie)
    if session is None:
        return None
    # Never cached: a token revoked or a user removed anywhere ends its sessions at the next
    # page, and a role or scope changed holds there too.
    if session.principal == "user":
        user = request.app.state.users.get(session.token_id)
        if user is None or user.role not in ROLES:
            return None
        return replace(
            session,
            kind=user.role,
            name=user.email,
            teams=user.teams,
            environments=user.environments,
        )
    scope = request.app.state.tokens.live_scope(session.token_id)
    if scope is None:
        return None
    teams, environments = scope
    return replace(session, teams=teams, environments=environments)


def session_token(request: Request) -> Token | None:
    """The credential behind the request's session, for the API's reads (`headway.api.auth`)."""
    session = current(request)
    if session is None:
        return None
    if session.principal == "user":
        user = request.app.state.users.get(session.token_id)
        return as_token(user) if user is not None and user.role in ROLES else None
    tokens = request.app.state.tokens.list()
    return next((t for t in tokens if t.id == session.token_id), None)


def start(
    request: Request,
    response: Response,
    token_id: str,
    kind: WebRole,
    name: str,
    principal: Literal["token", "user"] = "token",
) -> None:
    """Sign `response`'s browser in as the token (or user) `token_id`."""
    keys: Keys = request.app.state.web_keys
    session = Session(
        token_id, kind, name, int(time.time()) + keys.seconds, secrets.token_hex(16), principal
    )
    response.set_cookie(
        COOKIE,
        keys.seal(session),
        max_age=keys.seconds,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/",
    )


def login_nonce(request: Request) -> str:
    """The login form's nonce: the browser's own, or a new one."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_hex(16)


def keep_login_nonce(request: Request, response: Response, nonce: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
        path="/login",
    )


def stop(response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
