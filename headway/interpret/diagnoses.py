"""Diagnoses over the review's whole window: trends, batch size, gates, recovery, clusters.

The month-against-baseline detectors (`detectors.py`) see a drift only once it is under way;
these read a team's last six months at once, so a push that started half a year ago, a team
with three releases a month, or a gate that meets twice a month still gets a reading. Each
returns a `Finding` naming the remedy in the founding documents' terms, with the records and
monthly series behind it; thresholds are named constants documented in docs/detectors.md.

The team's window by month and the trend test are in `months`; the gate, recovery and
failure-cluster diagnoses, which also give the review its governance costs, in `costs`.
"""

from __future__ import annotations

from statistics import median
from typing import Any

from scipy import stats

from headway.definitions import Definition
from headway.interpret import detectors as dt
from headway.interpret.costs import (
    MIN_FAILURES,
    failure_cluster,
    gate_cost,
    recovery_without_rollback,
)
from headway.interpret.evidence import Finding, confidence, hours, measure, pct, rounded, z_rise
from headway.interpret.months import (
    TREND_MONTHS,
    Team,
    Trend,
    by_halves,
    defect_halves,
    failed,
    load,
    month_labels,
    monthly_series,
    trend,
)
from headway.interpret.slicing import slicing_evidence
from headway.interpret.sources import Records
from headway.metrics.scope import Period, Scope
from headway.store import Store

HALF_Z = 1.645  # second half against first half: one-sided p < 0.05
SIZE_P = 0.1  # Fisher's exact test, large releases failing more than small ones
SIZE_RATIO = 2.0  # … and at least twice as often
BUNDLED_CHANGES = 3  # releases bundle: a median of three changes or more …
BUNDLED_LINES = 400  # … or of 400 lines or more (smaller releases have nothing to split)


HEALTHY_SIZE = 0.8  # healthy speed-up: deployments at most 80% of their earlier size …
EMPTY_RISE = 0.05  # … and the share shipping nothing user-visible up by at most 5 points


def _speed(team: Team) -> tuple[str, Trend] | None:
    """A sustained speed-up: more deployments a month, or a falling lead-time median."""
    more = trend(team.monthly(lambda ships, m: float(len(ships))), rising=True)
    if more and more.ratio and more.ratio >= dt.SPEED_FREQ:
        return f"deployments rose from {more.first:.0f} to {more.last:.0f} a month", more
    faster = trend(team.lead_series(), rising=False)
    if faster and faster.ratio is not None and faster.ratio <= dt.SPEED_LEAD:
        return (
            f"lead time fell from {hours(faster.first)} to {hours(faster.last)}",
            faster,
        )
    return None


def _cfr(ships: list[dict[str, Any]], _m: Period) -> float | None:
    return sum(1 for d in ships if d["failed"]) / len(ships) if ships else None


def _size(ships: list[dict[str, Any]], _m: Period) -> float | None:
    return float(median(d["lines"] for d in ships)) if ships else None


def speed_outcomes(team: Team, scope: Scope) -> Finding | None:
    speed = _speed(team)
    if speed is None:
        return None
    described, pace = speed
    cfr, defects = team.monthly(_cfr), team.defect_series()
    worse = []
    for name, series, halves in (
        ("change fail rate", cfr, by_halves(team, failed)),
        ("escaped defects per deployment", defects, defect_halves(team)),
    ):
        rise = trend(series, rising=True)
        z = z_rise(*halves)
        if rise and z >= HALF_Z:
            worse.append((z, name, rise))
    if not worse:
        return None
    z, name, rise = max(worse, key=lambda w: w[0])
    level, basis = confidence(z)
    months = month_labels(team)
    since = months[min(pace.since, rise.since)]
    fmt = pct if name == "change fail rate" else (lambda v: f"{v:.2f}")
    records = [d["id"] for d in team.shipping if d["failed"]] + [d["id"] for d in team.rows.defects]
    return Finding(
        "speed_outcomes",
        scope,
        f"{team.name}: since {since} {described}, while the {name} rose from "
        f"{fmt(rise.first)} to {fmt(rise.last)} (first two months against the last two)"
        + "".join(f"; the {w[1]} rose too" for w in worse if w[1] != name)
        + ".",
        [
            measure(name, rise.first, rise.last, "rate", f"Mann–Kendall p = {rise.p:.3f}"),
            *(
                measure(w[1], w[2].first, w[2].last, "rate", f"z = {w[0]:.2f}")
                for w in worse
                if w[1] != name
            ),
        ],
        records,
        level,
        f"{basis}, second half of the window against the first; monthly trend "
        f"Mann–Kendall p = {rise.p:.3f}",
        extra={
            "series": monthly_series(
                team,
                deployments=team.monthly(lambda s, m: float(len(s))),
                lead_median_s=team.lead_series(),
                change_fail_rate=cfr,
                defects_per_deployment=defects,
            )
        },
        since=since,
    )


def healthy_improvement(team: Team, scope: Scope) -> Finding | None:
    """Faster through smaller changes, with failures and escaped defects flat or falling."""
    speed = _speed(team)
    sizes = team.monthly(_size)
    known = [s for s in sizes if s is not None]
    if speed is None or len(known) < TREND_MONTHS:
        return None
    first, last = sum(known[:2]) / 2, sum(known[-2:]) / 2
    if not first or last > HEALTHY_SIZE * first:
        return None
    cfr, defects = team.monthly(_cfr), team.defect_series()
    if trend(cfr, rising=True) or z_rise(*by_halves(team, failed)) >= 1.0:
        return None
    d0, n0, d1, n1 = defect_halves(team)
    if n0 and n1 and d1 / n1 > d0 / n0:
        return None
    # the added deployments ship something users can see: otherwise it is theatre
    e0, _, e1, _ = by_halves(team, lambda d: not d["visible"])
    if n0 and n1 and e1 / n1 > e0 / n0 + EMPTY_RISE:
        return None
    # smaller alone is not healthy: slicing's own evidence rules it out
    middle = team.window.since + (team.window.until - team.window.since) / 2
    halves = [
        (
            [d for d in team.shipping if (d["finished_at"] >= middle) == late],
            [c for c in team.rows.changes if (c["finished_at"] >= middle) == late],
        )
        for late in (False, True)
    ]
    if any(k.holds for k in slicing_evidence(halves[0], halves[1])):
        return None
    described, pace = speed
    k0, _, k1, _ = by_halves(team, failed)
    return Finding(
        "healthy_improvement",
        scope,
        f"{team.name}: {described} as releases got smaller ({first:.0f} → {last:.0f} lines), "
        f"while the change fail rate held ({pct(k0 / n0 if n0 else None)} → "
        f"{pct(k1 / n1 if n1 else None)}) and escaped defects per deployment fell "
        f"({d0 / n0 if n0 else 0:.2f} → {d1 / n1 if n1 else 0:.2f}): healthy flow improvement, "
        "not slicing.",
        [
            measure("median lines per deployment", first, last, "lines"),
            measure("change fail rate", k0 / n0 if n0 else None, k1 / n1 if n1 else None, "rate"),
            measure(
                "escaped defects per deployment", d0 / n0 if n0 else None, d1 / n1 if n1 else None
            ),
        ],
        [d["id"] for d in team.shipping][-50:],
        "medium" if pace.p < 0.01 else "low",
        f"Mann–Kendall p = {pace.p:.3f} for the speed-up; first half of the window against the "
        "second for outcomes",
        extra={
            "series": monthly_series(
                team,
                deployments=team.monthly(lambda s, m: float(len(s))),
                median_lines=sizes,
                change_fail_rate=cfr,
                defects_per_deployment=defects,
            )
        },
        since=month_labels(team)[pace.since],
        kind="positive",
    )


def batch_size(team: Team, scope: Scope) -> Finding | None:
    """Large releases (above the team's own median size) failing more than small ones."""
    ships = [d for d in team.shipping if d["changes"]]
    if len(ships) < 2 * MIN_FAILURES or sum(1 for d in ships if d["failed"]) < MIN_FAILURES:
        return None
    cut = median(d["lines"] for d in ships)
    if median(d["changes"] for d in ships) < BUNDLED_CHANGES and cut < BUNDLED_LINES:
        return None
    large = [d for d in ships if d["lines"] > cut]
    small = [d for d in ships if d["lines"] <= cut]
    if not large or not small:
        return None
    kl, ks = sum(d["failed"] for d in large), sum(d["failed"] for d in small)
    rl, rs = kl / len(large), ks / len(small)
    if kl < MIN_FAILURES or rl < SIZE_RATIO * rs:
        return None
    p = float(
        stats.fisher_exact(
            [[kl, len(large) - kl], [ks, len(small) - ks]], alternative="greater"
        ).pvalue
    )
    if p >= SIZE_P:
        return None
    level = "high" if p < 0.01 else "medium" if p < 0.05 else "low"
    small_lines = median(d["lines"] for d in small)
    large_lines = median(d["lines"] for d in large)
    changes = median(d["changes"] for d in ships)
    return Finding(
        "batch_size",
        scope,
        f"{team.name}: releases bundle a median of {changes:.0f} changes and {cut:.0f} lines; "
        f"those larger than that failed {kl} of {len(large)} times ({pct(rl)}), the smaller "
        f"ones {ks} of {len(small)} ({pct(rs)}). Large releases fail more: ship smaller "
        f"batches (the small half's median is {small_lines:.0f} lines).",
        [
            {
                "measure": "change fail rate, small against large releases",
                "before": rounded(rs),
                "after": rounded(rl),
                "relative_change": rounded(rl / rs - 1) if rs else None,
                "unit": "rate",
                "basis": f"Fisher's exact p = {p:.3f}",
            },
            measure("median lines, small against large releases", small_lines, large_lines),
        ],
        [d["id"] for d in large if d["failed"]] + [d["id"] for d in small if d["failed"]],
        level,
        f"Fisher's exact test, one-sided p = {p:.3f}, over {len(ships)} releases in "
        f"{len(team.months)} months ({team.context})",
        extra={
            "groups": [
                {
                    "group": f"over {cut:.0f} lines",
                    "deployments": len(large),
                    "failed": kl,
                    "rate": rounded(rl),
                    "median_lines": large_lines,
                },
                {
                    "group": f"{cut:.0f} lines or fewer",
                    "deployments": len(small),
                    "failed": ks,
                    "rate": rounded(rs),
                    "median_lines": small_lines,
                },
            ],
            "series": monthly_series(
                team, median_lines=team.monthly(_size), change_fail_rate=team.monthly(_cfr)
            ),
        },
        remedy=f"Reduce batch size: release each change on its own, or at most about "
        f"{small_lines:.0f} lines at a time, so a failure points at one change.",
    )


def diagnose(
    store: Store | Records,
    defn: Definition,
    team: str,
    members: list[tuple[str, str]],
    window: Period,
) -> list[Finding]:
    """Every whole-window diagnosis of one team."""
    t = load(store, defn, team, members, window)
    scope = Scope("team", team)
    found = [
        speed_outcomes(t, scope),
        healthy_improvement(t, scope),
        batch_size(t, scope),
        gate_cost(t, scope),
        recovery_without_rollback(store, t, scope),
        failure_cluster(t, scope),
    ]
    return [f for f in found if f is not None]


__all__ = ["diagnose"]
