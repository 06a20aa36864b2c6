"""How the web app writes numbers, durations and times: one place, used by templates and
charts alike, so a figure reads the same in a card, a table and a chart's tooltip."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

__all__ = ["FILTERS", "duration", "figure", "moment", "number", "percent", "since", "through"]


def duration(seconds: float | None) -> str:
    """3 min, 4.2 h, 2.5 d; a dash without data."""
    if seconds is None:
        return "–"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def percent(fraction: float | None) -> str:
    return "–" if fraction is None else f"{fraction * 100:.1f}%"


def number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.{digits}f}"


def figure(value: float | None, unit: str) -> str:
    """A metric's value in its unit: `s` a duration, `%` a fraction, else a number."""
    if unit == "s":
        return duration(value)
    if unit == "%":
        return percent(value)
    text = number(value)
    return f"{text} {unit}" if unit and value is not None else text


def moment(iso: str | None) -> str:
    """An ISO time as `2026-10-05 14:03` (UTC); a dash when absent."""
    if not iso:
        return "–"
    return iso.replace("T", " ")[:16]


def through(iso: str | None) -> str:
    """An exclusive end as a person reads it: midnight is the day before, inclusive."""
    if not iso:
        return "–"
    text = iso.replace("Z", "+00:00")
    end = datetime.fromisoformat(text)
    if (end.hour, end.minute, end.second, end.microsecond) == (0, 0, 0, 0):
        return (end - timedelta(days=1)).strftime("%Y-%m-%d")
    return end.strftime("%Y-%m-%d %H:%M")


def since(iso: str | None) -> str:
    """A start as a person reads it: the day alone at midnight."""
    text = moment(iso)
    return text[:10] if text.endswith("00:00") else text


FILTERS: dict[str, Callable[..., Any]] = {
    "duration": duration,
    "percent": percent,
    "number": number,
    "moment": moment,
    "figure": figure,
    "since": since,
    "through": through,
}
