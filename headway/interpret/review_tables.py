"""The rows of the review's tables (the metrics against last month, the signals) and how its
numbers are written: percentages, durations, measures with their units.
"""

from __future__ import annotations

from typing import Any

from headway.interpret import charts
from headway.metrics import bands


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.0f}%"


def group_label(dimension: str, value: object) -> str:
    """A group's name as a reader expects it: hours as 14:00, other values as they are."""
    text = str(value)
    return f"{int(text):02d}:00" if dimension == "hour" and text.isdigit() else text


def pct1(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


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
        f"{num(b['changes_per_deployment']['median'])} changes, "
        f"{num(b['lines_per_deployment']['median'])} lines",
        f"median per deployment of {b['deployments']}; {b['empty']} empty "
        f"({pct1(b['empty_share'])}), {b['trivial']} of ≤{b['trivial_lines']} lines",
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
        f"{num(f['failed_runs_per_deployment'])} failed runs/deploy"
        if f["failed_runs_reason"] is None
        else f"no data: {f['failed_runs_reason']}",
        f"duration median {charts._hours(f['duration']['median_s'])}; "
        + (
            f"{num(f['manual_gates_per_deployment'])} manual gates/deploy; "
            if f["manual_gates_reason"] is None
            else "manual gates: no data; "
        )
        + f"{f['manual_triggers']} manual triggers of {f['deployments']}",
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
                f"{group_label(top, g['value'])} {pct1(g['share_of_hits'])} of failures"
                for g in c["by"][top]["groups"][:3]
            )
            if top
            else c["by"]["service"]["note"] or ""
        ),
    )
    e = doc["escaped_defects"]
    add(
        "escaped defects",
        "no data" if e["reason"] else str(e["defects"]),
        e["reason"] or (f"index {e['index']}" if e["index"] is not None else e["note"] or ""),
    )
    t = doc["incident_themes"]
    add(
        "incident themes",
        "no data" if t["reason"] else f"{t['incidents']} incidents",
        t["reason"]
        or ", ".join(
            f"{x['theme']} {x['incidents']} ({x['first_half']}→{x['second_half']})"
            for x in t["themes"][:4]
        ),
    )
    w = doc["rework"]
    add(
        "rework",
        pct1(w["rate"]),
        f"{w['rework']} of {w['deployments']} deployments; by {w['by']}: "
        + " ".join(pct1(x["rate"]) for x in w["trend"]),
    )
    ai, other = doc["ai_assisted"]["ai_assisted"], doc["ai_assisted"]["other"]
    add(
        "AI-assisted change",
        f"{ai['changes']} of {ai['changes'] + other['changes']}",
        f"lines {num(ai['lines']['median'])} vs {num(other['lines']['median'])}; lead "
        f"{charts._hours(ai['lead_time']['median_s'])} vs {charts._hours(other['lead_time']['median_s'])}; "
        f"failed {pct1(ai['failure_rate'])} vs {pct1(other['failure_rate'])}; reverted "
        f"{pct1(ai['rework_rate'])} vs {pct1(other['rework_rate'])}",
    )
    return out


def num(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def measure(value: Any, unit: str) -> str:
    if value is None:
        return "–"
    if unit == "s":
        return charts._hours(value)
    if unit in ("rate", "share"):
        return pct1(value)
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def metric_rows(doc: dict[str, Any]) -> list[dict[str, str]]:
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
    # In the order of DORA's factors, each named on its first row.
    factor_of = {metric: f for f, metrics in bands.FACTORS.items() for metric in metrics}
    order = [metric for metrics in bands.FACTORS.values() for metric in metrics]
    spec.sort(key=lambda row: order.index(row[1]))
    own = own_history(doc)
    rows: list[dict[str, Any]] = []
    for label, metric, key, unit, suffix, basis in spec:
        now = m[metric][key]
        first = not rows or rows[-1]["factor_of"] != factor_of[metric]
        level = m[metric].get("level") or (
            "too few to rate" if m[metric].get("level_reason") and now is not None else "–"
        )
        if own:
            level = against_own_history(now, [t[metric][key] for t in doc["trend"][:-1]], metric)
        text = (
            "no data"
            if now is None
            else charts._hours(now)
            if unit == "s"
            else pct(now)
            if unit == "%"
            else f"{now:.1f}{suffix}"
        )
        rows.append(
            {
                "factor": factor_of[metric] if first else "",
                "factor_of": factor_of[metric],
                "metric": label,
                "value": text,
                "basis": m[metric].get("reason") or basis,
                "change": delta(now, get(prev, metric, key), unit),
                "level": level,
            }
        )
    return rows


def own_history(doc: dict[str, Any]) -> bool:
    """Whether the review reads its scope against its own history rather than the DORA
    table: a scope whose services are all regulated, low in frequency by design."""
    return set(doc["metrics"]["scope"]["contexts"]) == {"regulated"}


def level_heading(doc: dict[str, Any]) -> str:
    """The heading of the metrics table's reading column."""
    if own_history(doc):
        return "against its own history (regulated)"
    return f"level ({doc['metrics']['levels']['year']})"


# A month within this share of its own median reads "as usual".
USUAL = 0.10


def against_own_history(now: float | None, before: list[float | None], metric: str) -> str:
    """A regulated scope's month read against its own earlier months, not the DORA table:
    `as usual`, `better than usual` or `worse than usual` against the median of the months
    before it that have a value, or why it cannot be read (docs/interpretation.md)."""
    history = sorted(v for v in before if v is not None)
    if now is None:
        return "–"
    if len(history) < 2:
        return "too little history to read"
    n = len(history)
    median = (history[n // 2] + history[(n - 1) // 2]) / 2
    months = f"its median of {n} months"
    if median == 0:
        return f"as usual ({months})" if now == 0 else f"worse than usual ({months} is 0)"
    change = (now - median) / median
    if abs(change) <= USUAL:
        return f"as usual ({months})"
    better = change > 0 if metric == "deployment_frequency" else change < 0
    return f"{'better' if better else 'worse'} than usual ({months})"


def score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def confidence_rows(section: dict[str, Any]) -> list[dict[str, str]]:
    """One line per team of the review's "Developer confidence" section, for people: the
    month's pulse (or why it shows none), its trend, and the delivery evidence beside it."""
    rows = []
    for t in section["teams"]:
        p, r = t["pulse"], t["rollouts"]
        means = p["means"] or {}
        change = t["change"]
        rows.append(
            {
                "team": t["team"],
                "answers": "too few answers" if p["reason"] else str(p["answers"]),
                **{q["key"]: score(means.get(q["key"])) for q in section["questions"]},
                "overall": score(p["overall"]) + ("" if change is None else f" ({change:+.2f})"),
                "trend": " → ".join(
                    f"{m['month'][5:7]}/{m['month'][2:4]} {score(m['overall'])}" for m in t["trend"]
                ),
                "deploys": "no data"
                if t["deployments_per_week"] is None
                else f"{t['deployments_per_week']:.1f}/week ({t['deployments']})",
                "rollouts": "no rollout finished"
                if not r["finished"]
                else f"{pct(r['completion_rate'])} completed, {pct(r['abandon_rate'])} "
                f"abandoned of {r['finished']}",
            }
        )
    return rows
