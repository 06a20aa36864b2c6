"""The six stages a shipped change's lead time is cut into, at the change's own timestamps:

    coding          first commit      → opened
    pickup          opened            → first review
    review          first review      → approved, minus time spent in approval gates
    approval wait   gate requested    → gate decided (change advisory, security, deployment
                                        gates attached to the change or to its deployment)
    merge wait      approved          → merged (deployment gates after the merge excluded)
    deploy wait     merged            → the deployment that shipped it finished, minus the
                                        part spent waiting for a deployment gate

One query fetches the timestamps (`metrics.queries.flow`); the arithmetic is plain Python so
that a stage missing a timestamp is simply absent for that change rather than folded into its
neighbour.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from headway.definitions import Definition
from headway.metrics.durations import span
from headway.metrics.queries import flow as queries
from headway.metrics.queries.rules import GATE_KINDS as GATE_KINDS
from headway.metrics.scope import Period
from headway.store import Store

STAGES = ("coding", "pickup", "review", "approval_wait", "merge_wait", "deploy_wait")
WAITING = ("pickup", "approval_wait", "merge_wait", "deploy_wait")
LABELS = {
    "coding": "coding",
    "pickup": "pickup",
    "review": "review",
    "approval_wait": "approval wait",
    "merge_wait": "merge wait",
    "deploy_wait": "deploy wait",
}
BOUNDS = {
    "coding": ("first commit", "opened"),
    "pickup": ("opened", "first review"),
    "review": ("first review", "approved (gate time excluded)"),
    "approval_wait": ("gate requested", "gate decided"),
    "merge_wait": ("approved", "merged"),
    "deploy_wait": ("merged", "deployed"),
}
LEAD_BOUNDS = ("lead-time start", "deployed")


@dataclass
class ChangeFlow:
    """One change and the seconds it spent in each stage (None: no data, or a negative
    span, which `negative` names; "lead" there means the lead time itself ran backwards and
    `lead_s` is None). `at` is the moment that puts it in a period: its deployment finishing,
    or its merge under `flow.changes = merged`, where a change no deployment has shipped has
    no `deployed_at`, no deploy wait and no lead time."""

    id: str
    service: str
    at: datetime
    deployed_at: datetime | None
    lead_s: float | None
    stages: dict[str, float | None]
    negative: tuple[str, ...] = ()


def change_flows(
    store: Store, defn: Definition, services: list[str], period: Period
) -> list[ChangeFlow]:
    """The changes the definition's flow covers in the period (`flow.changes`): every
    change first shipped by a counted deployment that finished in it, or every change merged
    in it."""
    if not services:
        return []
    return cut(defn, queries.shipped_moments(store, defn, services, period.since, period.until))


def cut(defn: Definition, rows: Iterable[tuple[Any, ...]]) -> list[ChangeFlow]:
    """Each change's stages from its moments (the rows `queries.shipped_moments` gives, and
    `engines.flow.moments` on an analytics engine), in the rows' order."""
    start = defn.lead_time.start
    out = []
    for (
        cid,
        service,
        deployed,
        lead_start,
        first,
        opened,
        reviewed,
        approved,
        merged,
        cg_req,
        cg_dec,
        dg_req,
        dg_dec,
    ) in rows:
        if defn.flow.review_end == "merged":
            # review runs to the merge: no approval step, no merge wait
            approved = merged
        stages = _stages(
            first, opened, reviewed, approved, merged, deployed, (cg_req, cg_dec), (dg_req, dg_dec)
        )
        if defn.flow.review_end == "merged":
            stages["merge_wait"] = None
        # Stages before the definition's lead-time start are not part of lead time.
        for s in outside_lead_time(start):
            stages[s] = None
        negative = [s for s in STAGES if (v := stages[s]) is not None and v < 0]
        for s in negative:
            stages[s] = None
        lead = span(lead_start, deployed)
        if lead is not None and lead < 0:
            negative.insert(0, "lead")
            lead = None
        at = merged if defn.flow.changes == "merged" else deployed
        out.append(ChangeFlow(cid, service, at, deployed, lead, stages, tuple(negative)))
    return out


def outside_lead_time(start: str) -> tuple[str, ...]:
    """The stages before a definition's lead-time start."""
    if start == "merged":
        return ("coding", "pickup", "review", "approval_wait", "merge_wait")
    return ("coding",) if start == "opened" else ()


def _overlap(
    a: datetime | None, b: datetime | None, lo: datetime | None, hi: datetime | None
) -> float:
    """Seconds [a, b) and [lo, hi) share: 0 when they are disjoint (or either runs
    backwards, which the caller counts as a negative span)."""
    if None in (a, b, lo, hi):
        return 0.0
    return max(0.0, (min(b, hi) - max(a, lo)).total_seconds())  # type: ignore[type-var, operator]


def _stages(
    first: datetime | None,
    opened: datetime | None,
    reviewed: datetime | None,
    approved: datetime | None,
    merged: datetime | None,
    deployed: datetime | None,
    change_gate: tuple[Any, Any],
    deploy_gate: tuple[Any, Any],
) -> dict[str, float | None]:
    # Gate time counts once, in the stage it interrupted: change gates before approval,
    # deployment gates after the merge. The overlap lies inside [review, approval] and
    # [merge, deployment], so subtracting it leaves a stage negative only when the stage
    # itself runs backwards. A gate decided before it was requested is a negative approval
    # wait and takes no time from its neighbours.
    gates = [g for g in (change_gate, deploy_gate) if g[1] is not None]
    # the most negative gate span; 0.0 (false) when no gate runs backwards
    backwards_s = min(
        (g for gate in gates if (g := span(*gate)) is not None and g < 0), default=0.0
    )
    gate_before = 0.0 if backwards_s else _overlap(*change_gate, reviewed or opened, approved)
    gate_after = 0.0 if backwards_s else _overlap(*deploy_gate, merged, deployed)
    review = span(reviewed, approved)
    deploy = span(merged, deployed)
    return {
        "coding": span(first, opened),
        "pickup": span(opened, reviewed),
        "review": None if review is None else review - gate_before,
        "approval_wait": (backwards_s or gate_before + gate_after) if gates else None,
        "merge_wait": span(approved, merged),
        "deploy_wait": None if deploy is None else deploy - gate_after,
    }
