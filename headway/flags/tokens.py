"""API tokens with scopes: admin tokens change flags; server SDK keys read one environment's
full configuration; client keys may only evaluate through OFREP in one environment.

Only a SHA-256 of each secret is stored; the secret is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from headway.flags import store as rows
from headway.flags.model import ConfigError, Issue
from headway.store import Store

__all__ = ["KINDS", "Token", "TokenKind", "TokenService"]

TokenKind = Literal["admin", "server", "client"]
KINDS: tuple[TokenKind, ...] = ("admin", "server", "client")
# How long a verified secret is trusted without asking the store again: a revocation made on
# another replica holds here within this many seconds (made here, at once).
CACHE_SECONDS = 2.0
_PREFIX = {"admin": "hwa", "server": "hws", "client": "hwc"}


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    kind: TokenKind
    environment: str | None
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenService:
    def __init__(self, store: Store, cache_seconds: float = CACHE_SECONDS) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        # digest -> (expiry, token); cleared at once on changes made here.
        self._cache: dict[str, tuple[float, Token | None]] = {}

    def create(
        self, kind: str, *, name: str, actor: str, environment: str | None = None
    ) -> tuple[Token, str]:
        """Create a token; returns it and its secret (shown only now)."""
        if kind not in KINDS:
            raise ConfigError([Issue(path="kind", message=f"must be one of {', '.join(KINDS)}")])
        if kind == "admin" and environment is not None:
            raise ConfigError([Issue(path="environment", message="admin tokens span environments")])
        if kind != "admin":
            known = [e.key for e in rows.list_environments(self.store)]
            if environment not in known:
                raise ConfigError(
                    [
                        Issue(
                            path="environment",
                            message=f"{kind} keys need one of: {', '.join(known)}",
                        )
                    ]
                )
        token_id = secrets.token_hex(4)
        secret = f"{_PREFIX[kind]}_{token_id}_{secrets.token_urlsafe(24)}"
        now = datetime.now(UTC)
        token = Token(token_id, kind, environment, name, actor, now)
        with self.store.transaction() as tx:
            tx.execute(
                "INSERT INTO api_tokens VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
                [
                    token_id,
                    kind,
                    environment,
                    name,
                    _digest(secret),
                    actor,
                    now.replace(tzinfo=None),
                ],
            )
            rows.insert_audit(
                tx,
                actor=actor,
                entity="token",
                entity_id=token_id,
                action="create",
                before=None,
                after={"kind": kind, "environment": environment, "name": name},
                at=now,
            )
        self._cache.clear()
        return token, secret

    def verify(self, secret: str) -> Token | None:
        """The live token with this secret, or None."""
        digest = _digest(secret)
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        found = self.store.query(
            "SELECT id, kind, environment, name, created_by, created_at, revoked_at "
            "FROM api_tokens WHERE secret_hash = ? AND revoked_at IS NULL",
            [digest],
        )
        token = _token(found[0]) if found else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[digest] = (time.monotonic() + self.cache_seconds, token)
        return token

    def live_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of these token ids are still live, read from the store (never cached)."""
        wanted = sorted(set(ids))
        live: set[str] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            found = self.store.query(
                f"SELECT id FROM api_tokens WHERE id IN ({marks}) AND revoked_at IS NULL", chunk
            )
            live.update(r[0] for r in found)
        return live

    def list(self) -> list[Token]:
        found = self.store.query(
            "SELECT id, kind, environment, name, created_by, created_at, revoked_at "
            "FROM api_tokens ORDER BY created_at"
        )
        return [_token(r) for r in found]

    def revoke(self, token_id: str, *, actor: str) -> bool:
        now = datetime.now(UTC)
        with self.store.transaction() as tx:
            if not tx.query(
                "SELECT 1 FROM api_tokens WHERE id = ? AND revoked_at IS NULL", [token_id]
            ):
                return False
            tx.execute(
                "UPDATE api_tokens SET revoked_at = ? WHERE id = ?",
                [now.replace(tzinfo=None), token_id],
            )
            rows.insert_audit(
                tx,
                actor=actor,
                entity="token",
                entity_id=token_id,
                action="revoke",
                before=None,
                after=None,
                at=now,
            )
        self._cache.clear()
        return True


def _token(row: tuple[Any, ...]) -> Token:
    tid, kind, env, name, by, created, revoked = row
    return Token(
        tid,
        kind,
        env,
        name,
        by,
        created.replace(tzinfo=UTC),
        revoked.replace(tzinfo=UTC) if revoked else None,
    )
