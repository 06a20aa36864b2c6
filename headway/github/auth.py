"""Authenticating as the app: a short JSON Web Token signed with its private key, exchanged for
an installation's access token, which is kept and renewed before it expires."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

import jwt

from headway.github.rest import GitHubClient, GitHubError

__all__ = ["REFRESH_BEFORE", "InstallationTokens", "app_jwt"]

# GitHub accepts an app JWT for at most ten minutes; the issue time is set a minute back so a
# clock slightly ahead of GitHub's does not make it "issued in the future".
JWT_LIFETIME: Final = timedelta(minutes=9)
CLOCK_SKEW: Final = timedelta(seconds=60)
# An installation token lives an hour; a new one is asked for this long before it ends, so a
# request never starts with a token that expires while it runs.
REFRESH_BEFORE: Final = timedelta(minutes=5)


def app_jwt(app_id: int, private_key: str, now: datetime) -> str:
    issued = now - CLOCK_SKEW
    claims = {
        "iat": int(issued.timestamp()),
        "exp": int((now + JWT_LIFETIME).timestamp()),
        "iss": str(app_id),
    }
    return jwt.encode(claims, private_key, algorithm="RS256")


@dataclass(frozen=True, slots=True)
class _Token:
    value: str
    expires_at: datetime


def _now() -> datetime:
    return datetime.now(UTC)


class InstallationTokens:
    """Installation access tokens of one app, asked for when first needed and renewed
    REFRESH_BEFORE their expiry; safe to share between threads."""

    def __init__(
        self,
        client: GitHubClient,
        app_id: int,
        private_key: str,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.client = client
        self.app_id = app_id
        self._key = private_key
        self.clock = clock
        self._tokens: dict[int, _Token] = {}
        self._lock = threading.Lock()

    def app_token(self) -> str:
        return app_jwt(self.app_id, self._key, self.clock())

    def token(self, installation_id: int) -> str:
        with self._lock:
            held = self._tokens.get(installation_id)
            if held is not None and held.expires_at - self.clock() > REFRESH_BEFORE:
                return held.value
            body = self.client.json(
                "POST",
                f"/app/installations/{installation_id}/access_tokens",
                token=self.app_token(),
            )
            try:
                fresh = _Token(
                    str(body["token"]),
                    datetime.fromisoformat(str(body["expires_at"]).replace("Z", "+00:00")),
                )
            except (KeyError, TypeError, ValueError):
                raise GitHubError(
                    201, "POST", "/app/installations/…/access_tokens", "no token in the answer"
                ) from None
            self._tokens[installation_id] = fresh
            return fresh.value

    def forget(self, installation_id: int) -> None:
        """Drop a token GitHub no longer accepts (a 401), so the next call asks again."""
        with self._lock:
            self._tokens.pop(installation_id, None)
