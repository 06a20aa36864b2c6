"""The six stages a shipped change's lead time is cut into, at the change's own timestamps:

    coding          first commit      → opened
    pickup          opened            → first review
    review          first review      → approved, minus time spent in approval gates
    approval wait   gate requested    → gate decided (change advisory, security, deployment
                                        gates attached to the change or to its deployment)
    merge wait      approved          → merged (deployment gates after the merge excluded)
    deploy wait     merged            → the deployment that shipped it finished, minus the
                                        part spent waiting for a deployment gate

One query fetches the timestamps (`metrics.queries.flow`) as columns; the arithmetic is
numpy's over whole columns (hundreds of thousands of changes in a large organisation), a
stage missing a timestamp NaN, so it is simply absent for that change rather than folded
into its neighbour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np

from headway.definitions import Definition
from headway.metrics.flow_source import FlowSource
from headway.metrics.queries.rules import GATE_KINDS as GATE_KINDS
from headway.metrics.scope import Period

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


# The thirteen moments of `queries.flow.shipped_moments`, for no change at all.
NO_MOMENTS = [np.empty(0, dtype=object)] * 13


def columns_of(rows: Sequence[Sequence[object]], width: int = 13) -> list[np.ndarray]:
    """Rows of moments (as an engine answers them) as the columns `cut` reads."""
    out = []
    for i in range(width):
        column = np.empty(len(rows), dtype=object)
        column[:] = [row[i] for row in rows]
        out.append(column)
    return out


@dataclass(frozen=True)
class Flows:
    """The changes of `change_flows` as columns, in the same order: each change's id,
    service, `at` and `deployed_at` (NaT: not shipped), its lead time and each stage's
    seconds (NaN where `ChangeFlow` has None), and which spans ran backwards (`negative`,
    by stage and "lead"). A breakdown of many changes sums these without a Python object a
    change."""

    ids: np.ndarray
    services: np.ndarray
    at: np.ndarray
    deployed_at: np.ndarray
    lead_s: np.ndarray
    stages: dict[str, np.ndarray]
    negative: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)

    def where(self, keep: np.ndarray) -> Flows:
        """The changes `keep` (a boolean column) marks, in order."""
        return Flows(
            self.ids[keep],
            self.services[keep],
            self.at[keep],
            self.deployed_at[keep],
            self.lead_s[keep],
            {s: v[keep] for s, v in self.stages.items()},
            {s: v[keep] for s, v in self.negative.items()},
        )

    def listed(self) -> list[ChangeFlow]:
        """One `ChangeFlow` a change."""
        stages = {s: _floats(self.stages[s]) for s in STAGES}
        backwards = [(s, self.negative[s].tolist()) for s in ("lead", *STAGES)]
        return [
            ChangeFlow(
                cid,
                service,
                at,
                deployed,
                lead,
                {s: stages[s][k] for s in STAGES},
                tuple(s for s, ran in backwards if ran[k]),
            )
            for k, (cid, service, at, deployed, lead) in enumerate(
                zip(
                    self.ids.tolist(),
                    self.services.tolist(),
                    self.at.astype(object).tolist(),
                    self.deployed_at.astype(object).tolist(),
                    _floats(self.lead_s),
                    strict=True,
                )
            )
        ]


def change_flows(
    source: FlowSource, defn: Definition, services: list[str], period: Period
) -> list[ChangeFlow]:
    """The changes the definition's flow covers in the period (`flow.changes`): every
    change first shipped by a counted deployment that finished in it, or every change merged
    in it; their moments read from `source` (the store's `StoreFlow`, or an engine's)."""
    return flow_columns(source, defn, services, period).listed()


def flow_columns(
    source: FlowSource, defn: Definition, services: list[str], period: Period
) -> Flows:
    """`change_flows` as columns."""
    return cut(defn, source.shipped(defn, services, period) if services else NO_MOMENTS)


def cut(defn: Definition, columns: Sequence[np.ndarray]) -> Flows:
    """Each change's stages from its moments, one array per column in the order
    `queries.flow.shipped_moments` gives them (as `engines.flow.EngineFlow` does too)."""
    cid, service, *times = columns
    deployed, lead_start, first, opened, reviewed, approved, merged, *gates = map(_at, times)
    if defn.flow.review_end == "merged":
        # review runs to the merge: no approval step, no merge wait
        approved = merged
    stages = _stages(first, opened, reviewed, approved, merged, deployed, gates)
    if defn.flow.review_end == "merged":
        stages["merge_wait"] = _unknown(len(cid))
    # Stages before the definition's lead-time start are not part of lead time.
    for s in outside_lead_time(defn.lead_time.start):
        stages[s] = _unknown(len(cid))
    lead = _span(lead_start, deployed)
    negative = {"lead": lead < 0, **{s: v < 0 for s, v in stages.items()}}
    for s, ran in negative.items():
        (lead if s == "lead" else stages[s])[ran] = np.nan
    at = merged if defn.flow.changes == "merged" else deployed
    return Flows(cid, service, _moments(at), _moments(deployed), lead, stages, negative)


def outside_lead_time(start: str) -> tuple[str, ...]:
    """The stages before a definition's lead-time start."""
    if start == "merged":
        return ("coding", "pickup", "review", "approval_wait", "merge_wait")
    return ("coding",) if start == "opened" else ()


class _At(NamedTuple):
    """A column of instants: microseconds since 1970 (0 where unknown) and whether known.
    Spans are whole microseconds over a million, the very float `timedelta.total_seconds`
    gives (both divide exactly known integers, rounding once)."""

    us: np.ndarray
    known: np.ndarray


def _at(column: np.ndarray) -> _At:
    moments = np.asarray(column, dtype="datetime64[us]")
    known = ~np.isnat(moments)
    return _At(np.where(known, moments.astype(np.int64), 0), known)


def _moments(at: _At) -> np.ndarray:
    return np.where(at.known, at.us, np.iinfo(np.int64).min).astype("datetime64[us]")


def _unknown(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _floats(column: np.ndarray) -> list[float | None]:
    return [None if v != v else v for v in column.tolist()]  # NaN: none


def _span(a: _At, b: _At) -> np.ndarray:
    """b − a in seconds, negative when b comes first; NaN when either is unknown."""
    seconds: np.ndarray = (b.us - a.us) / 1e6
    seconds[~(a.known & b.known)] = np.nan
    return seconds


def _overlap(a: _At, b: _At, lo: _At, hi: _At) -> np.ndarray:
    """Seconds [a, b) and [lo, hi) share: 0 when they are disjoint (or either runs
    backwards, which the caller counts as a negative span) or any end is unknown."""
    known = a.known & b.known & lo.known & hi.known
    shared = (np.minimum(b.us, hi.us) - np.maximum(a.us, lo.us)) / 1e6
    return np.where(known, np.maximum(0.0, shared), 0.0)


def _stages(
    first: _At,
    opened: _At,
    reviewed: _At,
    approved: _At,
    merged: _At,
    deployed: _At,
    gates: list[_At],
) -> dict[str, np.ndarray]:
    # Gate time counts once, in the stage it interrupted: change gates before approval,
    # deployment gates after the merge. The overlap lies inside [review, approval] and
    # [merge, deployment], so subtracting it leaves a stage negative only when the stage
    # itself runs backwards. A gate decided before it was requested is a negative approval
    # wait and takes no time from its neighbours.
    change_requested, change_decided, deploy_requested, deploy_decided = gates
    decided = change_decided.known | deploy_decided.known
    # the most negative gate span of a decided gate; 0.0 (false) when none runs backwards
    backwards = np.minimum(
        *(
            np.where(d.known & (g < 0), g, 0.0)
            for d, g in (
                (change_decided, _span(change_requested, change_decided)),
                (deploy_decided, _span(deploy_requested, deploy_decided)),
            )
        )
    )
    clean = backwards == 0
    review_start = _At(
        np.where(reviewed.known, reviewed.us, opened.us), reviewed.known | opened.known
    )
    before = _overlap(change_requested, change_decided, review_start, approved)
    after = _overlap(deploy_requested, deploy_decided, merged, deployed)
    gate_before = np.where(clean, before, 0.0)
    gate_after = np.where(clean, after, 0.0)
    return {
        "coding": _span(first, opened),
        "pickup": _span(opened, reviewed),
        "review": _span(reviewed, approved) - gate_before,
        "approval_wait": np.where(
            decided, np.where(clean, gate_before + gate_after, backwards), np.nan
        ),
        "merge_wait": _span(approved, merged),
        "deploy_wait": _span(merged, deployed) - gate_after,
    }
