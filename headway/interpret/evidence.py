"""What a finding is and how its evidence is put: the `Finding` record, each detector's title,
review question and remedy, and the statistics and formats every detector words it with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from headway.metrics.scope import Scope

QUESTIONS = {
    "speed_outcomes": "What made delivery faster, and what evidence shows it did not weaken "
    "assurance or push instability downstream to users?",
    "slicing": "Which decision do these smaller deployments improve, and what user outcome "
    "moved because of them?",
    "local_optimisation": "Where did the time saved in this stage go, and who owns the queue "
    "that absorbed it?",
    "theatre": "What did users receive from these deployments that they did not receive "
    "before, and which of them could have been skipped?",
    "redefined": "Did fewer changes fail, or did we stop recording failures the way we did? "
    "Who decided the change in classification, and is it written down?",
    "hidden_quality": "Which repairs are being made without an incident, and what would we "
    "learn if they were reviewed like failures?",
    "context": "Are these teams facing the same risk? Which differences in operating context "
    "explain the gap before any of it is read as performance?",
    "healthy_improvement": "What made the smaller changes possible, and how do we keep it "
    "when deadlines compress?",
    "batch_size": "What makes releases bundle changes (a release train, a manual step, a "
    "costly deployment), and what would let each change ship on its own?",
    "gate_cost": "Which risk does this approval reduce, and which part of its evidence could "
    "a pipeline produce before anyone is asked?",
    "recovery_without_rollback": "Why were these failures fixed forward instead of rolled "
    "back, and what would make rollback safe enough to be the first move?",
    "failure_cluster": "What is different about where the failures gather, and who owns it?",
}
# What to do about each finding, in the founding documents' terms (reduce batch size, remove
# the named wait, automate the evidence of the named gate, strengthen rollback, compare only
# within a context); a detector that knows more names it in the finding itself.
REMEDIES = {
    "speed_outcomes": "Improve automated evidence (tests, observability, staged rollout) "
    "before pushing for more speed; reduce batch size rather than weaken assurance.",
    "slicing": "Slice work by user outcome, not by deployment count, and judge each "
    "deployment by the value it ships.",
    "local_optimisation": "Remove the wait that absorbed the saving: work on the stage that "
    "grew, not on the one that already got faster.",
    "theatre": "Stop counting deployments that ship nothing users can see; track "
    "user-visible change instead.",
    "redefined": "Restore one written definition of a failed change, recompute the trend "
    "under it, and discuss failures without blame.",
    "hidden_quality": "Record repairs as failures and review them like incidents, without "
    "blame, so they are learned from.",
    "context": "Compare only within a context: read each team against its own history and "
    "its context's goals.",
    "healthy_improvement": "Keep going: protect the small batches and the automated evidence "
    "that made this possible.",
    "batch_size": "Reduce batch size: release each change on its own.",
    "gate_cost": "Automate the evidence the gate asks for.",
    "recovery_without_rollback": "Strengthen rollback: make it the first move, and rehearse it.",
    "failure_cluster": "Stabilise where failures gather before releasing more there.",
}
TITLES = {
    "speed_outcomes": "Speed improves while outcomes worsen",
    "slicing": "Change slicing without value",
    "local_optimisation": "Local optimisation",
    "theatre": "Delivery theatre",
    "redefined": "Failures redefined away",
    "hidden_quality": "Quality work hidden",
    "context": "Comparison ignores operating context",
    "healthy_improvement": "Healthy flow improvement",
    "batch_size": "Large releases fail more",
    "gate_cost": "An approval gate's cost is hidden in lead time",
    "recovery_without_rollback": "Recovery without rollback is slow",
    "failure_cluster": "Failures cluster",
}
DETECTORS = tuple(TITLES)


@dataclass
class Finding:
    detector: str
    scope: Scope
    statement: str
    measures: list[dict[str, Any]]
    records: list[str]
    confidence: str
    confidence_basis: str
    question: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    remedy: str = ""
    since: str | None = None
    kind: str = "problem"  # or "positive": an improvement worth keeping

    def to_json(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "title": TITLES[self.detector],
            "scope": {"kind": self.scope.kind, "name": self.scope.name},
            "statement": self.statement,
            "evidence": {
                "measures": self.measures,
                "records": self.records[:50],
                "records_total": len(self.records),
                **self.extra,
            },
            "confidence": self.confidence,
            "confidence_basis": self.confidence_basis,
            "question": self.question or QUESTIONS[self.detector],
            "kind": self.kind,
            "remedy": self.remedy or REMEDIES[self.detector],
            **({"since": self.since} if self.since else {}),
        }


# -- statistics ------------------------------------------------------------------------------


def z_rise(k0: int, n0: int, k1: int, n1: int) -> float:
    """Two-proportion z statistic for the rate rising from k0/n0 to k1/n1 (pooled)."""
    if not n0 or not n1:
        return 0.0
    pooled = (k0 + k1) / (n0 + n1)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n0 + 1 / n1))
    return 0.0 if se == 0 else (k1 / n1 - k0 / n0) / se


def confidence(z: float) -> tuple[str, str]:
    level = "high" if z >= 3.5 else "medium" if z >= 2.5 else "low"
    return level, f"two-proportion z = {z:.2f} for the decisive rate"


def measure(
    name: str, before: float | None, after: float | None, unit: str = "", basis: str = ""
) -> dict[str, Any]:
    change = None
    if before is not None and after is not None:
        change = round(after / before - 1, 4) if before else None
    return {
        "measure": name,
        "before": rounded(before),
        "after": rounded(after),
        "relative_change": change,
        "unit": unit,
        "basis": basis,
    }


def rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def hours(value: float | None) -> str:
    return "–" if value is None else f"{value / 3600:.1f} h"
