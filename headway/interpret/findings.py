"""The review's findings for a scope: each team read over the whole window (diagnoses) and
month against baseline (detectors), the context comparison and definition changes, combined
into the JSON contract the review, the API and the CLI read."""

from __future__ import annotations

from typing import Any

from headway.config import Settings
from headway.definitions import Definition
from headway.interpret import detectors as dt
from headway.interpret import diagnoses
from headway.interpret.comparisons import TeamMetrics, context_comparison, definition_changes
from headway.interpret.costs import scope_costs
from headway.interpret.evidence import Finding
from headway.interpret.months import window_for
from headway.interpret.sources import Records, records_of
from headway.interpret.where import figures_where
from headway.interpret.windows import baseline_for, window
from headway.metrics import flow
from headway.metrics.scope import Period, Scope, iso
from headway.store import Store

__all__ = ["detect"]


def detect(
    store: Store,
    defn: Definition,
    scope: Scope,
    current: Period,
    baseline: Period | None = None,
    *,
    records: Records | None = None,
    team_metrics: TeamMetrics | None = None,
) -> dict[str, Any]:
    """Every finding for the teams in `scope`: the JSON contract of the review's findings.

    The detectors read `records` (an analytics engine's) when given, else the store's; the
    context comparison reads each team's metric set from `team_metrics`, else the store. The
    definition history is always the store's."""
    baseline = baseline or baseline_for(current)
    history = window_for(current)
    source = records or records_of(store)
    groups = flow.group_members(source.flows, "team", scope)
    findings: list[Finding] = []
    skipped = []
    for team, members in groups.items():
        names = [s for s, _ in members]
        # the whole window first: every team gets a reading, however few its deployments
        whole = diagnoses.diagnose(source, defn, team, members, history)
        findings.extend(whole)
        seen = {f.detector for f in whole}
        b, a = window(source, defn, names, baseline), window(source, defn, names, current)
        if b.n < dt.MIN_DEPLOYMENTS or a.n < dt.MIN_DEPLOYMENTS:
            skipped.append(
                {
                    "team": team,
                    "reason": f"the month-against-baseline detectors need at least "
                    f"{dt.MIN_DEPLOYMENTS} deployments in each window; there are {b.n} and {a.n}; "
                    f"read over {history.since:%Y-%m} to {current.since:%Y-%m} instead",
                }
            )
            continue
        for detector in dt.TEAM_DETECTORS:
            found = detector(Scope("team", team), b, a)
            # slicing and healthy improvement need not be kept apart here: each refuses
            # where slicing's own evidence says the other (`slicing.slicing_evidence`)
            if found and found.detector not in seen:
                findings.append(found)
        # a month of raised failures is what the other detectors explain, with its cause
        ours = [f for f in findings if f.scope.name == team]
        if any(f.detector not in ("failure_cluster", "healthy_improvement") for f in ours):
            findings = [
                f
                for f in findings
                if not (
                    f.scope.name == team
                    and f.detector == "failure_cluster"
                    and f.extra["cluster"]["by"] == "month"
                )
            ]
    found = context_comparison(store, defn, groups, current, team_metrics)
    if found:
        found.scope = scope
        findings.append(found)
    findings.extend(definition_changes(store, scope, current, baseline.since))
    return {
        "scope": {"kind": scope.kind, "name": scope.name},
        "current": {"since": iso(current.since), "until": iso(current.until)},
        "baseline": {"since": iso(baseline.since), "until": iso(baseline.until)},
        "window": {"since": iso(history.since), "until": iso(history.until)},
        "definition": {"name": defn.name, "version": defn.version},
        "findings": [f.to_json() for f in findings],
        "not_assessed": skipped,
        **scope_costs(source, defn, [m for ms in groups.values() for m in ms], history),
    }


def detect_where(
    settings: Settings,
    store: Store,
    defn: Definition,
    scope: Scope,
    current: Period,
    *,
    server: bool = False,
) -> dict[str, Any]:
    """`detect` where the settings say: on the store, or with every record read on the
    analytics engine HEADWAY_ENGINE names (`answers.EngineUnavailable` when it cannot run)."""
    with figures_where(settings, store, server=server) as figures:
        records, team_metrics = figures.records, figures.team_metrics
        return detect(store, defn, scope, current, records=records, team_metrics=team_metrics)
    raise AssertionError("unreachable")  # pragma: no cover
