"""The week-based figures the presets read: the days a period's weeks count (`spine`), the
median number of days with a deployment per week, and the median as a definition takes it.
`metrics.dora` re-exports them, where the rest of Headway finds them.
"""

from __future__ import annotations

from datetime import date, timedelta

from headway.definitions import Definition
from headway.metrics.scope import Period

__all__ = ["median", "spine", "weekly_deploy_days"]


def spine(defn: Definition, period: Period) -> list[date]:
    """The days whose weeks the deployment-days median counts. `period`: each calendar day
    the period touches. `back_from_end` is DevLake's dashboard: the date of the period's end
    and each day before it while that instant is later than the start (so a period starting
    at midnight loses its first day and gains the end's date)."""
    if defn.frequency.days == "back_from_end":
        out, k = [], 0
        while period.until - timedelta(days=k) > period.since and k < 400:
            out.append((period.until - timedelta(days=k)).date())
            k += 1
        return sorted(out)
    first, last = period.since.date(), (period.until - timedelta(microseconds=1)).date()
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def weekly_deploy_days(defn: Definition, period: Period, days: list[date]) -> float | None:
    """The median number of days with a deployment per week of the spine (DevLake's "median
    number of deployment days per week", Four Keys' `days_deployed`), weeks starting on the
    definition's `frequency.week_start`, in the definition's median."""
    if defn.frequency.days == "back_from_end":
        spine_days = spine(defn, period)
        if not spine_days:
            return None
        first, last = spine_days[0], spine_days[-1]
        inside = set(spine_days)
    else:
        # Counted, not listed: a period may span centuries (`--since 0001-01-01`).
        first, last = period.since.date(), (period.until - timedelta(microseconds=1)).date()
        inside = None
    sunday = defn.frequency.week_start == "sunday"
    weeks = (_week(last, sunday) - _week(first, sunday)).days // 7 + 1
    deployed: dict[date, int] = {}
    for day in set(days):
        if first <= day <= last and (inside is None or day in inside):
            week = _week(day, sunday)
            deployed[week] = deployed.get(week, 0) + 1
    counts = [0.0] * (weeks - len(deployed)) + [float(c) for c in deployed.values()]
    return median(defn, counts)


def _week(day: date, sunday: bool) -> date:
    """The first day of `day`'s week: its Monday, or its Sunday."""
    return day - timedelta(days=(day.weekday() + 1) % 7 if sunday else day.weekday())


def median(defn: Definition, values: list[float]) -> float | None:
    """The median of `values` as the definition takes it: interpolated, the lower one (the
    element at index ⌊(n−1)/2⌋, DevLake's percent_rank ≤ 0.5), or the mean."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)
    if defn.summary.median == "lower":
        return ordered[(n - 1) // 2]
    if defn.summary.median == "mean":
        return sum(ordered) / n
    mid = (n - 1) / 2
    low = ordered[int(mid)]
    high = ordered[min(int(mid) + 1, n - 1)]
    return low + (high - low) * (mid - int(mid))
