"""Per-key request limits: a sender beyond its key's rate gets 429 with Retry-After.

Counted in memory per server process with a moving window (the `limits` library), so each
replica or worker grants its own allowance; a key spread over N processes may send N times
the limit in all, which still bounds what one key can write.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

__all__ = ["KeyRateLimit"]


class KeyRateLimit:
    """At most `rate` (e.g. "120/minute") requests per key."""

    def __init__(self, rate: str) -> None:
        self.item: RateLimitItem = parse(rate)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def retry_after(self, key: str) -> int | None:
        """Count one request of `key`: None when it may go on, else seconds to wait."""
        if self._limiter.hit(self.item, key):
            return None
        stats = self._limiter.get_window_stats(self.item, key)
        return max(1, math.ceil(stats.reset_time - time.time()))

    def __str__(self) -> str:
        return f"{self.item.amount} per {self.item.multiples} {self.item.GRANULARITY.name}"
