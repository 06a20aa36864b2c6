"""Metric telemetry in the SDK: which variant each user was served, and `track()` aggregates.

A tracked value is attributed to the variant its context's targeting key was last served, for
every flag that served it. Values are aggregated per (flag, variant, metric) as a count, a sum
and a sum of squares, which is all the rollout judge needs for rates and means.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

__all__ = ["METRIC_NAME", "MetricSums", "ServedVariants"]

# The same rule the server applies to guardrail metric names (headway.rollouts.guardrails).
METRIC_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")


class ServedVariants:
    """The variant each targeting key was last served, per flag, for the most recent keys.

    `current` maps a targeting key to {flag: variant}; the SDK's compiled evaluators write into
    it directly (see `headway.flags.evaluate.Recorder`), asking `admit(key)` for the entry of a
    key it lacks. Memory is bounded by two generations of at most `capacity // 2` keys: when
    `current` is full its entries become the previous generation, replacing the older one, and
    it starts again empty. `current` keeps its identity, and evaluations only ever make single
    dictionary operations on it, so evaluations on many threads need no lock; a race at a
    rotation can forget a few keys, never corrupt the map.
    """

    def __init__(self, capacity: int = 100_000) -> None:
        self._half = max(capacity // 2, 1)
        self.current: dict[str, dict[str, str]] = {}
        self._previous: dict[str, dict[str, str]] = {}
        self._rotating = threading.Lock()

    def admit(self, key: str) -> dict[str, str]:
        """The entry of `key`, new to `current`, making room first when it is full."""
        current = self.current
        if len(current) >= self._half:
            with self._rotating:  # one thread rotates; the others then find room
                if len(current) >= self._half:
                    self._previous = current.copy()
                    current.clear()
        return current.setdefault(key, {})

    def served(self, key: str) -> dict[str, str]:
        """{flag: variant} last served to `key` (the current generation wins)."""
        found = dict(self._previous.get(key) or {})
        found.update(self.current.get(key) or {})
        return found

    def __len__(self) -> int:
        return len(self.current) + len(self._previous)


class MetricSums:
    """n, sum and sum of squares per (flag, variant, metric) since the last drain."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sums: dict[tuple[str, str, str], list[float]] = {}
        self.since = datetime.now(UTC)

    def add(self, served: Mapping[str, str], metric: str, value: float) -> None:
        with self._lock:
            for flag, variant in served.items():
                sums = self._sums.setdefault((flag, variant, metric), [0.0, 0.0, 0.0])
                sums[0] += 1
                sums[1] += value
                sums[2] += value * value

    def drain(self) -> tuple[datetime, datetime, list[dict[str, Any]]]:
        with self._lock:
            sums, self._sums = self._sums, {}
            start, end = self.since, datetime.now(UTC)
            self.since = end
        rows = [
            {"flag": f, "variant": v, "metric": m, "n": s[0], "total": s[1], "sumsq": s[2]}
            for (f, v, m), s in sums.items()
        ]
        return start, end, rows
