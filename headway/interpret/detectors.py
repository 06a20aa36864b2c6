"""Detectors: patterns that mean a number is moving for the wrong reason.

Each detector compares a team's current window with a baseline window just before it and
returns a `Finding` only when the evidence is strong enough: a plain statement, the numbers
and the records behind them, a confidence, and the review question the finding raises.
A detector that lacks data says nothing rather than guessing; thresholds are named constants
documented in docs/detectors.md, with each detector's hit and false-alarm rates.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

from headway import definitions as defs
from headway.definitions import Definition
from headway.metrics import signal_rows, signals
from headway.metrics.compare import diff
from headway.metrics.scope import Period, Scope, iso
from headway.metrics.stages import LABELS, STAGES, ChangeFlow, change_flows
from headway.store import Store

MIN_DEPLOYMENTS = 10  # per window, for rates
MIN_INCIDENTS = 5
MIN_STAGE_CHANGES = 10
Z_WORSE = 2.33  # one-sided p < 0.01: a worse outcome must be clearer than chance
SPEED_LEAD = 0.8  # lead time median at most 80% of the baseline's …
SPEED_FREQ = 1.3  # … or deployments per day up by 30% or more
SLICE_SIZE = 0.7  # median lines per user-visible deployment down by 30% or more
LOCAL_STAGE = 0.6  # one stage's median down by 40% or more …
LOCAL_FLAT = 0.15  # … while end to end moved by less than 15%
THEATRE_SHARE = 0.35  # deployments that ship nothing users can see
THEATRE_RISE = 0.15
THEATRE_ADDED = 0.6  # at least 60% of the added deployments ship nothing user-visible …
THEATRE_VALUE = 1.5  # … and user-visible changes per day rose by at most 50%
REDEFINED_CFR = 0.9  # change fail rate at most 90% of the baseline's …
REDEFINED_INCIDENTS = 0.7  # … while incidents per deployment stayed at 70% or more
DRIFT_SHARE = 0.3
HIDDEN_REWORK = 0.05
HIDDEN_INCIDENTS = 0.7
EXTERNAL_THEMES = ("third-party", "infrastructure", "provider", "external", "upstream")

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


@dataclass
class Window:
    """What one team did in one window: the numbers every detector reads."""

    period: Period
    days: float
    deployments: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    defects: list[dict[str, Any]]
    flows: list[ChangeFlow]

    @property
    def n(self) -> int:
        return len(self.deployments)

    @property
    def per_day(self) -> float:
        return self.n / self.days if self.days else 0.0

    @property
    def failed(self) -> int:
        return sum(1 for d in self.deployments if d["failed"])

    @property
    def cfr(self) -> float | None:
        return self.failed / self.n if self.n else None

    @property
    def shipping(self) -> list[dict[str, Any]]:
        return [d for d in self.deployments if d["kind"] in ("deploy", "hotfix")]

    @property
    def invisible(self) -> list[dict[str, Any]]:
        return [d for d in self.shipping if not d["visible"] and not d["repeat_version"]]

    @property
    def rework(self) -> int:
        return sum(d["rework"] for d in self.deployments)

    def stage_median(self, stage: str) -> tuple[float | None, int]:
        values = [v for f in self.flows if (v := f.stages[stage]) is not None]
        return (median(values) if len(values) >= MIN_STAGE_CHANGES else None), len(values)

    @property
    def lead_median(self) -> float | None:
        leads = [f.lead_s for f in self.flows if f.lead_s is not None]
        return median(leads) if len(leads) >= MIN_STAGE_CHANGES else None

    def share(self, items: list[Any], of: list[Any]) -> float | None:
        return len(items) / len(of) if of else None


def window(store: Store, defn: Definition, services: list[str], period: Period) -> Window:
    rows = signal_rows.load(store, defn, services, period)
    return Window(
        period,
        period.days,
        rows.deployments,
        rows.changes,
        rows.incidents,
        rows.defects,
        change_flows(store, defn, services, period),
    )


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


def _measure(
    name: str, before: float | None, after: float | None, unit: str = "", basis: str = ""
) -> dict[str, Any]:
    change = None
    if before is not None and after is not None:
        change = round(after / before - 1, 4) if before else None
    return {
        "measure": name,
        "before": _r(before),
        "after": _r(after),
        "relative_change": change,
        "unit": unit,
        "basis": basis,
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _hours(value: float | None) -> str:
    return "–" if value is None else f"{value / 3600:.1f} h"


# -- the detectors ---------------------------------------------------------------------------


def speed_outcomes(scope: Scope, b: Window, a: Window) -> Finding | None:
    if b.n < MIN_DEPLOYMENTS or a.n < MIN_DEPLOYMENTS:
        return None
    faster_lead = b.lead_median and a.lead_median and a.lead_median <= SPEED_LEAD * b.lead_median
    more = a.per_day >= SPEED_FREQ * b.per_day
    if not (faster_lead or more):
        return None
    b_ships, a_ships = len(b.shipping), len(a.shipping)
    outcomes = {
        "change fail rate": (
            z_rise(b.failed, b.n, a.failed, a.n),
            b.cfr,
            a.cfr,
            [d["id"] for d in a.deployments if d["failed"]],
        ),
        "escaped defects per deployment": (
            z_rise(len(b.defects), b_ships, len(a.defects), a_ships),
            len(b.defects) / b_ships if b_ships else None,
            len(a.defects) / a_ships if a_ships else None,
            [d["id"] for d in a.defects],
        ),
        "incidents per deployment": (
            z_rise(len(b.incidents), b.n, len(a.incidents), a.n),
            len(b.incidents) / b.n,
            len(a.incidents) / a.n,
            [i["id"] for i in a.incidents],
        ),
    }
    worse = {k: v for k, v in outcomes.items() if v[0] >= Z_WORSE}
    if not worse:
        return None
    name, (z, before, after, records) = max(worse.items(), key=lambda kv: kv[1][0])
    level, basis = confidence(z)
    speed = (
        f"lead time fell from {_hours(b.lead_median)} to {_hours(a.lead_median)}"
        if faster_lead
        else f"deployments rose from {b.per_day:.1f} to {a.per_day:.1f} a day"
    )
    return Finding(
        "speed_outcomes",
        scope,
        f"{scope.name}: {speed}, while {name} rose from {_pct(before)} to {_pct(after)}.",
        [
            _measure("deployments per day", b.per_day, a.per_day),
            _measure("lead time median", b.lead_median, a.lead_median, "s"),
            *(_measure(k, v[1], v[2], "rate", f"z = {v[0]:.2f}") for k, v in outcomes.items()),
        ],
        records,
        level,
        basis,
    )


def slicing(scope: Scope, b: Window, a: Window) -> Finding | None:
    if b.n < MIN_DEPLOYMENTS or a.n < MIN_DEPLOYMENTS or a.per_day < SPEED_FREQ * b.per_day:
        return None
    size = [[d["visible_lines"] for d in w.shipping if d["visible"]] for w in (b, a)]
    if min(len(size[0]), len(size[1])) < MIN_DEPLOYMENTS:
        return None
    before_size, after_size = median(size[0]), median(size[1])
    if not before_size or after_size > SLICE_SIZE * before_size:
        return None
    # outcomes flat or worse: the change fail rate did not fall clearly
    z_better = -z_rise(b.failed, b.n, a.failed, a.n)
    if z_better >= Z_WORSE and a.cfr is not None and b.cfr and a.cfr <= 0.7 * b.cfr:
        return None
    small = [d for d in a.shipping if d["changes"] == 0 or d["lines"] <= signals.TRIVIAL_LINES]
    ratio = a.per_day / b.per_day
    level = "high" if ratio >= 1.6 and after_size <= 0.5 * before_size else "medium"
    return Finding(
        "slicing",
        scope,
        f"{scope.name}: deployments rose from {b.per_day:.1f} to {a.per_day:.1f} a day and the "
        f"median user-visible deployment shrank from {before_size:.0f} to {after_size:.0f} lines, "
        f"but the change fail rate did not improve ({_pct(b.cfr)} → {_pct(a.cfr)}); "
        f"{_pct(len(small) / len(a.shipping))} of deployments shipped nothing or at most "
        f"{signals.TRIVIAL_LINES} lines.",
        [
            _measure("deployments per day", b.per_day, a.per_day),
            _measure("median lines per user-visible deployment", before_size, after_size, "lines"),
            _measure("change fail rate", b.cfr, a.cfr, "rate"),
            _measure(
                "empty or trivial deployments",
                b.share(
                    [
                        d
                        for d in b.shipping
                        if d["changes"] == 0 or d["lines"] <= signals.TRIVIAL_LINES
                    ],
                    b.shipping,
                ),
                len(small) / len(a.shipping),
                "share",
            ),
        ],
        [d["id"] for d in small],
        level,
        f"frequency ×{ratio:.2f}, size ×{after_size / before_size:.2f}",
    )


def local_optimisation(scope: Scope, b: Window, a: Window) -> Finding | None:
    lead_b, lead_a = b.lead_median, a.lead_median
    if lead_b is None or lead_a is None or abs(lead_a / lead_b - 1) >= LOCAL_FLAT:
        return None
    total_b = sum(f.lead_s for f in b.flows if f.lead_s is not None)
    best: tuple[float, str, float, float] | None = None
    for stage in STAGES:
        mb, ma = b.stage_median(stage)[0], a.stage_median(stage)[0]
        stage_total = sum(v for f in b.flows if (v := f.stages[stage]) is not None)
        if mb is None or ma is None or not mb or stage_total < 0.1 * total_b:
            continue
        if ma <= LOCAL_STAGE * mb and (best is None or ma / mb < best[0]):
            best = (ma / mb, stage, mb, ma)
    if best is None:
        return None
    ratio, stage, mb, ma = best
    grew = max(
        (s for s in STAGES if s != stage),
        key=lambda s: (a.stage_median(s)[0] or 0) - (b.stage_median(s)[0] or 0),
    )
    gb, ga = b.stage_median(grew)[0], a.stage_median(grew)[0]
    label = LABELS
    return Finding(
        "local_optimisation",
        scope,
        f"{scope.name}: {label[stage]} got {1 - ratio:.0%} faster ({_hours(mb)} → {_hours(ma)}), "
        f"but end-to-end lead time barely moved ({_hours(lead_b)} → {_hours(lead_a)}); "
        f"{label[grew]} grew from {_hours(gb)} to {_hours(ga)}.",
        [
            _measure(f"{label[stage]} median", mb, ma, "s"),
            _measure("lead time median", lead_b, lead_a, "s"),
            _measure(f"{label[grew]} median", gb, ga, "s"),
        ],
        [f.id for f in a.flows][:50],
        "high" if ratio <= 0.4 else "medium",
        f"{len(a.flows)} and {len(b.flows)} changes; stage ×{ratio:.2f}, end to end "
        f"×{lead_a / lead_b:.2f}",
        remedy=f"Remove the avoidable {label[grew]}: it absorbed what {label[stage]} saved.",
    )


def theatre(scope: Scope, b: Window, a: Window) -> Finding | None:
    if b.n < MIN_DEPLOYMENTS or a.n < MIN_DEPLOYMENTS or a.per_day < SPEED_FREQ * b.per_day:
        return None
    share_b, share_a = b.share(b.invisible, b.shipping), a.share(a.invisible, a.shipping)
    if (
        share_a is None
        or share_b is None
        or share_a < THEATRE_SHARE
        or share_a < share_b + THEATRE_RISE
    ):
        return None
    value_b = sum(d["visible"] for d in b.shipping) / b.days
    value_a = sum(d["visible"] for d in a.shipping) / a.days
    # most of the added deployments are ones that ship nothing users can see
    added = a.per_day - b.per_day
    added_invisible = len(a.invisible) / a.days - len(b.invisible) / b.days
    if added_invisible < THEATRE_ADDED * added or (value_b and value_a > THEATRE_VALUE * value_b):
        return None
    z = z_rise(len(b.invisible), len(b.shipping), len(a.invisible), len(a.shipping))
    level, basis = confidence(z)
    return Finding(
        "theatre",
        scope,
        f"{scope.name}: deployments rose from {b.per_day:.1f} to {a.per_day:.1f} a day, but "
        f"{_pct(share_a)} of them shipped nothing users can see (empty, or only chores and "
        f"version bumps), up from {_pct(share_b)}; user-visible changes per day went from "
        f"{value_b:.1f} to {value_a:.1f}.",
        [
            _measure("deployments per day", b.per_day, a.per_day),
            _measure("share shipping nothing user-visible", share_b, share_a, "share", basis),
            _measure("user-visible changes per day", value_b, value_a),
        ],
        [d["id"] for d in a.invisible],
        level,
        basis,
    )


def redefined(scope: Scope, b: Window, a: Window) -> Finding | None:
    """The change fail rate falls while the signs of failure (incidents and escaped defects per
    deployment) hold, and at least two independent signs show failures being recorded
    differently: fewer incidents naming their cause, more labelled external, rollbacks
    recorded as ordinary redeploys of an earlier version, failures reported as defects."""
    if len(b.incidents) < MIN_INCIDENTS or not b.cfr or a.cfr is None:
        return None
    if a.cfr > REDEFINED_CFR * b.cfr:
        return None
    signs_b = (len(b.incidents) + len(b.defects)) / b.n
    signs_a = (len(a.incidents) + len(a.defects)) / a.n
    if signs_a < REDEFINED_INCIDENTS * signs_b:
        return None

    def named(w: Window) -> float | None:
        return (
            sum(1 for i in w.incidents if i["attribution"] == "named") / len(w.incidents)
            if w.incidents
            else None
        )

    def external(w: Window) -> float | None:
        return (
            sum(1 for i in w.incidents if set(i["labels"]) & set(EXTERNAL_THEMES))
            / len(w.incidents)
            if w.incidents
            else None
        )

    repeats = [d["id"] for d in a.deployments if d["repeat_version"]]
    drifts = []
    nb, na, eb, ea = named(b), named(a), external(b), external(a)
    if nb is not None and na is not None and nb - na >= DRIFT_SHARE:
        drifts.append(
            f"incidents naming the deployment that caused them fell from {_pct(nb)} to {_pct(na)}"
        )
    if eb is not None and ea is not None and ea - eb >= DRIFT_SHARE:
        drifts.append(
            f"incidents labelled as external ({', '.join(EXTERNAL_THEMES[:2])} …) rose "
            f"from {_pct(eb)} to {_pct(ea)}"
        )
    if len(repeats) >= 2:
        drifts.append(
            f"{len(repeats)} ordinary deployments re-shipped an earlier version "
            "(rollbacks not recorded as rollbacks)"
        )
    z_defects = z_rise(len(b.defects), b.n, len(a.defects), a.n)
    if z_defects >= Z_WORSE:
        drifts.append(
            f"escaped defects rose from {len(b.defects) / b.n:.2f} to "
            f"{len(a.defects) / a.n:.2f} per deployment (failures reported as bugs)"
        )
    if len(drifts) < 2:
        return None
    return Finding(
        "redefined",
        scope,
        f"{scope.name}: change fail rate fell from {_pct(b.cfr)} to {_pct(a.cfr)} while incidents "
        f"and escaped defects per deployment held ({signs_b:.2f} → {signs_a:.2f}); "
        + "; ".join(drifts)
        + ".",
        [
            _measure("change fail rate", b.cfr, a.cfr, "rate"),
            _measure("incidents and defects per deployment", signs_b, signs_a),
            _measure("incidents naming their cause", nb, na, "share"),
            _measure("incidents labelled external", eb, ea, "share"),
            _measure(
                "escaped defects per deployment",
                len(b.defects) / b.n,
                len(a.defects) / a.n,
                "",
                f"z = {z_defects:.2f}",
            ),
            _measure(
                "re-deployed earlier versions",
                sum(d["repeat_version"] for d in b.deployments),
                len(repeats),
                "deployments",
            ),
        ],
        [i["id"] for i in a.incidents] + [d["id"] for d in a.defects] + repeats,
        "high" if len(drifts) >= 3 else "medium",
        f"{len(drifts)} of 4 independent signs of reclassification",
    )


def hidden_quality(scope: Scope, b: Window, a: Window) -> Finding | None:
    if b.n < MIN_DEPLOYMENTS or a.n < MIN_DEPLOYMENTS or len(b.incidents) < MIN_INCIDENTS:
        return None
    rw_b, rw_a = b.rework / b.n, a.rework / a.n
    z = z_rise(b.rework, b.n, a.rework, a.n)
    inc_b, inc_a = len(b.incidents) / b.n, len(a.incidents) / a.n
    if rw_a - rw_b < HIDDEN_REWORK or z < Z_WORSE or inc_a > HIDDEN_INCIDENTS * inc_b:
        return None
    level, basis = confidence(z)
    return Finding(
        "hidden_quality",
        scope,
        f"{scope.name}: rework rose from {_pct(rw_b)} to {_pct(rw_a)} of deployments while "
        f"reported incidents fell from {inc_b:.2f} to {inc_a:.2f} per deployment: repairs are "
        "happening without being reported as failures.",
        [
            _measure("rework rate", rw_b, rw_a, "rate", f"z = {z:.2f}"),
            _measure("incidents per deployment", inc_b, inc_a),
        ],
        [d["id"] for d in a.deployments if d["rework"]],
        level,
        basis,
    )


TEAM_DETECTORS = (speed_outcomes, slicing, local_optimisation, theatre, redefined, hidden_quality)


def context_comparison(
    store: Store, defn: Definition, groups: dict[str, list[tuple[str, str]]], period: Period
) -> Finding | None:
    """Teams set side by side whose services live in different operating contexts."""
    contexts = {team: sorted({c for _, c in members}) for team, members in groups.items()}
    distinct = sorted({c for cs in contexts.values() for c in cs})
    mixed = [t for t, cs in contexts.items() if len(cs) > 1]
    if len(distinct) < 2 or (len(groups) < 2 and not mixed):
        return None
    from headway.metrics import dora

    sets = {
        team: dora.compute(store, defn, Scope("team", team), period).to_json() for team in groups
    }
    measures = [
        {
            "measure": f"team {team}",
            "contexts": contexts[team],
            "deployments_per_week": round(s["deployment_frequency"]["per_week"], 1),
            "level": s["deployment_frequency"]["level"],
            "change_fail_rate": s["change_fail_rate"]["rate"],
        }
        for team, s in sets.items()
    ]
    return Finding(
        "context",
        Scope("organisation"),
        f"{len(groups)} teams are compared across {len(distinct)} operating contexts "
        f"({', '.join(distinct)}); their levels are only comparable within one context"
        + (f"; team(s) {', '.join(mixed)} blend contexts themselves" if mixed else "")
        + ".",
        measures,
        [],
        "high",
        "contexts are recorded on each service",
        extra={"contexts": contexts},
    )


# -- running them ----------------------------------------------------------------------------


def baseline_for(current: Period, factor: int = 2) -> Period:
    """The window just before `current`, `factor` times as long (more data, steadier rates)."""
    length = current.until - current.since
    return Period(current.since - factor * length, current.since)


def definition_changes(
    store: Store, scope: Scope, current: Period, since: datetime
) -> list[Finding]:
    """A change of the active definition after `since` that lowers the change fail rate."""
    rows = store.query(
        "SELECT name, version, body, author, created_at, reason FROM definitions ORDER BY created_at"
    )
    out = []
    for before, after in itertools.pairwise(rows):
        if not since <= after[4] < current.until:
            continue
        da = defs._from_row(before[0], before[1], before[2])
        db = defs._from_row(after[0], after[1], after[2])
        result = diff(store, da, db, scope, current)
        ja, jb = (
            result["results"]["a"]["change_fail_rate"],
            result["results"]["b"]["change_fail_rate"],
        )
        if ja["rate"] is None or jb["rate"] is None or jb["rate"] >= ja["rate"]:
            continue
        out.append(
            Finding(
                "redefined",
                scope,
                f"The definition changed from {da.label} to {db.label} on {after[4]:%Y-%m-%d} "
                f"({after[3]}: “{after[5]}”); over the same events the change fail rate moves from "
                f"{_pct(ja['rate'])} to {_pct(jb['rate'])}.",
                [
                    _measure("change fail rate, same events", ja["rate"], jb["rate"], "rate"),
                    *(
                        {"measure": f"rule {r['rule']}", "before": r["a"], "after": r["b"]}
                        for r in result["rules"]
                    ),
                ],
                [],
                "high",
                "recomputed over identical events under both definitions",
                extra={
                    "definition_change": {
                        "from": da.label,
                        "to": db.label,
                        "at": iso(after[4]),
                        "author": after[3],
                        "reason": after[5],
                    }
                },
            )
        )
    return out
