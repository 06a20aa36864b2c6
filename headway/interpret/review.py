"""The monthly review: metrics, flow, signals, findings, notes and the questions they answer.

`build` gathers one document (the JSON contract of `headway review --format json` and of the
HTTP API); `render_html` and `render_markdown` turn it into a self-contained page and a
Markdown file. The review questions come from the operating review a leader runs each month;
each is pre-filled with the evidence in this document that answers it.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from headway.definitions import Definition
from headway.interpret import charts, notes
from headway.interpret.findings import detect as detect_findings
from headway.metrics import dora, flow, signals
from headway.metrics.scope import Period, Scope, iso
from headway.query import QueryError
from headway.store import Store

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
) -> dict[str, Any]:
    metrics = dora.compute(store, defn, scope, period, year=year)
    if (
        metrics.deployment_frequency["deployments"] == 0
        and metrics.change_lead_time["changes"] == 0
    ):
        raise QueryError(
            f"no deployments or changes in {scope.describe()} in "
            f"{period.since:%Y-%m}; the review needs a month with data "
            f"(latest data: {_latest(store)})"
        )
    history = Period(_add_months(period.since, -(TREND_MONTHS - 1)), period.until)
    trend = dora.compute(store, defn, scope, history, year=year, by="month").trend
    contexts = (
        dora.compute_each(store, defn, "context", period, year=year, within=scope)
        if scope.kind != "context"
        else []
    )
    flow_doc = flow.breakdown(store, defn, scope, period, by="week").to_json()
    signals_doc = signals.compute(store, defn, scope, period, by="week", ai=ai)
    findings = detect_findings(store, defn, scope, period)
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
    }
    doc["questions"] = questions(doc)
    return doc


def _latest(store: Store) -> str:
    latest = store.query("SELECT MAX(finished_at) FROM deployments")[0][0]
    return f"{latest:%Y-%m-%d}" if latest else "none; import data first"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def _group_label(dimension: str, value: object) -> str:
    """A group's name as a reader expects it: hours as 14:00, other values as they are."""
    text = str(value)
    return f"{int(text):02d}:00" if dimension == "hour" and text.isdigit() else text


def _pct1(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def questions(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The operational review questions, each with the evidence in this review that answers it."""
    fl, sg, m = doc["flow"], doc["signals"], doc["metrics"]
    found = doc["findings"]["findings"]
    by_detector = {f["detector"]: f for f in found}
    stages = {s["stage"]: s for s in fl["stages"]}
    out = []

    dominant = stages.get(fl["dominant_stage"] or "")
    wait = stages.get(fl["longest_wait"] or "")
    evidence = []
    if dominant:
        evidence.append(
            f"{_pct(dominant['share'])} of lead time is {dominant['label']} "
            f"(median {charts._hours(dominant['median_s'])} per change)."
        )
    if wait and wait is not dominant:
        evidence.append(
            f"The longest wait is {wait['label']} ({_pct(wait['share'])} of lead time)."
        )
    evidence.append(
        f"Change fail rate {_pct(m['change_fail_rate']['rate'])}, recovery median "
        f"{charts._hours(m['failed_deployment_recovery_time']['median_s'])}."
    )
    out.append(
        {
            "question": "What decision are these metrics meant to improve?",
            "evidence": evidence,
            "answer_hint": f"Decide what to do about {wait['label']}: it is where changes wait "
            "longest."
            if wait
            else "Too little flow data this month to name the decision.",
        }
    )

    gates = sg["approval_latency"]
    slow_gates = sorted(
        ((k, v) for k, v in gates.items() if v["median_s"] is not None),
        key=lambda kv: -(kv[1]["median_s"] or 0),
    )
    friction = sg["deployment_friction"]
    # every gate with events over the whole window, however few, costliest first
    costs = [g for g in doc["findings"]["gates"] if g["held_s"]]
    window = doc["findings"]["window"]
    evidence = [
        f"{g['kind'].replace('_', ' ')}: {g['approvals']} approvals from "
        f"{window['since'][:7]}, median wait {charts._hours(g['median_s'])}, "
        f"{g['held_s'] / 3600:.0f} change-hours held ({_pct(g['share_of_lead'])} of lead time)."
        for g in costs[:3]
    ]
    evidence += [
        f"This month, {k.replace('_', ' ')} approvals: median {charts._hours(v['median_s'])}, "
        f"p90 {charts._hours(v['p90_s'])} over {v['n']}."
        for k, v in slow_gates[:3]
    ]
    evidence.append(
        f"{friction['manual_triggers']} of {friction['deployments']} deployments were "
        f"triggered by hand; {friction['failed_runs_per_deployment'] or 0:.2f} failed "
        "pipeline runs per deployment."
    )
    for key in ("redefined", "hidden_quality", "theatre"):
        if key in by_detector:
            evidence.append(by_detector[key]["statement"])
    out.append(
        {
            "question": "Where would teams work around controls if deadlines compressed, an "
            "incident escalated or a supplier pushed back?",
            "evidence": evidence,
            "answer_hint": (
                f"Start with the {costs[0]['kind'].replace('_', ' ')} approval: it costs the "
                "most waiting. It and the hand-triggered deployments are where pressure finds "
                "a way round."
            )
            if costs
            else "The slowest gate and the hand-triggered deployments are where "
            "pressure finds a way round.",
        }
    )

    rb = sg["rollback_clustering"]
    themes = sg["incident_themes"]
    unattributed = themes["incidents"] - themes["attributed"]
    evidence = []
    if rb["bursts"]:
        evidence.append(
            f"{len(rb['bursts'])} rollback burst(s): "
            + "; ".join(
                f"{b['service']} {b['count']} from {b['since'][:10]}" for b in rb["bursts"][:3]
            )
            + "."
        )
    if themes["incidents"]:
        evidence.append(
            f"{unattributed} of {themes['incidents']} incidents are attributed to no deployment."
        )
    rec = doc["findings"]["recovery"]
    without, with_ = rec["without_rollback"], rec["with_rollback"]
    if without["recoveries"]:
        evidence.append(
            f"{without['recoveries']} recoveries since {doc['findings']['window']['since'][:7]} "
            f"used no rollback or flag change (median {charts._hours(without['median_s'])}), "
            f"against {with_['recoveries']} that did "
            f"(median {charts._hours(with_['median_s'])})."
        )
    batch = sg["batch_size"]
    if batch["deployments"]:
        evidence.append(f"{_pct(batch['empty_share'])} of deployments shipped no change.")
    for f in found:
        if f["detector"] in (
            "slicing",
            "speed_outcomes",
            "local_optimisation",
            "batch_size",
            "failure_cluster",
            "recovery_without_rollback",
        ):
            evidence.append(f["statement"])
    out.append(
        {
            "question": "Which exception would become dangerous if it quietly became normal "
            "practice?",
            "evidence": evidence or ["No exception stands out this month."],
            "answer_hint": "Name the exception and the evidence that would show it spreading.",
        }
    )

    trend = doc["trend"]
    evidence = [
        f"{t['period']['since'][:7]}: {t['deployment_frequency']['per_week']:.1f} deploys/week, "
        f"lead {charts._hours(t['change_lead_time']['median_s'])}, fail "
        f"{_pct(t['change_fail_rate']['rate'])}"
        for t in trend[-3:]
    ]
    out.append(
        {
            "question": "Which evidence would show this is working during normal delivery, "
            "not only during review?",
            "evidence": evidence,
            "answer_hint": "Read speed and stability together; a faster month with more "
            "failures is not an improvement.",
        }
    )
    return out


# -- rendering -------------------------------------------------------------------------------


def signal_rows(doc: dict[str, Any]) -> list[dict[str, str]]:
    """One line per signal, for people: the number and what it was computed from."""
    out = []

    def add(signal: str, value: str, detail: str) -> None:
        out.append({"signal": signal, "value": value, "detail": detail})

    for kind, a in doc["approval_latency"].items():
        add(
            f"approval latency · {kind}",
            charts._hours(a["median_s"]),
            f"median of {a['n']}; p90 {charts._hours(a['p90_s'])}; {a['rejected']} rejected "
            + "; ".join(a["notes"]),
        )
    b = doc["batch_size"]
    add(
        "batch size",
        f"{_num(b['changes_per_deployment']['median'])} changes, "
        f"{_num(b['lines_per_deployment']['median'])} lines",
        f"median per deployment of {b['deployments']}; {b['empty']} empty "
        f"({_pct1(b['empty_share'])}), {b['trivial']} of ≤{b['trivial_lines']} lines",
    )
    v = doc["lead_time_variance"]
    add(
        "lead-time variance",
        f"IQR {charts._hours(v['iqr_s'])}",
        f"{v['n']} changes; IQR/median {v['iqr_over_median'] if v['iqr_over_median'] is not None else '–'}"
        + ("; " + "; ".join(v["notes"]) if v["notes"] else ""),
    )
    f = doc["deployment_friction"]
    add(
        "deployment friction",
        f"{_num(f['failed_runs_per_deployment'])} failed runs/deploy",
        f"duration median {charts._hours(f['duration']['median_s'])}; "
        f"{_num(f['manual_gates_per_deployment'])} manual gates/deploy; "
        f"{f['manual_triggers']} manual triggers of {f['deployments']}",
    )
    r = doc["rollback_clustering"]
    add(
        "rollback clustering",
        f"{r['rollbacks']} rollbacks, {len(r['bursts'])} bursts",
        "; ".join(f"{x['service']}: {x['count']} from {x['since'][:10]}" for x in r["bursts"][:3])
        or r["burst_rule"],
    )
    c = doc["failure_concentration"]
    top = c["most_concentrated"]
    add(
        "change-failure concentration",
        f"most by {top}: index {c['by'][top]['index']}" if top else "–",
        f"{c['failures']} failures of {c['deployments']} deployments; "
        + (
            ", ".join(
                f"{_group_label(top, g['value'])} {_pct1(g['share_of_hits'])} of failures"
                for g in c["by"][top]["groups"][:3]
            )
            if top
            else c["by"]["service"]["note"] or ""
        ),
    )
    e = doc["escaped_defects"]
    add(
        "escaped defects",
        str(e["defects"]),
        f"index {e['index']}" if e["index"] is not None else e["note"] or "",
    )
    t = doc["incident_themes"]
    add(
        "incident themes",
        f"{t['incidents']} incidents",
        ", ".join(
            f"{x['theme']} {x['incidents']} ({x['first_half']}→{x['second_half']})"
            for x in t["themes"][:4]
        ),
    )
    w = doc["rework"]
    add(
        "rework",
        _pct1(w["rate"]),
        f"{w['rework']} of {w['deployments']} deployments; by {w['by']}: "
        + " ".join(_pct1(x["rate"]) for x in w["trend"]),
    )
    ai, other = doc["ai_assisted"]["ai_assisted"], doc["ai_assisted"]["other"]
    add(
        "AI-assisted change",
        f"{ai['changes']} of {ai['changes'] + other['changes']}",
        f"lines {_num(ai['lines']['median'])} vs {_num(other['lines']['median'])}; lead "
        f"{charts._hours(ai['lead_time']['median_s'])} vs {charts._hours(other['lead_time']['median_s'])}; "
        f"failed {_pct1(ai['failure_rate'])} vs {_pct1(other['failure_rate'])}; reverted "
        f"{_pct1(ai['rework_rate'])} vs {_pct1(other['rework_rate'])}",
    )
    return out


def _num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


_env = Environment(
    loader=PackageLoader("headway.interpret", "templates"),
    autoescape=select_autoescape(["html.j2"], default=False),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters["hours"] = charts._hours
_env.filters["pct"] = _pct


def _measure(value: Any, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s":
        return charts._hours(value)
    if unit in ("rate", "share"):
        return _pct1(value)
    return f"{value:.3g}" if isinstance(value, float) else str(value)


_env.filters["measure"] = _measure


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
        rows=_metric_rows(doc),
        signal_rows=signal_rows(doc["signals"]),
    )


def render_markdown(doc: dict[str, Any]) -> str:
    return _env.get_template("review.md.j2").render(
        doc=doc, rows=_metric_rows(doc), signal_rows=signal_rows(doc["signals"])
    )


def _metric_rows(doc: dict[str, Any]) -> list[dict[str, str]]:
    m = doc["metrics"]
    prev = doc["trend"][-2] if len(doc["trend"]) >= 2 else None

    def delta(now: float | None, before: float | None, unit: str) -> str:
        if now is None or before is None:
            return "–"
        if unit == "%":
            return f"{(now - before) * 100:+.1f} pts"
        if unit == "s":
            return f"{(now - before) / 3600:+.1f} h"
        return f"{now - before:+.1f}"

    def get(doc_m: dict[str, Any] | None, metric: str, key: str) -> Any:
        return None if doc_m is None else doc_m[metric][key]

    spec = [
        (
            "Deployment frequency",
            "deployment_frequency",
            "per_week",
            "",
            "/week",
            f"{m['deployment_frequency']['deployments']} deployments",
        ),
        (
            "Change lead time",
            "change_lead_time",
            "median_s",
            "s",
            "",
            f"median of {m['change_lead_time']['changes']} changes",
        ),
        (
            "Change fail rate",
            "change_fail_rate",
            "rate",
            "%",
            "",
            f"{m['change_fail_rate']['failed']} of {m['change_fail_rate']['deployments']} failed",
        ),
        (
            "Failed deployment recovery time",
            "failed_deployment_recovery_time",
            "median_s",
            "s",
            "",
            f"{m['failed_deployment_recovery_time']['recoveries']} recoveries",
        ),
        (
            "Deployment rework rate",
            "deployment_rework_rate",
            "rate",
            "%",
            "",
            f"{m['deployment_rework_rate']['rework']} rework deployments",
        ),
    ]
    rows = []
    for label, metric, key, unit, suffix, basis in spec:
        now = m[metric][key]
        text = (
            "–"
            if now is None
            else charts._hours(now)
            if unit == "s"
            else _pct(now)
            if unit == "%"
            else f"{now:.1f}{suffix}"
        )
        rows.append(
            {
                "metric": label,
                "value": text,
                "basis": basis,
                "change": delta(now, get(prev, metric, key), unit),
                "level": m[metric].get("level") or "–",
            }
        )
    return rows


def file_part(name: str) -> str:
    """A scope name as part of a file name: letters, digits, `-`, `_` and `.` are kept and
    anything else (a `/`, a quote, a space) becomes `_`. When anything was replaced, a short
    hash of the name follows, so that teams `a/b` and `a_b` do not overwrite each other."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]
    if safe == name:
        return safe
    return f"{safe}-{hashlib.sha256(name.encode()).hexdigest()[:8]}"


def write(doc: dict[str, Any], out: Path) -> list[Path]:
    """Write review-YYYY-MM.html and .md (and the flow picture for the Markdown) into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"review-{doc['period']['since'][:7]}" + (
        f"-{file_part(doc['scope']['name'])}" if doc["scope"]["name"] else ""
    )
    html_path, md_path, svg_path = (
        out / f"{stem}.html",
        out / f"{stem}.md",
        out / f"{stem}-flow.svg",
    )
    html_path.write_text(render_html(doc), encoding="utf-8")
    svg_path.write_text(
        charts.flow_picture(doc["flow"], doc["signals"], doc["metrics"]), encoding="utf-8"
    )
    md_path.write_text(
        render_markdown(doc).replace("{{FLOW_SVG}}", svg_path.name), encoding="utf-8"
    )
    return [html_path, md_path, svg_path]
