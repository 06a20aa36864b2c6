"""Counting requests per key in a moving window: the limits the server applies.

Counted in memory per server process (the `limits` library), so each replica or worker grants
its own allowance. The API (`headway.api.ratelimit`) and the web app share the app's limits
through `shared`, so a sign-in refused on one counts on the other.
"""

from __future__ import annotations

import math
import time
from typing import Any

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["KeyRateLimit", "shared"]


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


def shared(app: Any, name: str, setting: str) -> KeyRateLimit:
    """The app's limit `name`, made from its setting the first time it is asked for."""
    limit: KeyRateLimit | None = getattr(app.state, name, None)
    if limit is None:
        limit = KeyRateLimit(getattr(app.state.settings, setting))
        setattr(app.state, name, limit)
    return limit
