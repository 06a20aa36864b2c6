"""The bounds a batch of guardrail samples must keep, whoever sends it.

A rollout rolls back on what these samples say, so a sender with a valid key must still not
be able to outweigh every real user with one request: each request carries at most
`MAX_SAMPLES` samples, each sample's count and sums stay in ranges no real flush interval
reaches, and a measurement window may not end in the future.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from headway.rollouts.plan import PlanError

__all__ = [
    "MAX_COUNT",
    "MAX_SAMPLES",
    "MAX_SKEW",
    "MAX_SUMSQ",
    "MAX_TOTAL",
    "check_sample",
    "check_window",
]

MAX_SAMPLES = 1_000  # per request: flags x variants x metrics one process tracked in a flush
MAX_COUNT = 1e9  # events or exposures in one sample: a billion per flush is no real service
MAX_TOTAL = 1e15  # |sum of values|: a billion events of a million each
MAX_SUMSQ = 1e21  # sum of squares: a billion values of up to a million each
MAX_SKEW = timedelta(minutes=5)  # how far ahead of our clock a sender's clock may be


def check_sample(i: int, n: float, total: float, sumsq: float) -> None:
    """Refuse a sample outside the ranges, naming its field (`samples[i].n`)."""
    for name, value, low, high in (
        ("n", n, 0.0, MAX_COUNT),
        ("total", total, -MAX_TOTAL, MAX_TOTAL),
        ("sumsq", sumsq, 0.0, MAX_SUMSQ),
    ):
        if not low <= value <= high:
            raise PlanError(
                f"samples[{i}].{name} is {value:g}; it must be between {low:g} and {high:g}"
            )


def check_window(start: datetime, end: datetime, now: datetime) -> None:
    """Refuse a measurement window that ends before it starts or lies in the future."""
    if end < start:
        raise PlanError(f"`to` ({end.isoformat()}) is before `from` ({start.isoformat()})")
    if end > now + MAX_SKEW:
        raise PlanError(
            f"`to` ({end.isoformat()}) is in the future: samples are counted, not predicted "
            f"(the server's clock says {now.isoformat()}; check the sender's clock)"
        )
