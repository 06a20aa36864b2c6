"""Flow breakdown: where a change's lead time goes, stage by stage, and where work waits.

A change shipped in the period is cut at its own timestamps into six stages:

    coding          first commit      → opened
    pickup          opened            → first review
    review          first review      → approved, minus time spent in approval gates
    approval wait   gate requested    → gate decided (change advisory, security, deployment
                                        gates attached to the change or to its deployment)
    merge wait      approved          → merged (deployment gates after the merge excluded)
    deploy wait     merged            → the deployment that shipped it finished, minus the
                                        part spent waiting for a deployment gate

One portable query fetches the timestamps; the arithmetic is plain Python so that a stage
missing a timestamp is simply absent for that change rather than folded into its neighbour.
Beside the shipped changes, the work that has not reached users yet: open requests and merged
changes no counted deployment has shipped, each waiting in the stage whose start it has passed
and whose end it has not, as of the end of the period (or now, when the period ends later).

A stage whose end comes before its start (a review before the first commit, a merge before
the approval, clock skew between tools) is left out for that change and counted, never
clamped to zero: a zero would pull the median down and hide the bad timestamps.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import numpy as np

from headway.definitions import Definition
from headway.metrics import sql as q
from headway.metrics.scope import Period, Scope, bucket_starts, iso, next_start, services_in
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
# Statistics below these sample sizes are withheld, with the reason, not printed.
MIN_MEDIAN = 3
MIN_P90 = 10
MIN_IQR = 8
GATE_KINDS = ("change_advisory", "security", "deployment_gate")


def spans(pairs: Iterable[tuple[datetime | None, datetime | None]]) -> tuple[list[float], int]:
    """The spans b − a, in seconds, of the pairs with both ends known and b not before a, and
    how many ran backwards: those are left out and counted (the signals' rule), never
    clamped to zero."""
    kept, negative = [], 0
    for a, b in pairs:
        if a is None or b is None:
            continue
        seconds = (b - a).total_seconds()
        if seconds < 0:
            negative += 1
        else:
            kept.append(seconds)
    return kept, negative


def span(a: datetime | None, b: datetime | None) -> float | None:
    """b − a in seconds, negative when b comes first; None when either is unknown."""
    if a is None or b is None:
        return None
    return (b - a).total_seconds()


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def negative_note(
    n: int, label: str, bounds: tuple[str, str], unit: tuple[str, str] = ("change", "changes")
) -> str:
    """What the report says about spans left out because they ran backwards."""
    return (
        f"{_plural(n, *unit)} had a negative {label} span ({bounds[1]} before "
        f"{bounds[0]}) and {'was' if n == 1 else 'were'} left out"
    )


def describe(
    values: list[float], unit: str = "changes", suffix: str = "_s", median: str = "interpolated"
) -> dict[str, Any]:
    """n, median, quartiles, IQR and p90 (interpolated, like percentile_cont, or the lower
    value, like percentile_disc, as the definition's `summary.median` says; its `mean` takes
    the mean for the median), each withheld with a note saying how many `unit` it needs
    when there are too few."""
    method: Literal["lower", "linear"] = "lower" if median == "lower" else "linear"
    n = len(values)
    keys = ("median", "p25", "p75", "p90", "iqr", "mean")
    out: dict[str, Any] = {"n": n, **{k + suffix: None for k in keys}, "notes": []}
    arr = np.asarray(values, dtype=float)
    if n >= MIN_MEDIAN:
        mid = arr.mean() if median == "mean" else np.percentile(arr, 50, method=method)
        out["median" + suffix] = round(float(mid), 3)
        out["mean" + suffix] = round(float(arr.mean()), 3)
    elif n:
        out["notes"].append(f"a median needs at least {MIN_MEDIAN} {unit}; there are {n}")
    if n >= MIN_IQR:
        p25, p75 = np.percentile(arr, [25, 75], method=method)
        out.update(
            {
                "p25" + suffix: round(float(p25), 3),
                "p75" + suffix: round(float(p75), 3),
                "iqr" + suffix: round(float(p75 - p25), 3),
            }
        )
    elif n >= MIN_MEDIAN:
        out["notes"].append(f"quartiles need at least {MIN_IQR} {unit}; there are {n}")
    if n >= MIN_P90:
        out["p90" + suffix] = round(float(np.percentile(arr, 90, method=method)), 3)
    elif n >= MIN_MEDIAN:
        out["notes"].append(f"a p90 needs at least {MIN_P90} {unit}; there are {n}")
    if not n:
        out["notes"].append(f"no {unit} in this scope and period")
    return out


def describe_spans(
    pairs: Iterable[tuple[datetime | None, datetime | None]],
    label: str,
    bounds: tuple[str, str],
    unit: tuple[str, str] = ("change", "changes"),
) -> dict[str, Any]:
    """`describe` over the spans of `pairs`, with `negative` counting those left out for
    running backwards and a note saying so."""
    kept, negative = spans(pairs)
    out = describe(kept, unit[1])
    out["negative"] = negative
    if negative:
        out["notes"].append(negative_note(negative, label, bounds, unit))
    return out


@dataclass
class ChangeFlow:
    """One shipped change and the seconds it spent in each stage (None: no data, or a
    negative span, which `negative` names; "lead" there means the lead time itself ran
    backwards and `lead_s` is None)."""

    id: str
    service: str
    deployed_at: datetime
    lead_s: float | None
    stages: dict[str, float | None]
    negative: tuple[str, ...] = ()


def change_flows(
    store: Store, defn: Definition, services: list[str], period: Period
) -> list[ChangeFlow]:
    """Every change first shipped by a counted deployment that finished in the period."""
    if not services:
        return []
    marks = ", ".join("?" for _ in services)
    gates = ", ".join(q.quote(k) for k in GATE_KINDS)
    reviewed = "c.first_review_at"
    if defn.flow.review_start == "first_review_by_other":
        # DevLake's first comment by someone other than the pull request's author
        reviewed = (
            "(SELECT MIN(a.decided_at) FROM approvals a WHERE a.change_ref = c.id "
            "AND a.kind = 'code_review' AND a.actor IS DISTINCT FROM c.author)"
        )
    rows = store.query(
        f"""
        SELECT c.id, d.service, d.finished_at, {q.lead_start(defn)} AS lead_start,
               c.first_commit_at, c.opened_at, {reviewed} AS reviewed, c.approved_at, c.merged_at,
               cg.requested, cg.decided, dg.requested, dg.decided
        FROM changes c JOIN deployments d ON d.id = c.deployment_id
        LEFT JOIN (SELECT change_ref, MIN(requested_at) AS requested, MAX(decided_at) AS decided
                   FROM approvals WHERE kind IN ({gates}) AND change_ref IS NOT NULL
                   GROUP BY change_ref) cg ON cg.change_ref = c.id
        LEFT JOIN (SELECT deployment_ref, MIN(requested_at) AS requested, MAX(decided_at) AS decided
                   FROM approvals WHERE kind IN ({gates}) AND deployment_ref IS NOT NULL
                   GROUP BY deployment_ref) dg ON dg.deployment_ref = d.id
        WHERE {q.counted_deployments(defn)} AND {q.ships(defn)}
          AND {q.in_window(defn, "d.finished_at")} AND d.service IN ({marks})
        ORDER BY d.finished_at, c.id
        """,
        [period.since, period.until, *services],
    )
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
        out.append(ChangeFlow(cid, service, deployed, lead, stages, tuple(negative)))
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
    deployed: datetime,
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


@dataclass
class FlowBreakdown:
    """The JSON contract of `headway flow` for one scope."""

    scope: Scope
    period: Period
    definition: Definition
    services: list[str]
    contexts: list[str]
    changes: int
    end_to_end: dict[str, Any]
    stages: list[dict[str, Any]]
    dominant: str | None
    longest_wait: str | None
    trend: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    waiting: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "definition": {
                "name": self.definition.name,
                "version": self.definition.version,
                "lead_time_start": self.definition.lead_time.start,
            },
            "scope": {
                "kind": self.scope.kind,
                "name": self.scope.name,
                "services": self.services,
                "contexts": self.contexts,
            },
            "period": {"since": iso(self.period.since), "until": iso(self.period.until)},
            "changes": self.changes,
            "end_to_end": self.end_to_end,
            "stages": self.stages,
            "dominant_stage": self.dominant,
            "longest_wait": self.longest_wait,
            "waiting": self.waiting,
            "trend": self.trend,
            "warnings": self.warnings,
        }


def summarise(
    flows: list[ChangeFlow], median: str = "interpolated"
) -> tuple[dict[str, Any], list[dict[str, Any]], str | None, str | None]:
    """End-to-end statistics, per-stage statistics and shares, the dominant stage and the
    longest wait. A stage's share is its summed time over the summed lead time of the same
    changes, so shares of a complete breakdown add up to 1. A change whose lead time runs
    backwards is in no share; a stage that runs backwards is left out of that stage only.
    Each `negative` counts the changes left out."""
    timed = [f for f in flows if f.lead_s is not None]
    lead = [f.lead_s for f in timed if f.lead_s is not None]
    total = sum(lead)
    end_to_end = {**describe(lead, median=median), "total_s": round(total, 3)}
    lost = sum("lead" in f.negative for f in flows)
    end_to_end["negative"] = lost
    if lost:
        end_to_end["notes"].append(negative_note(lost, "lead time", LEAD_BOUNDS))
    stages = []
    for stage in STAGES:
        values = [v for f in flows if (v := f.stages[stage]) is not None]
        in_share = [v for f in timed if (v := f.stages[stage]) is not None]
        negative = sum(stage in f.negative for f in flows)
        stat = describe(values, median=median)
        share = round(sum(in_share) / total, 4) if total > 0 and in_share else None
        if not values:
            stat["notes"] = [
                f"no data: no change in this scope has the timestamps for {LABELS[stage]}"
                f" ({BOUNDS[stage][0]} → {BOUNDS[stage][1]})"
            ]
        if negative:
            stat["notes"].append(negative_note(negative, LABELS[stage], BOUNDS[stage]))
        stages.append(
            {
                "stage": stage,
                "label": LABELS[stage],
                "from": BOUNDS[stage][0],
                "to": BOUNDS[stage][1],
                "share": share,
                **stat,
                "negative": negative,
            }
        )
    with_share = [s for s in stages if s["share"] is not None]
    dominant = max(with_share, key=lambda s: s["share"])["stage"] if with_share else None
    waits = [s for s in with_share if s["stage"] in WAITING]
    longest = max(waits, key=lambda s: s["share"])["stage"] if waits else None
    return end_to_end, stages, dominant, longest


def breakdown(
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    by: str | None = None,
    members: list[tuple[str, str]] | None = None,
    now: datetime | None = None,
) -> FlowBreakdown:
    """The breakdown for a scope (or for `members`, (service, context) pairs, when given).

    `now` is the current time as naive UTC (the clock, when None); work in progress is
    measured at the end of the period, or at `now` when the period ends later."""
    services = members if members is not None else services_in(store, scope)
    names = [s for s, _ in services]
    contexts = sorted({c for _, c in services})
    flows = change_flows(store, defn, names, period)
    end_to_end, stages, dominant, longest = summarise(flows, defn.summary.median)
    result = FlowBreakdown(
        scope, period, defn, names, contexts, len(flows), end_to_end, stages, dominant, longest
    )
    clock = now or datetime.now(UTC).replace(tzinfo=None)
    as_of = min(period.until, clock)
    result.waiting = summarise_waiting(
        waiting_changes(store, defn, names, as_of), defn, as_of, ended=as_of == period.until
    )
    if not flows:
        result.warnings.append(
            f"no change shipped in {scope.describe()} between "
            f"{period.since:%Y-%m-%d} and {period.until:%Y-%m-%d}"
        )
    if end_to_end["negative"]:
        result.warnings.append(end_to_end["notes"][-1])
    if len(contexts) > 1:
        result.warnings.append(
            f"This breakdown blends {len(contexts)} operating contexts "
            f"({', '.join(contexts)}); see each with --each context."
        )
    if by:
        for start in bucket_starts(period, by):
            sub = Period(max(start, period.since), min(next_start(start, by), period.until))
            part = [f for f in flows if sub.since <= f.deployed_at < sub.until]
            e2e, st, dom, wait = summarise(part, defn.summary.median)
            result.trend.append(
                {
                    "since": iso(sub.since),
                    "until": iso(sub.until),
                    "changes": len(part),
                    "lead_median_s": e2e["median_s"],
                    "dominant_stage": dom,
                    "longest_wait": wait,
                    "stages": {
                        s["stage"]: {
                            "median_s": s["median_s"],
                            "share": s["share"],
                            "negative": s["negative"],
                        }
                        for s in st
                    },
                }
            )
    return result


def group_members(
    store: Store, kind: str, within: Scope | None = None
) -> dict[str, list[tuple[str, str]]]:
    """(service, context) pairs inside `within`, grouped by service, team or context."""
    teams = dict(store.query("SELECT name, COALESCE(team, '(no team)') FROM services"))
    groups: dict[str, list[tuple[str, str]]] = {}
    for service, context in services_in(store, within or Scope()):
        key = {"service": service, "team": teams.get(service, "(no team)"), "context": context}[
            kind
        ]
        groups.setdefault(key, []).append((service, context))
    return dict(sorted(groups.items()))


def breakdown_each(
    store: Store,
    defn: Definition,
    kind: str,
    period: Period,
    within: Scope | None = None,
    by: str | None = None,
    now: datetime | None = None,
) -> list[FlowBreakdown]:
    """One breakdown per service, team or context inside `within`."""
    return [
        breakdown(store, defn, Scope(kind, key), period, by, members, now)
        for key, members in group_members(store, kind, within).items()
    ]


# -- work in progress -----------------------------------------------------------------------

QUEUES = {
    "open": "requests opened and neither merged nor closed (age since opened)",
    "undeployed": "changes merged and not shipped by a counted deployment (age since merged)",
}
# Commits not yet in a request leave no record of their own until they are merged or opened.
UNSEEN_CODING = "not measured: a change is seen from its request's opening"


@dataclass(frozen=True)
class Waiting:
    """A change that has not reached users at `as_of`: the queue it is in (`open` or
    `undeployed`), when it entered that queue, and the stage it waits in since when."""

    id: str
    service: str
    queue: str
    entered: datetime
    stage: str
    stage_since: datetime


def waiting_stage(
    opened: datetime | None,
    reviewed: datetime | None,
    approved: datetime | None,
    merged: datetime | None,
    change_gate: datetime | None,
    deploy_gate: datetime | None,
    as_of: datetime,
) -> tuple[str, datetime]:
    """The stage a change waits in at `as_of` and since when: the one whose start it has
    passed and whose end it has not. The gates are the earliest request still undecided at
    `as_of` (None: no gate pending); a pending gate holds the change whatever else passed,
    as in the shipped breakdown, where gate time is cut out of review and deploy wait."""

    def passed(t: datetime | None) -> bool:
        return t is not None and t < as_of

    if merged is not None and passed(merged):
        return ("approval_wait", deploy_gate) if deploy_gate else ("deploy_wait", merged)
    if change_gate is not None:
        return "approval_wait", change_gate
    if approved is not None and passed(approved):
        return "merge_wait", approved
    if reviewed is not None and passed(reviewed):
        return "review", reviewed
    assert opened is not None  # an open request was opened before `as_of`
    return "pickup", opened


def waiting_changes(
    store: Store, defn: Definition, services: list[str], as_of: datetime
) -> list[Waiting]:
    """The changes of `services` that have not reached users at `as_of` (exclusive, like a
    period's end):

    - open: opened before `as_of`, and neither merged nor closed before it;
    - undeployed: merged before `as_of`, and not shipped by a counted deployment finished
      before it. Only changes merged since the service's first counted deployment count: a
      service whose deployments are not recorded (or not yet) would otherwise hold every
      change it ever merged.
    """
    if not services:
        return []
    marks = ", ".join("?" for _ in services)
    gates = ", ".join(q.quote(k) for k in GATE_KINDS)

    def pending(ref: str) -> str:
        return (
            f"SELECT {ref}, MIN(requested_at) AS since FROM approvals "
            f"WHERE kind IN ({gates}) AND {ref} IS NOT NULL AND requested_at < ? "
            f"AND (decided_at IS NULL OR decided_at >= ?) GROUP BY {ref}"
        )

    rows = store.query(
        f"""
        SELECT c.id, c.service, c.opened_at, c.first_review_at, c.approved_at, c.merged_at,
               cg.since, dg.since
        FROM changes c
        LEFT JOIN deployments d ON d.id = c.deployment_id AND {q.counted_deployments(defn)}
        LEFT JOIN (SELECT d.service, MIN(d.finished_at) AS first_t FROM deployments d
                   WHERE {q.counted_deployments(defn)} AND d.finished_at < ?
                   GROUP BY d.service) fd ON fd.service = c.service
        LEFT JOIN ({pending("change_ref")}) cg ON cg.change_ref = c.id
        LEFT JOIN ({pending("deployment_ref")}) dg ON dg.deployment_ref = d.id
        WHERE c.service IN ({marks})
          AND ((c.opened_at < ? AND (c.merged_at IS NULL OR c.merged_at >= ?)
                AND (c.closed_at IS NULL OR c.closed_at >= ?))
            OR (c.merged_at < ? AND c.merged_at >= fd.first_t
                AND (d.id IS NULL OR d.finished_at IS NULL OR d.finished_at >= ?)))
        ORDER BY c.id
        """,
        [as_of, as_of, as_of, as_of, as_of, *services, as_of, as_of, as_of, as_of, as_of],
    )
    out = []
    for cid, service, opened, reviewed, approved, merged, change_gate, deploy_gate in rows:
        shipped_queue = merged is not None and merged < as_of
        stage, since = waiting_stage(
            opened, reviewed, approved, merged, change_gate, deploy_gate, as_of
        )
        queue, entered = ("undeployed", merged) if shipped_queue else ("open", opened)
        out.append(Waiting(cid, service, queue, entered, stage, since))
    return out


def _queue(items: list[tuple[str, float]]) -> dict[str, Any]:
    """count, the oldest (with its change id, to trace it) and the median age in seconds."""
    n = len(items)
    ages = sorted(age for _, age in items)
    oldest = max(items, key=lambda item: (item[1], item[0])) if items else None
    out: dict[str, Any] = {
        "changes": n,
        "oldest_s": round(oldest[1], 3) if oldest else None,
        "oldest_change": oldest[0] if oldest else None,
        "median_s": round(float(np.percentile(ages, 50)), 3) if n >= MIN_MEDIAN else None,
        "notes": [],
    }
    if 0 < n < MIN_MEDIAN:
        out["notes"].append(f"a median needs at least {MIN_MEDIAN} changes; there are {n}")
    return out


def summarise_waiting(
    waiting: list[Waiting], defn: Definition, as_of: datetime, *, ended: bool
) -> dict[str, Any]:
    """The queues at `as_of`: open requests, merged changes not yet deployed, and per stage
    the changes waiting there, with ages in seconds (oldest, median)."""

    def age(t: datetime) -> float:
        return (as_of - t).total_seconds()

    outside = outside_lead_time(defn.lead_time.start)
    stages = []
    for stage in STAGES:
        here = [(w.id, age(w.stage_since)) for w in waiting if w.stage == stage]
        stat = _queue([] if stage in outside else here)
        if stage == "coding":
            stat["notes"].append(UNSEEN_CODING)
        elif stage in outside and here:
            stat["notes"].append(
                f"{_plural(len(here), 'change waits', 'changes wait')} here, not counted: lead"
                f" time under this definition starts at {defn.lead_time.start} and leaves"
                f" {LABELS[stage]} out"
            )
        stages.append(
            {
                "stage": stage,
                "label": LABELS[stage],
                "from": BOUNDS[stage][0],
                "to": BOUNDS[stage][1],
                **stat,
            }
        )
    return {
        "as_of": iso(as_of),
        "as_of_rule": "the end of the period"
        if ended
        else "the current time: the period ends later",
        **{
            queue: {
                "description": text,
                **_queue([(w.id, age(w.entered)) for w in waiting if w.queue == queue]),
            }
            for queue, text in QUEUES.items()
        },
        "stages": stages,
    }
