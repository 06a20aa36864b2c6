"""The operating review's questions, each pre-filled with the evidence in the review document
that answers it.
"""

from __future__ import annotations

from typing import Any

from headway.interpret import charts
from headway.interpret.review_tables import pct


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
            f"{pct(dominant['share'])} of lead time is {dominant['label']} "
            f"(median {charts._hours(dominant['median_s'])} per change)."
        )
    if wait and wait is not dominant:
        evidence.append(f"The longest wait is {wait['label']} ({pct(wait['share'])} of lead time).")
    evidence.append(
        f"Change fail rate {pct(m['change_fail_rate']['rate'])}, recovery median "
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
        f"{g['held_s'] / 3600:.0f} change-hours held ({pct(g['share_of_lead'])} of lead time)."
        for g in costs[:3]
    ]
    evidence += [
        f"This month, {k.replace('_', ' ')} approvals: median {charts._hours(v['median_s'])}, "
        f"p90 {charts._hours(v['p90_s'])} over {v['n']}."
        for k, v in slow_gates[:3]
    ]
    runs = friction["failed_runs_per_deployment"]
    evidence.append(
        f"{friction['manual_triggers']} of {friction['deployments']} deployments were "
        "triggered by hand; "
        + (
            f"{runs:.2f} failed pipeline runs per deployment."
            if runs is not None
            else f"failed pipeline runs: no data ({friction['failed_runs_reason']})."
        )
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
        evidence.append(f"{pct(batch['empty_share'])} of deployments shipped no change.")
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
        f"{t['period']['since'][:7]}: no counted deployments"
        if t["deployment_frequency"]["per_week"] is None
        else f"{t['period']['since'][:7]}: {t['deployment_frequency']['per_week']:.1f} "
        f"deploys/week, lead {charts._hours(t['change_lead_time']['median_s'])}, fail "
        f"{pct(t['change_fail_rate']['rate'])}"
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
