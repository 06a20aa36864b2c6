"""Trend charts drawn as SVG on the server: one point per week or month, a gap where a period
has no records behind the figure, each point a link to its records with the numbers in its
`<title>` (the browser shows it on hover, a screen reader reads it).

No script and no inline style: colours are presentation attributes, so the page's strict
Content-Security-Policy holds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from html import escape

from markupsafe import Markup

from headway.web.format import figure, number

__all__ = ["Bar", "Line", "Point", "bars", "over_time", "trend"]

INK, MUTED, GAP, BAR, HOT = "#1f2933", "#52606d", "#9aa5b1", "#7aa7d8", "#d9822b"


@dataclass(frozen=True)
class Point:
    label: str  # the period, as the axis shows it
    value: float | None  # None: no records behind the figure in this period
    tip: str  # the numbers, shown on hover
    href: str  # the records behind the point


def trend(
    title: str, points: list[Point], unit: str, width: int = 320, height: int = 120
) -> Markup:
    """A line through the periods' values, broken where a period is empty."""
    left, right, top, bottom = 52, 22, 10, 22
    present = [p.value for p in points if p.value is not None]
    peak = max(present, default=0.0)
    high = peak or 1.0  # all zero: the line lies on the axis, labelled 0 and nothing above
    span = max(len(points) - 1, 1)

    def x(i: int) -> float:
        return left + (width - left - right) * (i / span if len(points) > 1 else 0.5)

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - v / high)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="trend" role="group" aria-label="{escape(title)}" font-size="10">',
        f'<line x1="{left}" y1="{y(0):.1f}" x2="{width - right}" y2="{y(0):.1f}" stroke="{MUTED}"/>',
        f'<text x="{left - 4}" y="{y(0) + 4:.1f}" text-anchor="end" fill="{MUTED}">'
        f"{escape(_axis(0, unit))}</text>",
    ]
    if peak:
        out.insert(
            2,
            f'<text x="{left - 4}" y="{y(high) + 4:.1f}" text-anchor="end" fill="{MUTED}">'
            f"{escape(_axis(high, unit))}</text>",
        )
    out += _lines(points, x, y)
    for i, p in enumerate(points):
        tip = escape(p.tip)
        if p.value is None:  # a gap: a hollow mark on the axis, no line through it
            out.append(
                f'<a href="{escape(p.href)}" aria-label="{tip}" class="gap"><title>{tip}</title>'
                f'<circle cx="{x(i):.1f}" cy="{y(0):.1f}" r="3" fill="white" stroke="{GAP}"/></a>'
            )
        else:
            out.append(
                f'<a href="{escape(p.href)}" aria-label="{tip}" class="point"><title>{tip}'
                f'</title><circle cx="{x(i):.1f}" cy="{y(p.value):.1f}" r="4" fill="{INK}"/></a>'
            )
    for i in _labelled(len(points)):
        out.append(
            f'<text x="{x(i):.1f}" y="{height - 6}" text-anchor="middle" fill="{MUTED}">'
            f"{escape(points[i].label)}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def _axis(value: float, unit: str) -> str:
    """An axis label: a duration or a percentage in its unit, a count bare (the title says)."""
    return figure(value, unit) if unit in ("s", "%") else number(value, 1)


def _lines(
    points: list[Point], x: Callable[[int], float], y: Callable[[float], float]
) -> list[str]:
    """One path per run of consecutive periods with values: an empty period breaks the line."""
    runs: list[list[str]] = [[]]
    for i, p in enumerate(points):
        if p.value is None:
            runs.append([])
        else:
            runs[-1].append(f"{'L' if runs[-1] else 'M'}{x(i):.1f},{y(p.value):.1f}")
    return [
        f'<path d="{" ".join(run)}" fill="none" stroke="{INK}" stroke-width="1.5"/>'
        for run in runs
        if len(run) > 1
    ]


def _labelled(n: int) -> list[int]:
    """Which points get an axis label: all of a few, else about five spread evenly."""
    if n <= 6:
        return list(range(n))
    step = -(-n // 5)
    return list(range(0, n, step))


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None  # None: nothing measured (drawn as an empty row, not a zero bar)
    text: str  # the value as written beside the bar
    tip: str
    href: str
    hot: bool = False  # the one to look at first (the longest wait)


def bars(title: str, rows: list[Bar], width: int = 640, row: int = 28) -> Markup:
    """Horizontal bars, one per row, each a link to the records behind it."""
    left, right = 150, 110
    high = max((b.value for b in rows if b.value is not None), default=0.0) or 1.0
    height = row * len(rows) + 8
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="bars" role="group" aria-label="{escape(title)}" font-size="12">'
    ]
    for i, b in enumerate(rows):
        y = 4 + i * row
        tip = escape(b.tip)
        length = (width - left - right) * (b.value or 0.0) / high
        out.append(
            f'<a href="{escape(b.href)}" aria-label="{tip}" class="bar"><title>{tip}</title>'
            # the whole row answers a click and a hover, not only the bar (which may be empty)
            f'<rect x="0" y="{y}" width="{width}" height="{row}" fill="transparent"/>'
            f'<text x="{left - 8}" y="{y + row / 2 + 4:.1f}" text-anchor="end" fill="{INK}">'
            f"{escape(b.label)}</text>"
            f'<rect x="{left}" y="{y + 4}" width="{max(length, 0.0):.1f}" height="{row - 8}" '
            f'fill="{HOT if b.hot else BAR}"/>'
            f'<text x="{left + length + 6:.1f}" y="{y + row / 2 + 4:.1f}" fill="{MUTED}">'
            f"{escape(b.text)}</text></a>"
        )
    out.append("</svg>")
    return Markup("".join(out))


@dataclass(frozen=True)
class Line:
    label: str
    values: list[float | None]  # one per moment; None: nothing to draw then
    colour: str
    dashed: bool = False


def over_time(
    title: str,
    moments: list[datetime],
    lines: list[Line],
    show: Callable[[float], str],
    *,
    boundary: tuple[str, float] | None = None,
    log: bool = False,
    width: int = 640,
    height: int = 180,
) -> Markup:
    """Lines over real time (x spaced by the clock, not by point), each point's value in its
    `<title>`; `boundary` a labelled horizontal rule (the value a judge must reach); `log` a
    log-10 y axis for values that grow by orders of magnitude."""
    left, right, top, bottom = 64, 120, 10, 24

    def scale(v: float) -> float:
        return math.log10(max(v, 1e-12)) if log else v

    def unscale(v: float) -> float:
        return float(10**v) if log else v

    drawn = [scale(v) for line in lines for v in line.values if v is not None]
    if boundary is not None:
        drawn.append(scale(boundary[1]))
    low, high = min(drawn, default=0.0), max(drawn, default=1.0)
    low = min(low, 0.0)  # a count from 0; evidence from 1 (log 0), which means none
    if high - low < 1e-12:
        high = low + 1.0
    start = moments[0].timestamp() if moments else 0.0
    span = (moments[-1].timestamp() - start) if len(moments) > 1 else 0.0

    def x(m: datetime) -> float:
        share = (m.timestamp() - start) / span if span else 0.5
        return left + (width - left - right) * share

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (scale(v) - low) / (high - low))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'class="over-time" role="group" aria-label="{escape(title)}" font-size="10">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" '
        f'stroke="{MUTED}"/>',
    ]
    for value in (unscale(low), unscale(high)):
        out.append(
            f'<text x="{left - 4}" y="{y(value) + 4:.1f}" text-anchor="end" fill="{MUTED}">'
            f"{escape(show(value))}</text>"
        )
    if boundary is not None:
        label, value = boundary
        out.append(
            f'<line x1="{left}" y1="{y(value):.1f}" x2="{width - right}" y2="{y(value):.1f}" '
            f'stroke="{HOT}" stroke-dasharray="6 3" class="boundary"/>'
            f'<text x="{width - right + 4}" y="{y(value) + 4:.1f}" fill="{HOT}">'
            f"{escape(label)}</text>"
        )
    for line in lines:
        path = " ".join(
            f"{'M' if i == 0 or line.values[i - 1] is None else 'L'}{x(m):.1f},{y(v):.1f}"
            for i, (m, v) in enumerate(zip(moments, line.values, strict=True))
            if v is not None
        )
        if path:
            dash = ' stroke-dasharray="4 3"' if line.dashed else ""
            out.append(
                f'<path d="{path}" fill="none" stroke="{line.colour}" stroke-width="1.5"{dash}/>'
            )
        for m, v in zip(moments, line.values, strict=True):
            if v is None:
                continue
            tip = escape(f"{line.label} {show(v)} at {m:%Y-%m-%d %H:%M} UTC")
            out.append(
                f'<circle cx="{x(m):.1f}" cy="{y(v):.1f}" r="2.5" fill="{line.colour}">'
                f"<title>{tip}</title></circle>"
            )
    for i, line in enumerate(lines):
        out.append(
            f'<text x="{width - right + 4}" y="{top + 12 * i + 8}" fill="{line.colour}">'
            f"{escape(line.label)}</text>"
        )
    if moments:
        for m, anchor in ((moments[0], "start"), (moments[-1], "end")):
            out.append(
                f'<text x="{x(m):.1f}" y="{height - 8}" text-anchor="{anchor}" fill="{MUTED}">'
                f"{m:%m-%d %H:%M}</text>"
            )
    out.append("</svg>")
    return Markup("".join(out))
