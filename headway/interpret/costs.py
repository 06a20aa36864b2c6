"""What delivery pays for its safeguards and where it fails, read over the whole window: the
cost of each approval gate, recoveries with and without a rollback, and failure clusters.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from statistics import median
from typing import Any

from scipy import stats

from headway.definitions import Definition
from headway.interpret.evidence import Finding, hours, measure, pct, rounded
from headway.interpret.months import Team, load
from headway.interpret.sources import Records, records_of
from headway.metrics import signal_rows
from headway.metrics.concentration import WEEKDAYS
from headway.metrics.durations import span
from headway.metrics.scope import Period, Scope
from headway.metrics.stages import GATE_KINDS, ChangeFlow
from headway.store import Store

MIN_FAILURES = 3
GATE_SHARE = 0.25  # a gate holding changes for a quarter of their lead time
SLOW_RECOVERY_S = 24 * 3600  # recoveries without rollback slower than a day …
RECOVERY_RATIO = 3.0  # … or three times slower than those with one
CLUSTER_P = 0.01
CLUSTER_RATIO = 2.0
CLUSTER_HITS = 5
CALENDAR_SHARE = 0.8  # one weekday holding this share of releases is the release calendar


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


def recoveries(store: Store | Records, team: Team) -> list[dict[str, Any]]:
    """Each failed deployment's recovery: how long, and whether a rollback or a flag change
    restored service."""
    failed = [d for d in team.shipping if d["failed"]]
    if not failed:
        return []
    undo = records_of(store).signals.undone([d["id"] for d in failed])
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


def recovery_without_rollback(store: Store | Records, team: Team, scope: Scope) -> Finding | None:
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


def scope_costs(
    store: Store | Records, defn: Definition, members: list[tuple[str, str]], window: Period
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
