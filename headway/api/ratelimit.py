"""Per-key request limits: a sender beyond its key's rate gets 429 with Retry-After.

Counted in memory per server process with a moving window (the `limits` library), so each
replica or worker grants its own allowance; a key spread over N processes may send N times
the limit in all, which still bounds what one key can write. Three limits use it: guardrail
samples per SDK key (`HEADWAY_SAMPLE_RATE_LIMIT`), tokens made per caller
(`HEADWAY_TOKEN_RATE_LIMIT`) and failed sign-ins per client address
(`HEADWAY_LOGIN_RATE_LIMIT`, which counts failures only: a person who signs in is never held).
"""

from __future__ import annotations

import math
import time
from typing import Any

from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["KeyRateLimit", "login_limit", "token_limit", "too_many"]


class KeyRateLimit:
    """At most `rate` (e.g. "120/minute") requests per key."""

    def __init__(self, rate: str) -> None:
        self.item: RateLimitItem = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, key: str) -> int | None:
        """Count one request of `key`: None when it may go on, else seconds to wait."""
        if self._limiter.hit(self.item, key):
            return None
        return self._wait(key)

    def held(self, key: str) -> int | None:
        """Without counting: seconds `key` must wait, or None when it may go on."""
        if self._limiter.test(self.item, key):
            return None
        return self._wait(key)

    def count(self, key: str) -> None:
        """Count one event of `key` (a failed sign-in) without asking whether it may."""
        self._limiter.hit(self.item, key)

    def _wait(self, key: str) -> int:
        stats = self._limiter.get_window_stats(self.item, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def __str__(self) -> str:
        return f"{self.item.amount} per {self.item.multiples} {self.item.GRANULARITY.name}"


def _shared(app: Any, name: str, setting: str) -> KeyRateLimit:
    """The app's limit `name`, made from its setting the first time it is asked for."""
    limit: KeyRateLimit | None = getattr(app.state, name, None)
    if limit is None:
        limit = KeyRateLimit(getattr(app.state.settings, setting))
        setattr(app.state, name, limit)
    return limit


def token_limit(app: Any) -> KeyRateLimit:
    return _shared(app, "token_limit", "token_rate_limit")


def login_limit(app: Any) -> KeyRateLimit:
    return _shared(app, "login_limit", "login_rate_limit")


def too_many(limit: KeyRateLimit, key: str, what: str, setting: str) -> JSONResponse | None:
    """Count one request of `key`: None, or the 429 (with Retry-After) once it is over."""
    wait = limit.retry_after(key)
    if wait is None:
        return None
    return JSONResponse(
        {"error": f"too many {what}: at most {limit} ({setting}); retry in {wait} s"},
        status_code=429,
        headers={"Retry-After": str(wait)},
    )
