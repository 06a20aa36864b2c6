"""The monthly review: metrics, flow, signals, findings, notes and the questions they answer.

`build` gathers one document (the JSON contract of `headway review --format json` and of the
HTTP API); `render_html` and `render_markdown` turn it into a self-contained page and a
Markdown file, with the tables of `review_tables` (whose `signal_rows` the CLI reads from
here). The review questions (`questions`) come from the operating review a leader runs each
month; each is pre-filled with the evidence in this document that answers it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from headway.config import Settings
from headway.definitions import Definition
from headway.interpret import charts, notes, review_confidence
from headway.interpret.findings import detect as detect_findings
from headway.interpret.questions import questions
from headway.interpret.review_tables import (
    confidence_rows,
    level_heading,
    measure,
    metric_rows,
    pct,
    signal_rows,
)
from headway.interpret.sources import Figures, StoreFigures
from headway.interpret.where import figures_where
from headway.metrics import signals
from headway.metrics.dora_queries import latest_deployments
from headway.metrics.scope import Period, Scope, iso, services_in
from headway.query import QueryError
from headway.store import Store
from headway.store.interpret import first_record

__all__ = [
    "build",
    "build_where",
    "file_part",
    "month",
    "render_html",
    "render_markdown",
    "signal_rows",
    "write",
]

TREND_MONTHS = 6


def month(text: str) -> Period:
    try:
        start = datetime.strptime(text, "%Y-%m")
    except ValueError:
        raise QueryError(f"--period {text!r} is not a month; use YYYY-MM, e.g. 2026-10") from None
    return Period(start, _add_months(start, 1))


def _add_months(start: datetime, n: int) -> datetime:
    index = start.year * 12 + start.month - 1 + n
    return datetime(index // 12, index % 12 + 1, 1)


def build(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    year: str = "2024",
    ai: signals.AiRule | None = None,
    figures: Figures | None = None,
) -> dict[str, Any]:
    """The review of `scope` for the month `period`: its figures computed by `figures` (an
    analytics engine's), else by the store; notes, confidence and definitions from the store."""
    on = figures or StoreFigures(store)
    metrics = on.metric_set(defn, scope, period, year=year)
    if (
        metrics.deployment_frequency["deployments"] == 0
        and metrics.change_lead_time["changes"] == 0
    ):
        raise QueryError(
            f"no deployments or changes in {scope.describe()} in "
            f"{period.since:%Y-%m}; the review needs a month with data. "
            + _latest(store, defn, metrics.services)
        )
    history = Period(_add_months(period.since, -(TREND_MONTHS - 1)), period.until)
    trend = on.metric_set(defn, scope, history, year=year, by="month").trend
    # months before the scope's first record are not months of nothing: they are left out
    first = _first_record(store, scope)
    trend = [t for t in trend if first is not None and t.period.until > first]
    contexts = (
        on.each(defn, "context", period, year=year, within=scope) if scope.kind != "context" else []
    )
    flow_doc = on.flow(defn, scope, period, by="week").to_json()
    signals_doc = on.signals(defn, scope, period, by="week", ai=ai)
    findings = detect_findings(
        store, defn, scope, period, records=on.records, team_metrics=on.team_metrics
    )
    doc: dict[str, Any] = {
        "title": f"Delivery review · {scope.describe()} · {period.since:%B %Y}",
        "scope": {"kind": scope.kind, "name": scope.name},
        "period": {"since": iso(period.since), "until": iso(period.until)},
        "definition": {"name": defn.name, "version": defn.version, "description": defn.description},
        "metrics": metrics.to_json(),
        "trend": [t.to_json() for t in trend],
        "contexts": [c.to_json() for c in contexts],
        "flow": flow_doc,
        "signals": signals_doc,
        "findings": findings,
        "notes": notes.for_scope(store, scope, period),
        "confidence": review_confidence.section(
            store, defn, scope, period, history.since, year=year
        ),
    }
    doc["questions"] = questions(doc)
    return doc


def build_where(
    settings: Settings,
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    year: str = "2024",
    ai: signals.AiRule | None = None,
    server: bool = False,
) -> dict[str, Any]:
    """`build` where the settings say: on the store, or with every figure computed on the
    analytics engine HEADWAY_ENGINE names, through one connection (`figures_where`)."""
    with figures_where(settings, store, server=server) as figures:
        return build(store, defn, scope, period, year=year, ai=ai, figures=figures)
    raise AssertionError("unreachable")  # pragma: no cover


def _first_record(store: Store, scope: Scope) -> datetime | None:
    """When the scope's first deployment finished or first change was merged."""
    return first_record(store, [name for name, _ in services_in(store, scope)])


def _latest(store: Store, defn: Definition, services: list[str]) -> str:
    """The scope's latest counted deployment and the month to review instead."""
    latest = max(latest_deployments(store, defn, services).values(), default=None)
    if latest is None:
        return "It has no counted deployments at all; import data first."
    return (
        f"Its latest counted deployment finished on {latest:%Y-%m-%d}: --period {latest:%Y-%m} "
        f"(period={latest:%Y-%m} over HTTP, month={latest:%Y-%m} on the review page) "
        "reviews that month."
    )


# -- rendering -------------------------------------------------------------------------------


_env = Environment(
    loader=PackageLoader("headway.interpret", "templates"),
    autoescape=select_autoescape(["html.j2"], default=False),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["hours"] = charts._hours
_env.filters["pct"] = pct


_env.filters["measure"] = measure


def _charts(doc: dict[str, Any]) -> dict[str, Markup]:
    trend = doc["trend"]
    labels = [t["period"]["since"][5:7] + "/" + t["period"]["since"][2:4] for t in trend]
    series = [
        ("Deployments per week", [t["deployment_frequency"]["per_week"] for t in trend], ""),
        ("Lead time (median)", [t["change_lead_time"]["median_s"] for t in trend], "s"),
        ("Change fail rate", [t["change_fail_rate"]["rate"] for t in trend], "%"),
        (
            "Recovery time (median)",
            [t["failed_deployment_recovery_time"]["median_s"] for t in trend],
            "s",
        ),
        ("Rework rate", [t["deployment_rework_rate"]["rate"] for t in trend], "%"),
    ]
    out = {
        title: Markup(charts.line_chart(title, labels, values, unit))
        for title, values, unit in series
    }
    weeks = doc["flow"]["trend"]
    out["Lead-time spread by week (IQR)"] = Markup(
        charts.line_chart(
            "Lead-time spread by week (IQR)",
            [w["since"][5:10] for w in doc["signals"]["lead_time_variance"]["trend"]],
            [w["iqr_s"] for w in doc["signals"]["lead_time_variance"]["trend"]],
            "s",
        )
    )
    out["Lead time by week (median)"] = Markup(
        charts.line_chart(
            "Lead time by week (median)",
            [w["since"][5:10] for w in weeks],
            [w["lead_median_s"] for w in weeks],
            "s",
        )
    )
    return out


def render_html(doc: dict[str, Any]) -> str:
    picture = Markup(charts.flow_picture(doc["flow"], doc["signals"], doc["metrics"]))
    return _env.get_template("review.html.j2").render(
        doc=doc,
        picture=picture,
        charts=_charts(doc),
        rows=metric_rows(doc),
        level_heading=level_heading(doc),
        signal_rows=signal_rows(doc["signals"]),
        confidence_rows=confidence_rows(doc["confidence"]),
    )


def render_markdown(doc: dict[str, Any]) -> str:
    return _env.get_template("review.md.j2").render(
        doc=doc,
        rows=metric_rows(doc),
        level_heading=level_heading(doc),
        signal_rows=signal_rows(doc["signals"]),
        confidence_rows=confidence_rows(doc["confidence"]),
    )


def file_part(name: str) -> str:
    """A scope name as part of a file name: letters, digits, `-`, `_` and `.` are kept and
    anything else (a `/`, a quote, a space) becomes `_`. When anything was replaced, a short
    hash of the name follows, so that teams `a/b` and `a_b` do not overwrite each other."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]
    if safe == name:
        return safe
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


class ReviewExists(Exception):
    """The review's files are in the folder already, and replacing them was not asked for."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        super().__init__(", ".join(str(p) for p in paths))


def paths(doc: dict[str, Any], out: Path) -> list[Path]:
    """Where `write` puts the review of `doc` in `out`: its HTML, Markdown and flow picture."""
    stem = f"review-{doc['period']['since'][:7]}" + (
        f"-{file_part(doc['scope']['name'])}" if doc["scope"]["name"] else ""
    )
    return [out / f"{stem}.html", out / f"{stem}.md", out / f"{stem}-flow.svg"]


def write(doc: dict[str, Any], out: Path, *, replace: bool = False) -> list[Path]:
    """Write review-YYYY-MM.html and .md (and the flow picture for the Markdown) into `out`.
    A review written there before is replaced only when `replace`; otherwise `ReviewExists`
    names its files and nothing is written."""
    html_path, md_path, svg_path = written = paths(doc, out)
    there = [p for p in written if p.exists()]
    if there and not replace:
        raise ReviewExists(there)
    out.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render_html(doc), encoding="utf-8")
    svg_path.write_text(
        charts.flow_picture(doc["flow"], doc["signals"], doc["metrics"]), encoding="utf-8"
    )
    md_path.write_text(
        render_markdown(doc).replace("{{FLOW_SVG}}", svg_path.name), encoding="utf-8"
    )
    return written
