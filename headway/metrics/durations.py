"""Statistics of durations and counts: n, median, quartiles, p90, each withheld with a note
when there are too few to say it.

A span whose end comes before its start (a review before the first commit, a merge before the
approval, clock skew between tools) is left out and counted, never clamped to zero: a zero
would pull the median down and hide the bad timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

import numpy as np

# Statistics below these sample sizes are withheld, with the reason, not printed.
MIN_MEDIAN = 3
MIN_P90 = 10
MIN_IQR = 8


def spans(pairs: Iterable[tuple[datetime | None, datetime | None]]) -> tuple[list[float], int]:
    """The spans b − a, in seconds, of the pairs with both ends known and b not before a, and
    how many ran backwards: those are left out and counted (the signals' rule), never
    clamped to zero."""
    kept, negative = [], 0
    for a, b in pairs:
        if a is None or b is None:
            continue
        seconds = (b - a).total_seconds()
        if seconds < 0:
            negative += 1
        else:
            kept.append(seconds)
    return kept, negative


def span(a: datetime | None, b: datetime | None) -> float | None:
    """b − a in seconds, negative when b comes first; None when either is unknown."""
    if a is None or b is None:
        return None
    return (b - a).total_seconds()


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def negative_note(
    n: int, label: str, bounds: tuple[str, str], unit: tuple[str, str] = ("change", "changes")
) -> str:
    """What the report says about spans left out because they ran backwards."""
    return (
        f"{plural(n, *unit)} had a negative {label} span ({bounds[1]} before "
        f"{bounds[0]}) and {'was' if n == 1 else 'were'} left out"
    )


def describe(
    values: list[float] | np.ndarray,
    unit: str = "changes",
    suffix: str = "_s",
    median: str = "interpolated",
) -> dict[str, Any]:
    """n, median, quartiles, IQR and p90 (interpolated, like percentile_cont, or the lower
    value, like percentile_disc, as the definition's `summary.median` says; its `mean` takes
    the mean for the median), each withheld with a note saying how many `unit` it needs
    when there are too few."""
    method: Literal["lower", "linear"] = "lower" if median == "lower" else "linear"
    n = len(values)
    keys = ("median", "p25", "p75", "p90", "iqr", "mean")
    out: dict[str, Any] = {"n": n, **{k + suffix: None for k in keys}, "notes": []}
    arr = np.asarray(values, dtype=float)
    # the four quantiles in one partition of the values: each the value it is alone
    quantiles = (
        np.percentile(arr, [50, 25, 75, 90], method=method)
        if n >= MIN_MEDIAN
        else np.full(4, np.nan)
    )
    p50, p25, p75, p90 = quantiles
    if n >= MIN_MEDIAN:
        mid = arr.mean() if median == "mean" else p50
        out["median" + suffix] = round(float(mid), 3)
        out["mean" + suffix] = round(float(arr.mean()), 3)
    elif n:
        out["notes"].append(f"a median needs at least {MIN_MEDIAN} {unit}; there are {n}")
    if n >= MIN_IQR:
        out.update(
            {
                "p25" + suffix: round(float(p25), 3),
                "p75" + suffix: round(float(p75), 3),
                "iqr" + suffix: round(float(p75 - p25), 3),
            }
        )
    elif n >= MIN_MEDIAN:
        out["notes"].append(f"quartiles need at least {MIN_IQR} {unit}; there are {n}")
    if n >= MIN_P90:
        out["p90" + suffix] = round(float(p90), 3)
    elif n >= MIN_MEDIAN:
        out["notes"].append(f"a p90 needs at least {MIN_P90} {unit}; there are {n}")
    if not n:
        out["notes"].append(f"no {unit} in this scope and period")
    return out


def describe_spans(
    pairs: Iterable[tuple[datetime | None, datetime | None]],
    label: str,
    bounds: tuple[str, str],
    unit: tuple[str, str] = ("change", "changes"),
) -> dict[str, Any]:
    """`describe` over the spans of `pairs`, with `negative` counting those left out for
    running backwards and a note saying so."""
    kept, negative = spans(pairs)
    out = describe(kept, unit[1])
    out["negative"] = negative
    if negative:
        out["notes"].append(negative_note(negative, label, bounds, unit))
    return out
