"""How well an attribution rule blames incidents on the deployments that really caused them:
the measure behind `dora`'s attribution window (docs/definitions.md, bench/attribution.py).

Blame is read from the failure evidence the records list shows (`records.deployments`: a
deployment failed by rule "incident", naming the incident), so what is measured is what
the metrics count, not a copy of the rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from headway.definitions import AttributionRules, Definition
from headway.metrics import records
from headway.metrics.scope import Period, Scope
from headway.model import record_id
from headway.store import Store

# Candidate windows in hours, None for no bound (DevLake's latest deployment before, however
# long before): the ones docs/definitions.md reports, the default among them.
WINDOWS: tuple[float | None, ...] = (0.1, 0.25, 0.5, 1.0, 4.0, 24.0, None)

# Every deployment a blamed incident could name, whenever the history was drawn.
_ALL_TIME = Period(datetime(1970, 1, 1), datetime(3000, 1, 1))


@dataclass(frozen=True)
class Tally:
    """Incidents blamed on their true cause (or, with none, on nothing), on another
    deployment, and on nothing although a deployment caused them."""

    right: int = 0
    wrong: int = 0
    missed: int = 0

    @property
    def margin(self) -> int:
        return self.right - self.wrong


def with_window(defn: Definition, hours: float | None) -> Definition:
    """`defn` blaming an incident that names nothing on the latest deployment at most `hours`
    before it (None: however long before)."""
    rules = (
        AttributionRules(rule="latest_before")
        if hours is None
        else AttributionRules(rule="named_or_window", window_hours=hours)
    )
    return defn.model_copy(update={"attribution": rules})


def label(hours: float | None) -> str:
    """A window as the docs write it: `6 min`, `30 min`, `1 h`, `unbounded`."""
    if hours is None:
        return "unbounded"
    if hours < 1:
        return f"{hours * 60:g} min"
    return f"{hours:g} h"


def blamed(store: Store, defn: Definition) -> dict[str, str]:
    """Each incident the definition fails a deployment for → that deployment."""
    if "incident" not in defn.failure.rules:
        raise ValueError(
            f"definition {defn.label} has no `incident` failure rule, so it blames no "
            "incident; add it to failure.rules to measure its attribution"
        )
    out: dict[str, str] = {}
    for deployment in records.deployments(store, defn, Scope(), _ALL_TIME):
        for evidence in deployment["evidence"]:
            if evidence["rule"] == "incident":
                out[evidence["record"]] = deployment["id"]
    return out


def tally(store: Store, defn: Definition, causes: Mapping[str, str | None]) -> Tally:
    """Score the definition's blame of the incidents in `causes` (incident id → the deployment
    that truly caused it, None when none did)."""
    blame = blamed(store, defn)
    right = wrong = missed = 0
    for incident, cause in causes.items():
        found = blame.get(incident)
        if found == cause:
            right += 1
        elif found is None:
            missed += 1
        else:
            wrong += 1
    return Tally(right, wrong, missed)


def unnamed(
    incidents: Iterable[Mapping[str, Any]], causes: Mapping[str, str | None]
) -> dict[str, str | None]:
    """The true causes of the incidents, among canonical records, that name no deployment
    (no `cause_ref`): the ones only a window can blame."""
    ids = (
        record_id(r["source"], r["source_id"])
        for r in incidents
        if r.get("type") == "incident" and not r.get("cause_ref")
    )
    return {i: causes[i] for i in ids}


__all__ = ["WINDOWS", "Tally", "blamed", "label", "tally", "unnamed", "with_window"]
