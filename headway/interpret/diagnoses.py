"""Diagnoses over the review's whole window: trends, batch size, gates, recovery, clusters.

The month-against-baseline detectors (`detectors.py`) see a drift only once it is under way;
these read a team's last six months at once, so a push that started half a year ago, a team
with three releases a month, or a gate that meets twice a month still gets a reading. Each
returns a `Finding` naming the remedy in the founding documents' terms, with the records and
monthly series behind it; thresholds are named constants documented in docs/detectors.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from scipy import stats

from headway.definitions import Definition
from headway.interpret import detectors as dt
from headway.interpret.evidence import Finding, confidence, hours, measure, pct, rounded, z_rise
from headway.metrics import signal_rows
from headway.metrics.concentration import WEEKDAYS
from headway.metrics.durations import MIN_MEDIAN, span
from headway.metrics.scope import Period, Scope, bucket_starts, next_start
from headway.metrics.stages import GATE_KINDS, ChangeFlow, change_flows
from headway.store import Store

TREND_P = 0.05  # Mann–Kendall one-sided p below which a monthly series has a sustained trend
TREND_MONTHS = 4  # months with a value a trend needs
HALF_Z = 1.645  # second half against first half: one-sided p < 0.05
SIZE_P = 0.1  # Fisher's exact test, large releases failing more than small ones
SIZE_RATIO = 2.0  # … and at least twice as often
BUNDLED_CHANGES = 3  # releases bundle: a median of three changes or more …
BUNDLED_LINES = 400  # … or of 400 lines or more (smaller releases have nothing to split)
MIN_FAILURES = 3
GATE_SHARE = 0.25  # a gate holding changes for a quarter of their lead time
SLOW_RECOVERY_S = 24 * 3600  # recoveries without rollback slower than a day …
RECOVERY_RATIO = 3.0  # … or three times slower than those with one
CLUSTER_P = 0.01
CLUSTER_RATIO = 2.0
CLUSTER_HITS = 5
CALENDAR_SHARE = 0.8  # one weekday holding this share of releases is the release calendar
HEALTHY_SIZE = 0.8  # healthy speed-up: deployments at most 80% of their earlier size …
EMPTY_RISE = 0.05  # … and the share shipping nothing user-visible up by at most 5 points


@dataclass
class Team:
    """One team's records over the window, and the same split by month."""

    name: str
    context: str
    window: Period
    rows: signal_rows.Rows
    flows: list[ChangeFlow]
    months: list[Period]

    @property
    def shipping(self) -> list[dict[str, Any]]:
        return [d for d in self.rows.deployments if d["kind"] in ("deploy", "hotfix")]

    def monthly(
        self, value: Callable[[list[dict[str, Any]], Period], float | None]
    ) -> list[float | None]:
        return [
            value([d for d in self.shipping if m.since <= d["finished_at"] < m.until], m)
            for m in self.months
        ]

    def lead_series(self) -> list[float | None]:
        out: list[float | None] = []
        for m in self.months:
            leads = [
                f.lead_s
                for f in self.flows
                if f.lead_s is not None and m.since <= f.deployed_at < m.until
            ]
            out.append(median(leads) if len(leads) >= MIN_MEDIAN else None)
        return out

    def defect_series(self) -> list[float | None]:
        def per(ships: list[dict[str, Any]], m: Period) -> float | None:
            found = sum(1 for d in self.rows.defects if m.since <= d["found_at"] < m.until)
            return found / len(ships) if ships else None

        return self.monthly(per)


def load(
    store: Store, defn: Definition, team: str, members: list[tuple[str, str]], window: Period
) -> Team:
    names = [s for s, _ in members]
    contexts = sorted({c for _, c in members})
    months = [
        Period(max(s, window.since), min(next_start(s, "month"), window.until))
        for s in bucket_starts(window, "month")
    ]
    return Team(
        team,
        contexts[0] if len(contexts) == 1 else "mixed",
        window,
        signal_rows.load(store, defn, names, window),
        change_flows(store, defn, names, window),
        months,
    )


# -- the trend test --------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    """A monthly series' direction: Kendall's tau against month order (the Mann–Kendall test)
    and the mean of its last two months against its first two."""

    tau: float
    p: float
    first: float
    last: float
    since: int  # index of the month the trend runs from

    @property
    def ratio(self) -> float | None:
        return self.last / self.first if self.first else None


def trend(series: list[float | None], rising: bool) -> Trend | None:
    """The series' sustained trend in one direction, or None: at least TREND_MONTHS months
    with a value and a one-sided Mann–Kendall p below TREND_P."""
    points = [(i, v) for i, v in enumerate(series) if v is not None]
    if len(points) < TREND_MONTHS or len({v for _, v in points}) < 2:
        return None
    xs, ys = [i for i, _ in points], [v for _, v in points]
    result = stats.kendalltau(xs, ys, alternative="greater" if rising else "less")
    if not result.pvalue < TREND_P:
        return None
    # the trend runs from its last extreme in the other direction
    start = min(ys) if rising else max(ys)
    since = max((i for i, v in points if v == start and i < xs[-1]), default=xs[0])
    return Trend(
        float(result.statistic),
        float(result.pvalue),
        sum(ys[:2]) / 2,
        sum(ys[-2:]) / 2,
        since,
    )


def _halves(team: Team, hit: Callable[[dict[str, Any]], bool]) -> tuple[int, int, int, int]:
    """Hits and deployments in the first and second half of the window."""
    middle = team.window.since + (team.window.until - team.window.since) / 2
    first = [d for d in team.shipping if d["finished_at"] < middle]
    second = [d for d in team.shipping if d["finished_at"] >= middle]
    return (
        sum(1 for d in first if hit(d)),
        len(first),
        sum(1 for d in second if hit(d)),
        len(second),
    )


def _defect_halves(team: Team) -> tuple[int, int, int, int]:
    middle = team.window.since + (team.window.until - team.window.since) / 2
    k0 = sum(1 for d in team.rows.defects if d["found_at"] < middle)
    _, n0, _, n1 = _halves(team, lambda d: False)
    return k0, n0, len(team.rows.defects) - k0, n1


def month_labels(team: Team) -> list[str]:
    return [f"{m.since:%Y-%m}" for m in team.months]


# -- the diagnoses ---------------------------------------------------------------------------


def _failed(d: dict[str, Any]) -> bool:
    return bool(d["failed"])


def _series(team: Team, **values: list[float | None]) -> list[dict[str, Any]]:
    labels = month_labels(team)
    return [
        {"month": labels[i], **{k: rounded(v[i]) for k, v in values.items()}}
        for i in range(len(labels))
    ]


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
        ("change fail rate", cfr, _halves(team, _failed)),
        ("escaped defects per deployment", defects, _defect_halves(team)),
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
            "series": _series(
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
    if trend(cfr, rising=True) or z_rise(*_halves(team, _failed)) >= 1.0:
        return None
    d0, n0, d1, n1 = _defect_halves(team)
    if n0 and n1 and d1 / n1 > d0 / n0:
        return None
    # the added deployments ship something users can see: otherwise it is theatre
    e0, _, e1, _ = _halves(team, lambda d: not d["visible"])
    if n0 and n1 and e1 / n1 > e0 / n0 + EMPTY_RISE:
        return None
    described, pace = speed
    k0, _, k1, _ = _halves(team, _failed)
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
            "series": _series(
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
            "series": _series(
                team, median_lines=team.monthly(_size), change_fail_rate=team.monthly(_cfr)
            ),
        },
        remedy=f"Reduce batch size: release each change on its own, or at most about "
        f"{small_lines:.0f} lines at a time, so a failure points at one change.",
    )


def gate_costs(rows: signal_rows.Rows, flows: list[ChangeFlow]) -> list[dict[str, Any]]:
    """Every approval kind with events, however few, costliest first: its count, median
    wait, and the hours it held changes (a deployment gate holds every change it ships)."""
    shipped = {d["id"]: d["changes"] for d in rows.deployments}
    lead = sum(f.lead_s for f in flows if f.lead_s is not None)
    out: dict[str, dict[str, Any]] = {}
    for a in rows.approvals:
        wait = span(a["requested_at"], a["decided_at"])
        g = out.setdefault(
            a["kind"], {"kind": a["kind"], "approvals": 0, "waits": [], "held_s": 0.0}
        )
        g["approvals"] += 1
        if wait is not None and wait >= 0:
            g["waits"].append(wait)
            g["held_s"] += wait * max(1, shipped.get(a.get("deployment_ref") or "", 1))
    result = []
    for g in out.values():
        waits = g.pop("waits")
        result.append(
            {
                **g,
                "median_s": rounded(median(waits)) if waits else None,
                "held_s": rounded(g["held_s"]),
                "share_of_lead": rounded(g["held_s"] / lead) if lead else None,
            }
        )
    return sorted(result, key=lambda g: (-g["held_s"], g["kind"]))


def gate_cost(team: Team, scope: Scope) -> Finding | None:
    """A gate that holds changes for a quarter or more of their lead time. A regulated
    context keeps its gates on purpose: there the cost is shown in the review's governance
    question, not reported as a finding."""
    if team.context == "regulated":
        return None
    costs = [g for g in gate_costs(team.rows, team.flows) if g["kind"] in GATE_KINDS]
    if not costs or (costs[0]["share_of_lead"] or 0) < GATE_SHARE:
        return None
    g = costs[0]
    name = g["kind"].replace("_", " ")
    return Finding(
        "gate_cost",
        scope,
        f"{team.name}: the {name} approval held changes for {pct(g['share_of_lead'])} of "
        f"their lead time over {len(team.months)} months: {g['approvals']} approvals with a "
        f"median wait of {hours(g['median_s'])}, {g['held_s'] / 3600:.0f} change-hours in "
        "all. The gate's cost is governance, not engineering speed.",
        [
            {
                "measure": f"{name} approvals",
                "after": g["approvals"],
                "unit": "approvals",
                "basis": "every approval of this kind in the window",
            },
            measure(f"{name} median wait", None, g["median_s"], "s"),
            measure(f"share of lead time held by {name}", None, g["share_of_lead"], "share"),
        ],
        [a["id"] for a in team.rows.approvals if a["kind"] == g["kind"]],
        "high" if g["approvals"] >= 10 else "medium",
        f"{g['approvals']} approvals and {len(team.flows)} changes over the window",
        extra={"gates": costs},
        remedy=f"Automate the evidence the {name} approval asks for (checks in the pipeline, "
        "an earlier risk review), so it decides on evidence without a queue.",
    )


def recoveries(store: Store, team: Team) -> list[dict[str, Any]]:
    """Each failed deployment's recovery: how long, and whether a rollback or a flag change
    restored service."""
    failed = [d for d in team.shipping if d["failed"]]
    if not failed:
        return []
    marks = ", ".join("?" for _ in failed)
    undo = dict(
        store.query(
            f"SELECT recovers_id, MIN(finished_at) FROM deployments WHERE kind IN "
            f"('rollback', 'release') AND recovers_id IN ({marks}) GROUP BY recovers_id",
            [d["id"] for d in failed],
        )
    )
    resolved: dict[str, datetime] = {}
    for i in team.rows.incidents:
        if i["deployment_id"] and i["resolved_at"]:
            resolved[i["deployment_id"]] = max(
                resolved.get(i["deployment_id"], i["resolved_at"]), i["resolved_at"]
            )
    out = []
    for d in failed:
        end = undo.get(d["id"]) or resolved.get(d["id"])
        seconds = span(d["finished_at"], end) if end else None
        if seconds is not None and seconds >= 0:
            out.append({"id": d["id"], "seconds": seconds, "rollback": d["id"] in undo})
    return out


def recovery_without_rollback(store: Store, team: Team, scope: Scope) -> Finding | None:
    done = recoveries(store, team)
    without = [r for r in done if not r["rollback"]]
    with_ = [r for r in done if r["rollback"]]
    if len(done) < MIN_FAILURES or len(without) < 2:
        return None
    slow = median(r["seconds"] for r in without)
    fast = median(r["seconds"] for r in with_) if with_ else None
    if fast is not None and not (slow >= RECOVERY_RATIO * fast and slow >= 4 * 3600):
        return None
    if fast is None and slow < SLOW_RECOVERY_S:
        return None
    return Finding(
        "recovery_without_rollback",
        scope,
        f"{team.name}: {len(without)} of {len(done)} recoveries used no rollback or flag "
        f"change and took a median {hours(slow)}"
        + (
            f", against {hours(fast)} for the {len(with_)} that rolled back."
            if fast is not None
            else "; no failure was rolled back in the window."
        ),
        [
            {
                "measure": "recovery median, with against without rollback",
                "before": rounded(fast),
                "after": rounded(slow),
                "unit": "s",
                "basis": f"{len(with_)} and {len(without)} recoveries",
            },
        ],
        [r["id"] for r in without],
        "high" if len(without) >= 5 else "medium",
        f"{len(done)} recoveries over {len(team.months)} months",
        remedy="Strengthen rollback: make rolling back (or switching the flag off) the first "
        "move on a failed release, and rehearse it.",
    )


def _change_type(team: Team) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in team.rows.changes:
        label = c["labels"][0] if c["labels"] else "(unlabelled)"
        out.setdefault(c["deployment_id"], label)
    return out


def failure_cluster(team: Team, scope: Scope) -> Finding | None:
    """Failures that cluster by service, change type, month or weekday (release size is the
    batch-size verdict). A weekday holding most releases is the release calendar, not a
    weekday effect, and is not tested."""
    ships = team.shipping
    kinds = _change_type(team)
    dims: dict[str, Callable[[dict[str, Any]], str]] = {
        "service": lambda d: str(d["service"]),
        "change type": lambda d: kinds.get(d["id"], "(none)"),
        "month": lambda d: f"{d['finished_at']:%Y-%m}",
        "weekday": lambda d: WEEKDAYS[d["finished_at"].weekday()],
    }
    best: tuple[float, str, str, int, int, int, int] | None = None
    # every group of every dimension is a test: Bonferroni keeps the family's error at
    # CLUSTER_P however many services, types and months a team has
    tests = sum(len({key(d) for d in ships}) for key in dims.values())
    for dim, key in dims.items():
        values = {key(d) for d in ships}
        if len(values) < 2:
            continue
        if dim == "weekday" and max(
            sum(1 for d in ships if key(d) == v) for v in values
        ) >= CALENDAR_SHARE * len(ships):
            continue
        for v in values - {"(none)", "(unlabelled)"}:
            group = [d for d in ships if key(d) == v]
            rest = [d for d in ships if key(d) != v]
            k, kr = sum(d["failed"] for d in group), sum(d["failed"] for d in rest)
            if k < CLUSTER_HITS or k / len(group) < CLUSTER_RATIO * (kr / len(rest)):
                continue
            p = float(
                stats.fisher_exact(
                    [[k, len(group) - k], [kr, len(rest) - kr]], alternative="greater"
                ).pvalue
            )
            if p * tests < CLUSTER_P and (best is None or p < best[0]):
                best = (p, dim, v, k, len(group), kr, len(rest))
    if best is None:
        return None
    p, dim, v, k, n, kr, nr = best
    remedy = {
        "service": f"Stabilise {v}: review its failures together, and strengthen its "
        "automated tests and rollback before its next release.",
        "change type": f"Improve the automated evidence for {v} changes (tests and checks "
        "that catch what now fails in production).",
        "month": f"Review what changed in {v} (a release train, a migration, a freeze) and "
        "remove the pressure that bundled risk into it.",
        "weekday": f"Find what differs on {v} (cover, freezes, bundled releases) and remove "
        "it rather than the releases.",
    }[dim]
    return Finding(
        "failure_cluster",
        scope,
        f"{team.name}: failures cluster by {dim}: {v} failed {k} of {n} times "
        f"({pct(k / n)}), everything else {kr} of {nr} ({pct(kr / nr if nr else None)}).",
        [
            {
                "measure": f"change fail rate, rest against {dim} {v}",
                "before": rounded(kr / nr if nr else None),
                "after": rounded(k / n),
                "unit": "rate",
                "basis": f"Fisher's exact p = {p:.2g}",
            }
        ],
        [d["id"] for d in ships if d["failed"] and dims[dim](d) == v],
        "high" if p < 0.001 else "medium",
        f"Fisher's exact test, one-sided p = {p:.2g} ({tests} groups tested by service, "
        "change type, month and weekday)",
        extra={"cluster": {"by": dim, "value": v}},
        remedy=remedy,
    )


def diagnose(
    store: Store, defn: Definition, team: str, members: list[tuple[str, str]], window: Period
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


def scope_costs(
    store: Store, defn: Definition, members: list[tuple[str, str]], window: Period
) -> dict[str, Any]:
    """What the review's governance question reads for the whole scope over the window: every
    gate with its cost, and recoveries with a rollback or flag change against those without."""
    t = load(store, defn, "(scope)", members, window)
    done = recoveries(store, t)

    def split(items: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "recoveries": len(items),
            "median_s": rounded(median(r["seconds"] for r in items)) if items else None,
        }

    return {
        "gates": gate_costs(t.rows, t.flows),
        "recovery": {
            "with_rollback": split([r for r in done if r["rollback"]]),
            "without_rollback": split([r for r in done if not r["rollback"]]),
        },
    }


def window_for(current: Period, months: int = 6) -> Period:
    """The `months` calendar months ending with `current`."""
    start = current.since
    index = start.year * 12 + start.month - 1 - (months - 1)
    return Period(datetime(index // 12, index % 12 + 1, 1), current.until)


__all__ = ["diagnose", "gate_costs", "scope_costs", "trend", "window_for"]
