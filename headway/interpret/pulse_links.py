"""Survey links: a team's pulse answered by anyone holding the link, without a token.

An admin makes one per team (`headway pulse link`, `POST /api/pulse/links`); its code is
random (32 URL-safe characters, 192 bits), shown once, and stored as its SHA-256 digest with
the team and an expiry. `resolve` turns a code back into its team, or says why it cannot: no
such link (404) or one that expired (410).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from headway.interpret.pulse import PulseError, check_team
from headway.metrics.scope import iso
from headway.store import Store, audit
from headway.store import pulse as statements

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "LinkExpired",
    "LinkNotFound",
    "create",
    "digest",
    "resolve",
]

DEFAULT_DAYS = 14
MAX_DAYS = 90
_CODE = re.compile(r"[A-Za-z0-9_-]{32}")


class LinkNotFound(Exception):
    """No survey link has this code."""


class LinkExpired(Exception):
    """The survey link expired: `expired_at` says when."""

    def __init__(self, expired_at: datetime) -> None:
        super().__init__(f"this survey link expired on {expired_at:%Y-%m-%d %H:%M} UTC")
        self.expired_at = expired_at


def digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def create(store: Store, team: str, days: int, *, actor: str, now: datetime) -> dict[str, Any]:
    """A new link to `team`'s pulse, open for `days` days from `now`: its code (shown only
    here), its path and when it expires."""
    if not 1 <= days <= MAX_DAYS:
        raise PulseError(
            f"days is {days}: a link stays open from 1 to {MAX_DAYS} days; make a new one "
            "for the next pulse",
            "days",
        )
    check_team(store, team)
    code = secrets.token_urlsafe(24)
    at = now.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    expires = at + timedelta(days=days)
    hashed = digest(code)
    with store.transaction():
        statements.insert_link(
            store, code_hash=hashed, team=team, created_by=actor, created_at=at, expires_at=expires
        )
        audit.append(
            store,
            actor=actor,
            entity="pulse_link",
            entity_id=hashed[:16],
            action="create",
            before=None,
            after={"team": team, "expires_at": iso(expires)},
            at=now,
        )
    return {"team": team, "code": code, "path": f"/pulse/{code}", "expires_at": iso(expires)}


def resolve(store: Store, code: str, now: datetime) -> str:
    """The team whose link has this code, if it is still open at `now`."""
    if not _CODE.fullmatch(code):  # not a code Headway makes: no need to ask the store
        raise LinkNotFound(code)
    found = statements.link(store, digest(code))
    if found is None:
        raise LinkNotFound(code)
    team, expires = found
    if expires <= now.astimezone(UTC).replace(tzinfo=None):
        raise LinkExpired(expires)
    return team
