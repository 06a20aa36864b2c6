"""Detectors: patterns that mean a number is moving for the wrong reason.

Each detector compares a team's current window with a baseline window just before it and
returns a `Finding` only when the evidence is strong enough: a plain statement, the numbers
and the records behind them, a confidence, and the review question the finding raises.
A detector that lacks data says nothing rather than guessing; thresholds are named constants
documented in docs/detectors.md, with each detector's hit and false-alarm rates.

A `Finding` and the words and statistics of its evidence are in `evidence`; the two windows
in `windows`; the checks that read beyond one team's windows in `comparisons`.
"""

from __future__ import annotations

from statistics import median

from headway.interpret.evidence import Finding, confidence, hours, measure, pct, z_rise
from headway.interpret.slicing import slicing_evidence
from headway.interpret.windows import Window
from headway.metrics.scope import Scope
from headway.metrics.stages import LABELS, STAGES

MIN_DEPLOYMENTS = 10  # per window, for rates
MIN_INCIDENTS = 5


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
        f"lead time fell from {hours(b.lead_median)} to {hours(a.lead_median)}"
        if faster_lead
        else f"deployments rose from {b.per_day:.1f} to {a.per_day:.1f} a day"
    )
    return Finding(
        "speed_outcomes",
        scope,
        f"{scope.name}: {speed}, while {name} rose from {pct(before)} to {pct(after)}.",
        [
            measure("deployments per day", b.per_day, a.per_day),
            measure("lead time median", b.lead_median, a.lead_median, "s"),
            *(measure(k, v[1], v[2], "rate", f"z = {v[0]:.2f}") for k, v in outcomes.items()),
        ],
        records,
        level,
        basis,
    )


def slicing(scope: Scope, b: Window, a: Window) -> Finding | None:
    """More, smaller deployments with outcomes no better, named only on slicing's own evidence
    (`slicing.slicing_evidence`): smaller alone is what healthy flow improvement looks like."""
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
    kinds = slicing_evidence((b.shipping, b.changes), (a.shipping, a.changes))
    held = [k for k in kinds if k.holds]
    if not held:
        return None
    ratio = a.per_day / b.per_day
    strong = ratio >= 1.6 and after_size <= 0.5 * before_size
    level = "high" if strong and len(held) >= 2 else "medium" if strong or len(held) >= 2 else "low"
    return Finding(
        "slicing",
        scope,
        f"{scope.name}: deployments rose from {b.per_day:.1f} to {a.per_day:.1f} a day and the "
        f"median user-visible deployment shrank from {before_size:.0f} to {after_size:.0f} lines, "
        f"but the change fail rate did not improve ({pct(b.cfr)} → {pct(a.cfr)}); "
        + "; ".join(k.sentence() for k in held)
        + ".",
        [
            measure("deployments per day", b.per_day, a.per_day),
            measure("median lines per user-visible deployment", before_size, after_size, "lines"),
            measure("change fail rate", b.cfr, a.cfr, "rate"),
            *(k.measure() for k in kinds),
        ],
        list(dict.fromkeys(r for k in held for r in k.records)),
        level,
        f"frequency ×{ratio:.2f}, size ×{after_size / before_size:.2f}; {len(held)} of "
        f"{len(kinds)} kinds of slicing evidence",
        extra={"slicing_evidence": [k.to_json() for k in held]},
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
        f"{scope.name}: {label[stage]} got {1 - ratio:.0%} faster ({hours(mb)} → {hours(ma)}), "
        f"but end-to-end lead time barely moved ({hours(lead_b)} → {hours(lead_a)}); "
        f"{label[grew]} grew from {hours(gb)} to {hours(ga)}.",
        [
            measure(f"{label[stage]} median", mb, ma, "s"),
            measure("lead time median", lead_b, lead_a, "s"),
            measure(f"{label[grew]} median", gb, ga, "s"),
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
        f"{pct(share_a)} of them shipped nothing users can see (empty, or only chores and "
        f"version bumps), up from {pct(share_b)}; user-visible changes per day went from "
        f"{value_b:.1f} to {value_a:.1f}.",
        [
            measure("deployments per day", b.per_day, a.per_day),
            measure("share shipping nothing user-visible", share_b, share_a, "share", basis),
            measure("user-visible changes per day", value_b, value_a),
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
            f"incidents naming the deployment that caused them fell from {pct(nb)} to {pct(na)}"
        )
    if eb is not None and ea is not None and ea - eb >= DRIFT_SHARE:
        drifts.append(
            f"incidents labelled as external ({', '.join(EXTERNAL_THEMES[:2])} …) rose "
            f"from {pct(eb)} to {pct(ea)}"
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
        f"{scope.name}: change fail rate fell from {pct(b.cfr)} to {pct(a.cfr)} while incidents "
        f"and escaped defects per deployment held ({signs_b:.2f} → {signs_a:.2f}); "
        + "; ".join(drifts)
        + ".",
        [
            measure("change fail rate", b.cfr, a.cfr, "rate"),
            measure("incidents and defects per deployment", signs_b, signs_a),
            measure("incidents naming their cause", nb, na, "share"),
            measure("incidents labelled external", eb, ea, "share"),
            measure(
                "escaped defects per deployment",
                len(b.defects) / b.n,
                len(a.defects) / a.n,
                "",
                f"z = {z_defects:.2f}",
            ),
            measure(
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
        f"{scope.name}: rework rose from {pct(rw_b)} to {pct(rw_a)} of deployments while "
        f"reported incidents fell from {inc_b:.2f} to {inc_a:.2f} per deployment: repairs are "
        "happening without being reported as failures.",
        [
            measure("rework rate", rw_b, rw_a, "rate", f"z = {z:.2f}"),
            measure("incidents per deployment", inc_b, inc_a),
        ],
        [d["id"] for d in a.deployments if d["rework"]],
        level,
        basis,
    )


TEAM_DETECTORS = (speed_outcomes, slicing, local_optimisation, theatre, redefined, hidden_quality)
