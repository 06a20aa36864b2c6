"""Flow breakdown: where a change's lead time goes, stage by stage, and where work waits.

`stages` cuts each shipped change into its stages, `durations` summarises them and `waiting`
measures the work in progress; this module puts them together for a scope, with a trend.
`STAGES`, `LABELS` and `negative_note` are exported here too because the CLI's modules import
them from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import numpy as np

from headway import config
from headway.definitions import Definition
from headway.metrics.durations import describe, negative_note, plural
from headway.metrics.flow_source import FlowSource, StoreFlow
from headway.metrics.scope import (
    Period,
    Scope,
    bucket_starts,
    iso,
    next_start,
    window_hint,
)
from headway.metrics.stages import (
    BOUNDS,
    LABELS,
    LEAD_BOUNDS,
    STAGES,
    WAITING,
    Flows,
    flow_columns,
)
from headway.metrics.waiting import summarise_waiting, waiting_from
from headway.store import Store

NO_RELEASE_WAIT = (
    "The release wait is computed on the store only (it reads the flags' history): "
    "unset HEADWAY_ENGINE to see it."
)

__all__ = [
    "LABELS",
    "STAGES",
    "FlowBreakdown",
    "Members",
    "breakdown",
    "breakdown_each",
    "group_members",
    "negative_note",
    "summarise",
]


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
    release_wait: dict[str, Any] | None = field(default_factory=dict)

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
            "release_wait": self.release_wait,
            "waiting": self.waiting,
            "trend": self.trend,
            "warnings": self.warnings,
        }


def summarise(
    flows: Flows, median: str = "interpolated"
) -> tuple[dict[str, Any], list[dict[str, Any]], str | None, str | None]:
    """End-to-end statistics, per-stage statistics and shares, the dominant stage and the
    longest wait. A stage's share is its summed time over the summed lead time of the same
    changes, so shares of a complete breakdown add up to 1. A change whose lead time runs
    backwards is in no share; a stage that runs backwards is left out of that stage only.
    Each `negative` counts the changes left out."""
    timed = ~np.isnan(flows.lead_s)
    lead = flows.lead_s[timed]
    # summed in Python, in the changes' order, as they always were (numpy sums pairwise)
    total = sum(lead.tolist())
    end_to_end = {**describe(lead, median=median), "total_s": round(total, 3)}
    lost = int(flows.negative["lead"].sum())
    end_to_end["negative"] = lost
    if lost:
        end_to_end["notes"].append(negative_note(lost, "lead time", LEAD_BOUNDS))
    stages = []
    for stage in STAGES:
        seconds = flows.stages[stage]
        known = ~np.isnan(seconds)
        values = seconds[known]
        in_share = seconds[known & timed].tolist()
        negative = int(flows.negative[stage].sum())
        stat = describe(values, median=median)
        share = round(sum(in_share) / total, 4) if total > 0 and in_share else None
        if not len(values):
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
    store: Store | FlowSource,
    defn: Definition,
    scope: Scope,
    period: Period,
    by: str | None = None,
    members: list[tuple[str, str]] | None = None,
    now: datetime | None = None,
) -> FlowBreakdown:
    """The breakdown for a scope (or for `members`, (service, context) pairs, when given).

    `now` is the current time as naive UTC (`config.now`, when None); work in progress is
    measured at the end of the period, or at `now` when the period ends later."""
    source = StoreFlow(store) if isinstance(store, Store) else store
    services = members if members is not None else source.services(scope)
    names = [s for s, _ in services]
    contexts = sorted({c for _, c in services})
    flows = flow_columns(source, defn, names, period)
    end_to_end, stages, dominant, longest = summarise(flows, defn.summary.median)
    result = FlowBreakdown(
        scope, period, defn, names, contexts, len(flows), end_to_end, stages, dominant, longest
    )
    result.release_wait = release_wait(source.release_wait(defn, names, period))
    as_of = min(period.until, now or config.now())
    waiting = waiting_from(source.waiting(defn, names, as_of), as_of) if names else []
    result.waiting = summarise_waiting(waiting, defn, as_of, ended=as_of == period.until)
    if not flows:
        verb = "merged" if defn.flow.changes == "merged" else "shipped"
        result.warnings.append(
            f"no change {verb} in {scope.describe()} between "
            f"{period.since:%Y-%m-%d} and {period.until:%Y-%m-%d}"
            + _where_data_is(source, defn, names, period)
        )
    if end_to_end["negative"]:
        result.warnings.append(end_to_end["notes"][-1])
    unshipped = int(np.isnat(flows.deployed_at).sum())
    if unshipped:
        end_to_end["notes"].append(
            f"{plural(unshipped, 'merged change', 'merged changes')} not shipped yet "
            "(flow.changes = merged): in every stage up to the merge, not in lead time"
        )
    if len(contexts) > 1:
        result.warnings.append(
            f"This breakdown blends {len(contexts)} operating contexts "
            f"({', '.join(contexts)}); see each with --each context."
        )
    if result.release_wait is None:
        result.warnings.append(NO_RELEASE_WAIT)
    if by:
        for start in bucket_starts(period, by):
            sub = Period(max(start, period.since), min(next_start(start, by), period.until))
            part = flows.where(
                (flows.at >= np.datetime64(sub.since)) & (flows.at < np.datetime64(sub.until))
            )
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


def release_wait(figure: dict[str, Any] | None) -> dict[str, Any] | None:
    """The stage after lead time for flagged changes: deployed → the last of its flags served
    to everyone (`metrics.release`), over the changes shipped in the period; None where the
    source holds no flags' history (an analytics engine)."""
    if figure is None:
        return None
    return {
        "stage": "release_wait",
        "label": "release wait",
        "from": "deployed",
        "to": "its flags reached everyone",
        **figure["deploy_to_release"],
        "flagged": figure["flagged"],
        "unreleased": figure["unreleased"],
    }


class Members(Protocol):
    """Where services and their teams are read (a `FlowSource`, or the signals' source)."""

    def services(self, scope: Scope) -> list[tuple[str, str]]: ...
    def teams(self) -> dict[str, str]: ...


def group_members(
    store: Store | Members, kind: str, within: Scope | None = None
) -> dict[str, list[tuple[str, str]]]:
    """(service, context) pairs inside `within`, grouped by service, team or context."""
    source = StoreFlow(store) if isinstance(store, Store) else store
    teams = source.teams()
    groups: dict[str, list[tuple[str, str]]] = {}
    for service, context in source.services(within or Scope()):
        key = {"service": service, "team": teams.get(service, "(no team)"), "context": context}[
            kind
        ]
        groups.setdefault(key, []).append((service, context))
    return dict(sorted(groups.items()))


def breakdown_each(
    store: Store | FlowSource,
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


def _where_data_is(source: FlowSource, defn: Definition, names: list[str], period: Period) -> str:
    """The scope's latest deployment and the window showing it, when it lies outside `period`."""
    latest = max(source.latest(defn, names).values(), default=None)
    if latest is not None and period.since <= latest < period.until:
        return ""
    return ". " + window_hint(latest)
