"""API tokens and their scopes.

Role tokens (for people, scripts and the CLI): `viewer` reads, `editor` also changes flags,
segments, notes and rollouts, `admin` also manages tokens, environments and imports. A `scrape`
token reads Prometheus' `/metrics` only. SDK keys belong to one environment: `server` keys read
its full configuration, `client` keys may only evaluate client-side flags through OFREP.
A token may expire; after that it is refused like a revoked one. A viewer or editor token may
be scoped to teams (the delivery records it reads, the notes it writes) or to environments
(the flag and rollout changes it makes); `headway.api.scopes` says what each scope admits.

Only a SHA-256 of each secret is stored; the secret is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Literal, cast

from headway.flags import store as rows
from headway.flags.model import ConfigError, Issue
from headway.store import Store, access
from headway.store import tokens as statements
from headway.store.readers import Lend, own

__all__ = ["KINDS", "SCOPED_KINDS", "Token", "TokenKind", "TokenService", "check_scope"]

TokenKind = Literal["admin", "editor", "viewer", "scrape", "server", "client"]
KINDS: tuple[TokenKind, ...] = ("admin", "editor", "viewer", "scrape", "server", "client")
# Kinds that belong to one environment; the others span them all.
SDK_KINDS: tuple[TokenKind, ...] = ("server", "client")
# Kinds that may be narrowed to teams or environments: an admin grants every scope, so scoping
# one would be a promise the role cannot keep; scrape tokens and SDK keys have their own.
SCOPED_KINDS: tuple[TokenKind, ...] = ("viewer", "editor")
# How long a verified secret is trusted without asking the store again: a revocation made on
# another replica holds here within this many seconds (made here, at once).
CACHE_SECONDS = 2.0
_PREFIX = {
    "admin": "hwa",
    "editor": "hwe",
    "viewer": "hwv",
    "scrape": "hwm",
    "server": "hws",
    "client": "hwc",
}


@dataclass(frozen=True, slots=True)
class Token:
    id: str
    kind: TokenKind
    environment: str | None
    name: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    # None spans every team (environment); a tuple names the only ones this token reaches.
    teams: tuple[str, ...] | None = None
    environments: tuple[str, ...] | None = None

    def live(self, now: datetime) -> bool:
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)

    @property
    def scoped(self) -> bool:
        return self.teams is not None or self.environments is not None

    def scope_text(self) -> str:
        """The scope in words, for refusals and listings: `teams payments; environments staging`."""
        parts = [
            f"{label} {', '.join(names)}"
            for label, names in (("teams", self.teams), ("environments", self.environments))
            if names is not None
        ]
        return "; ".join(parts) or "every team and environment"


def check_scope(
    kind: str,
    teams: Iterable[str] | None,
    environments: Iterable[str] | None,
    known_environments: Iterable[str],
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """Teams and environments as stored (sorted, without repeats), or a `ConfigError` naming
    what cannot be: a scope on a kind that takes none, an empty name, an unknown environment."""
    issues: list[Issue] = []
    clean: list[tuple[str, ...] | None] = []
    for field, names in (("teams", teams), ("environments", environments)):
        if names is None:
            clean.append(None)
            continue
        given = tuple(sorted({n.strip() for n in names}))
        if kind not in SCOPED_KINDS:
            issues.append(Issue(path=field, message=f"only viewer and editor roles take {field}"))
        elif not given or any(not n for n in given):
            issues.append(Issue(path=field, message="name at least one, none of them blank"))
        clean.append(given)
    known = set(known_environments)
    unknown = [e for e in clean[1] or () if e not in known]
    if unknown and not issues:
        issues.append(
            Issue(
                path="environments",
                message=f"no environment {', '.join(unknown)}: `headway flags env list` lists them",
            )
        )
    if issues:
        raise ConfigError(issues)
    return clean[0], clean[1]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class TokenService:
    """Tokens of `store`. The checks made on every request (`verify`, `live_ids`,
    `live_scope`) read through `reads` (a server's `app.state.lookups`: connections of their
    own, so that a check never queues behind a write); other reads and every write use the
    store. A change made here is committed before the cache is cleared, so the next check,
    on whichever connection, sees it."""

    def __init__(
        self, store: Store, cache_seconds: float = CACHE_SECONDS, reads: Lend | None = None
    ) -> None:
        self.store = store
        self.cache_seconds = cache_seconds
        self._reads = reads or own(store)
        # digest -> (expiry, token); cleared at once on changes made here.
        self._cache: dict[str, tuple[float, Token | None]] = {}
        # Counts the changes made here: a check that read before one must not cache what it
        # read after the cache was cleared (a revoked token would be admitted for seconds).
        self._changes = 0

    def create(
        self,
        kind: str,
        *,
        name: str,
        actor: str,
        environment: str | None = None,
        expires_at: datetime | None = None,
        teams: Iterable[str] | None = None,
        environments: Iterable[str] | None = None,
    ) -> tuple[Token, str]:
        """Create a token; returns it and its secret (shown only now)."""
        if kind not in KINDS:
            raise ConfigError([Issue(path="kind", message=f"must be one of {', '.join(KINDS)}")])
        known = [e.key for e in rows.list_environments(self.store)]
        team_scope, environment_scope = check_scope(kind, teams, environments, known)
        if kind not in SDK_KINDS and environment is not None:
            raise ConfigError(
                [Issue(path="environment", message=f"{kind} tokens span environments")]
            )
        now = datetime.now(UTC)
        if expires_at is not None:
            if expires_at.tzinfo is None:
                expires_at = expires_at.replace(tzinfo=UTC)
            if expires_at <= now:
                raise ConfigError([Issue(path="expires_at", message="must be in the future")])
        if kind in SDK_KINDS and environment not in known:
            raise ConfigError(
                [Issue(path="environment", message=f"{kind} keys need one of: {', '.join(known)}")]
            )
        token_id = secrets.token_hex(4)
        secret = f"{_PREFIX[kind]}_{token_id}_{secrets.token_urlsafe(24)}"
        token = Token(
            token_id, kind, environment, name, actor, now, None, expires_at,
            team_scope, environment_scope,
        )  # fmt: skip
        with self.store.transaction() as tx:
            statements.insert_token(
                tx,
                id=token_id,
                kind=kind,
                environment=environment,
                name=name,
                secret_hash=_digest(secret),
                created_by=actor,
                created_at=now.replace(tzinfo=None),
                expires_at=expires_at.astimezone(UTC).replace(tzinfo=None) if expires_at else None,
            )
            if token.scoped:
                access.save_token_scope(tx, token_id, team_scope, environment_scope)
            rows.insert_audit(
                tx,
                actor=actor,
                entity="token",
                entity_id=token_id,
                action="create",
                before=None,
                after={
                    "kind": kind,
                    "environment": environment,
                    "name": name,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                    **({"teams": list(team_scope)} if team_scope is not None else {}),
                    **(
                        {"environments": list(environment_scope)}
                        if environment_scope is not None
                        else {}
                    ),
                },
                at=now,
            )
        self._changed()
        return token, secret

    def bootstrap(self) -> str | None:
        """An admin token's secret when the store has no live admin token, else None: the first
        way in to a server whose every route needs a token."""
        now = datetime.now(UTC)
        if any(t.kind == "admin" and t.live(now) for t in self.list()):
            return None
        _, secret = self.create("admin", name="bootstrap", actor="headway serve")
        return secret

    def verify(self, secret: str) -> Token | None:
        """The live token with this secret, or None (unknown, revoked or expired)."""
        digest = _digest(secret)
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > time.monotonic():
            cached = hit[1]
            return cached if cached is None or cached.live(datetime.now(UTC)) else None
        changes = self._changes
        with self._reads() as reader:
            found = statements.token_by_digest(reader, digest)
            token = _scoped(reader, [_token(found)])[0] if found else None
        if token is not None and not token.live(datetime.now(UTC)):
            token = None
        if len(self._cache) > 10_000:
            self._cache.clear()
        if changes == self._changes:
            self._cache[digest] = (time.monotonic() + self.cache_seconds, token)
        return token

    def live_ids(self, ids: Iterable[str]) -> set[str]:
        """Which of these token ids are still live (neither revoked nor expired), read from the
        store (never cached)."""
        wanted = sorted(set(ids))
        live: set[str] = set()
        with self._reads() as reader:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                now = datetime.now(UTC).replace(tzinfo=None)
                live |= statements.live_ids(reader, chunk, now)
        return live

    def live_scope(self, token_id: str) -> access.Scope | None:
        """The teams and environments of token `token_id` if it is live, else None; read from
        the store (never cached), as a web session's token is on every page."""
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._reads() as reader:
            if not statements.live_ids(reader, [token_id], now):
                return None
            return access.token_scopes(reader, [token_id]).get(token_id, (None, None))

    def list(self) -> list[Token]:
        return _scoped(self.store, [_token(r) for r in statements.token_rows(self.store)])

    def revoke(self, token_id: str, *, actor: str) -> bool:
        now = datetime.now(UTC)
        with self.store.transaction() as tx:
            if not statements.unrevoked(tx, token_id):
                return False
            statements.revoke(tx, token_id, now.replace(tzinfo=None))
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
        self._changed()
        return True

    def _changed(self) -> None:
        """After a change here commits: no answer read before it is served from now on."""
        self._changes += 1
        self._cache.clear()


def _scoped(store: Store, tokens: list[Token]) -> list[Token]:
    """`tokens` with the teams and environments they are scoped to."""
    scopes = access.token_scopes(store, (t.id for t in tokens))
    return [
        replace(t, teams=scopes[t.id][0], environments=scopes[t.id][1]) if t.id in scopes else t
        for t in tokens
    ]


def _token(row: statements.TokenRow) -> Token:
    tid, kind, env, name, by, created, revoked, expires = row
    return Token(
        tid,
        cast(TokenKind, kind),
        env,
        name,
        by,
        created.replace(tzinfo=UTC),
        revoked.replace(tzinfo=UTC) if revoked else None,
        expires.replace(tzinfo=UTC) if expires else None,
    )
