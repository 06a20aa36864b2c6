"""Inline SVG for the review: the delivery-flow picture and small trend charts.

Plain strings, no JavaScript and no external resources, so a review opens offline and prints.
Every label is escaped; every size is derived from the numbers it shows.
"""

from __future__ import annotations

from html import escape
from typing import Any

INK, MUTED, QUEUE, HOT, FAIL, OK = "#1f2933", "#7b8794", "#cfe3f7", "#f7b267", "#e0564f", "#3e8e5e"


def _hours(seconds: float | None) -> str:
    if seconds is None:
        return "no data"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def flow_picture(flow: dict[str, Any], signals: dict[str, Any], metrics: dict[str, Any]) -> str:
    """Stages as queues (width ∝ share of lead time, the biggest queue highlighted), the review
    and approval gates, deployments into production, failure clusters and the recovery loop."""
    width, left, top, lane, min_w = 1100, 20, 84, 70.0, 72.0
    stages = flow["stages"]
    usable = width - 2 * left - 230
    shares = [max(s["share"] or 0.0, 0.0) for s in stages]
    total = sum(shares) or 1.0
    # the biggest queue is the longest wait (coding and review are work, not queues)
    names = [s["stage"] for s in stages]
    biggest = names.index(flow["longest_wait"]) if flow.get("longest_wait") in names else None
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} 345" role="img" '
        f'aria-label="Delivery flow: stages as queues, gates, failures and recovery" '
        'font-family="system-ui, sans-serif" font-size="12">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{MUTED}"/></marker></defs>',
        f'<text x="{left}" y="22" font-size="14" font-weight="600" fill="{INK}">Where a change '
        f"spends its lead time ({flow['changes']} changes, median {_hours(flow['end_to_end']['median_s'])})"
        "</text>",
        f'<text x="{left}" y="42" fill="{MUTED}">Box width is the share of lead time; height '
        "is the number of changes that passed through.</text>",
        f'<text x="{left}" y="58" fill="{MUTED}">Diamonds are the review and approval gates; '
        "the biggest queue is orange; red is failure, green the recovery loop.</text>",
    ]
    x = float(left)
    n_max = max((s["n"] for s in stages), default=0) or 1
    for i, s in enumerate(stages):
        w = min_w + (usable - min_w * len(stages)) * shares[i] / total
        h = 24 + (lane - 24) * (s["n"] / n_max)
        y = top + (lane - h) / 2 + 20
        fill = HOT if i == biggest else (QUEUE if s["n"] else "#eef2f6")
        gate = s["stage"] in ("review", "approval_wait")
        stroke = f'stroke="{INK}" stroke-width="2"' if i == biggest else f'stroke="{MUTED}"'
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w - 8:.1f}" height="{h:.1f}" rx="4" '
            f'fill="{fill}" {stroke}/>'
        )
        if gate:  # a gate is a decision point: draw it as a diamond at the queue's exit
            cx, cy = x + w - 8, top + lane / 2 + 20
            parts.append(
                f'<path d="M{cx:.1f},{cy - 9:.1f} L{cx + 9:.1f},{cy:.1f} L{cx:.1f},'
                f'{cy + 9:.1f} L{cx - 9:.1f},{cy:.1f} z" fill="white" stroke="{INK}"/>'
            )
        # Two short lines per label, so neighbours never overlap even when the boxes under
        # them are at their narrowest (a word fits in `min_w`).
        name = s["label"].split(" ", 1)
        parts.append(_stacked(x + (w - 8) / 2, top - 6, name, f'fill="{INK}" font-weight="600"'))
        figures = [f"{(s['share'] or 0) * 100:.0f}%", _hours(s["median_s"])]
        parts.append(
            _stacked(
                x + (w - 8) / 2,
                top + lane + 44,
                figures if s["n"] else ["no", "data"],
                f'fill="{MUTED}"',
            )
        )
        x += w
    # production and the recovery loop
    deploys = metrics["deployment_frequency"]["deployments"]
    failed = metrics["change_fail_rate"]["failed"]
    recovery = metrics["failed_deployment_recovery_time"]["median_s"]
    px, py = x + 10, top + 20
    parts.append(
        f'<line x1="{x - 8:.1f}" y1="{py + lane / 2:.1f}" x2="{px:.1f}" y2="{py + lane / 2:.1f}" '
        f'stroke="{MUTED}" marker-end="url(#arrow)"/>'
    )
    parts.append(
        f'<rect x="{px:.1f}" y="{py:.1f}" width="120" height="{lane}" rx="6" fill="#e3f4ea" '
        f'stroke="{OK}"/><text x="{px + 60:.1f}" y="{py + 30:.1f}" text-anchor="middle" '
        f'fill="{INK}" font-weight="600">production</text><text x="{px + 60:.1f}" '
        f'y="{py + 48:.1f}" text-anchor="middle" fill="{MUTED}">{deploys} deployments</text>'
    )
    radius = 8 + 30 * (failed / deploys) ** 0.5 if deploys else 8
    fx, fy = px + 60, py + lane + 95
    conc = signals["failure_concentration"]
    where = conc["most_concentrated"]
    top_group = conc["by"][where]["groups"][0] if where and conc["by"][where]["groups"] else None
    cluster = (
        f"most in {where} {top_group['value']} ({(top_group['share_of_hits'] or 0) * 100:.0f}%)"
        if top_group
        else "too few failures to cluster"
    )
    parts.append(
        f'<circle cx="{fx:.1f}" cy="{fy:.1f}" r="{radius:.1f}" fill="{FAIL}" opacity="0.85"/>'
        f'<text x="{fx - radius - 8:.1f}" y="{fy - 4:.1f}" text-anchor="end" fill="{INK}">'
        f'{failed} failed deployments</text><text x="{fx - radius - 8:.1f}" y="{fy + 12:.1f}" '
        f'text-anchor="end" fill="{MUTED}">{escape(cluster)}</text>'
    )
    parts.append(
        f'<line x1="{fx:.1f}" y1="{py + lane:.1f}" x2="{fx:.1f}" y2="{fy - radius:.1f}" '
        f'stroke="{FAIL}" marker-end="url(#arrow)"/>'
    )
    loop_x = fx + radius + 22
    parts.append(
        f'<path d="M{fx + radius:.1f},{fy:.1f} C{loop_x + 20:.1f},{fy:.1f} {loop_x + 20:.1f},'
        f'{py + lane / 2:.1f} {px + 122:.1f},{py + lane / 2:.1f}" fill="none" stroke="{OK}" '
        f'stroke-dasharray="5 4" marker-end="url(#arrow)"/>'
    )
    parts.append(
        f'<text x="{loop_x + 26:.1f}" y="{(fy + py + lane) / 2 + 10:.1f}" fill="{OK}">'
        f'recovery</text><text x="{loop_x + 26:.1f}" y="{(fy + py + lane) / 2 + 26:.1f}" '
        f'fill="{OK}">median {_hours(recovery)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _stacked(x: float, y: float, lines: list[str], attributes: str) -> str:
    """Lines of text centred on `x`, the first at `y`, each 14 px below the last."""
    spans = "".join(
        f'<tspan x="{x:.1f}" dy="{14 if i else 0}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle" {attributes}>{spans}</text>'


def line_chart(
    title: str,
    labels: list[str],
    values: list[float | None],
    unit: str = "",
    width: int = 300,
    height: int = 140,
) -> str:
    """A small line chart; missing values break the line and are marked on the axis."""
    pad_l, pad_r, pad_t, pad_b = 38, 12, 28, 26
    present = [v for v in values if v is not None]
    # the axis is labelled with the highest value; all zero, the line lies on the axis at 0
    peak = max(present, default=0.0)
    hi = peak * 1.15 if peak > 0 else 1.0
    n = max(len(values) - 1, 1)

    def px(i: int) -> float:
        return pad_l + (width - pad_l - pad_r) * i / n

    def py(v: float) -> float:
        return height - pad_b - (height - pad_t - pad_b) * v / hi

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="10">',
        f'<text x="4" y="14" font-size="12" font-weight="600" fill="{INK}">{escape(title)}</text>',
        f'<line x1="{pad_l}" y1="{height - pad_b}" x2="{width - pad_r}" y2="{height - pad_b}" '
        f'stroke="{MUTED}"/>',
        f'<text x="{pad_l - 4}" y="{py(peak) + 3:.1f}" text-anchor="end" fill="{MUTED}">'
        f"{escape(_fmt(peak, unit))}</text>",
    ]
    path: list[str] = []
    for i, v in enumerate(values):
        if v is None:
            out.append(
                f'<text x="{px(i):.1f}" y="{height - pad_b - 4}" text-anchor="middle" '
                f'fill="{MUTED}">–</text>'
            )
            path.append("")
            continue
        path.append(f"{'M' if not path or not path[-1] else 'L'}{px(i):.1f},{py(v):.1f}")
        out.append(f'<circle cx="{px(i):.1f}" cy="{py(v):.1f}" r="2.5" fill="{INK}"/>')
    out.append(
        f'<path d="{" ".join(p for p in path if p)}" fill="none" stroke="{INK}" stroke-width="1.5"/>'
    )
    for i, label in enumerate(labels):
        if len(labels) <= 8 or i % 2 == 0:
            out.append(
                f'<text x="{px(i):.1f}" y="{height - 8}" text-anchor="middle" fill="{MUTED}">'
                f"{escape(label)}</text>"
            )
    if present:
        out.append(
            f'<text x="{width - pad_r}" y="14" text-anchor="end" fill="{INK}">latest '
            f"{escape(_fmt(present[-1], unit))}</text>"
        )
    out.append("</svg>")
    return "".join(out)


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return _hours(value)
    if unit == "%":
        return f"{value * 100:.1f}%"
    return f"{value:.3g}"
