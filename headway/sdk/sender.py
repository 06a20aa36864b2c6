"""Sending what the SDK counted: exposure counts to `/sdk/exposures` and tracked metrics to
`/sdk/metrics`, in batches, each sent until the server has it or refuses it.

A batch that fails is kept and resent, with the same batch id, before the next one: the server
ignores a batch id it has seen, so nothing is lost or counted twice.
"""

from __future__ import annotations

import itertools
import logging
import math
import operator
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx
import orjson

from headway.sdk.telemetry import MetricSums

__all__ = ["Exposures", "Sender"]

log = logging.getLogger("headway.sdk")


class ErrorNote(Protocol):
    """Where the sender writes why the last batch was not sent (the client's `last_error`)."""

    last_error: str | None


class Exposures:
    """Lock-free exposure counters, advanced with `next()` by the compiled evaluators.

    Each counter is a countdown, `itertools.repeat(None, sys.maxsize)`: `next()` on it is atomic
    under the GIL and, unlike on `itertools.count`, whose every value past 256 is a new int,
    allocates nothing. Its hits since the last read are how far its length hint has fallen.
    """

    def __init__(self) -> None:
        self._counters: dict[tuple[str, str], Iterator[None]] = {}
        self._last: dict[tuple[str, str], int] = {}
        self.since = datetime.now(UTC)

    def counters_for(self, flag: str, variants: list[str]) -> dict[str, Iterator[None]]:
        out: dict[str, Iterator[None]] = {}
        for v in variants:
            key = (flag, v)
            if key not in self._counters:
                self._counters[key] = itertools.repeat(None, sys.maxsize)
                self._last[key] = sys.maxsize
            out[v] = self._counters[key]
        return out

    def drain(self) -> tuple[datetime, datetime, list[dict[str, Any]]]:
        start, end = self.since, datetime.now(UTC)
        self.since = end
        rows = []
        for key, counter in list(self._counters.items()):
            left = operator.length_hint(counter)
            hits = self._last[key] - left
            self._last[key] = left
            if hits:
                rows.append({"flag": key[0], "variant": key[1], "count": hits})
        return start, end, rows


class _Batches:
    """One kind of batch (exposures or metrics): the one not yet delivered, and how to send it."""

    def __init__(self, path: str, what: str, rows_key: str) -> None:
        self.path = path
        self.what = what
        self.rows_key = rows_key
        self.unsent: dict[str, Any] | None = None


class Sender:
    """Sends the client's exposure counts and metric sums on each flush."""

    def __init__(
        self, http: httpx.Client, exposures: Exposures, metrics: MetricSums, errors: ErrorNote
    ) -> None:
        self._http = http
        self._exposures = exposures
        self._metrics = metrics
        self._errors = errors
        self._refused = False  # the batch just done with was refused, not delivered
        self._retry_at = 0.0  # monotonic time before which no batch is sent (Retry-After)
        self._exposure_batches = _Batches("/sdk/exposures", "exposures", "counts")
        self._metric_batches = _Batches("/sdk/metrics", "metrics", "samples")

    def flush(self) -> int:
        """Send what was counted since the last flush; how many rows were delivered."""
        return self._flush(self._exposure_batches, self._exposures.drain) + self._flush(
            self._metric_batches, self._metrics.drain
        )

    def _flush(
        self,
        batches: _Batches,
        drain: Callable[[], tuple[datetime, datetime, list[dict[str, Any]]]],
    ) -> int:
        sent = 0
        if batches.unsent is not None:
            if not self._post(batches, batches.unsent):
                return 0
            sent = self._delivered(len(batches.unsent[batches.rows_key]))
            batches.unsent = None
        start, end, rows = drain()
        if rows:
            body = {
                "batch": uuid.uuid4().hex,
                "from": start.isoformat(),
                "to": end.isoformat(),
                batches.rows_key: rows,
            }
            if self._post(batches, body):
                sent += self._delivered(len(rows))
            else:
                batches.unsent = body
        return sent

    def _delivered(self, rows: int) -> int:
        """`rows` if the batch just done with was delivered, 0 if it was refused."""
        refused, self._refused = self._refused, False
        return 0 if refused else rows

    def _post(self, batches: _Batches, body: dict[str, Any]) -> bool:
        """True when the batch is done with: delivered, or refused (4xx) and so dropped.

        A batch the server could not take (no answer, 5xx, 408, 429) is kept and sent again
        with the same id; after a 429 or 503 with `Retry-After`, not before that wait is over.
        A refused batch cannot succeed when resent, and would hold back every later one: it is
        dropped with one log line.
        """
        what = batches.what
        if time.monotonic() < self._retry_at:
            self._errors.last_error = f"{what} not sent: waiting for the server's Retry-After"
            return False
        try:
            response = self._http.post(
                batches.path,
                content=orjson.dumps(body),
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            self._errors.last_error = f"{what} not sent: {exc}"
            return False
        status = response.status_code
        if status >= 500 or status in (408, 429):
            self._retry_at = time.monotonic() + _retry_after(response)
            self._errors.last_error = f"{what} not sent: the server answered {status}"
            return False
        if status >= 400:
            self._errors.last_error = (
                f"{what} batch {body.get('batch')} refused ({status}), dropped: "
                + (response.text[:200])
            )
            log.error("%s", self._errors.last_error)
            self._refused = True
        return True


def _retry_after(response: httpx.Response) -> float:
    """The seconds a 429 or 503 asks to wait (`Retry-After` in seconds, at most an hour)."""
    try:
        seconds = float(response.headers.get("retry-after", "0"))
    except ValueError:  # an HTTP date: wait until the next flush
        return 0.0
    return min(max(seconds, 0.0), 3600.0) if math.isfinite(seconds) else 0.0
