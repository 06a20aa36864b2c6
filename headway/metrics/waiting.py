"""Work that has not reached users yet: open requests and merged changes no counted deployment
has shipped, each waiting in the stage whose start it has passed and whose end it has not, as
of the end of the period (or now, when the period ends later).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np

from headway.definitions import Definition
from headway.metrics.durations import MIN_MEDIAN, plural
from headway.metrics.queries import flow as queries
from headway.metrics.scope import iso
from headway.metrics.stages import BOUNDS, LABELS, STAGES, outside_lead_time
from headway.store import Store

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
    return waiting_from(queries.waiting_moments(store, defn, services, as_of), as_of)


def waiting_from(rows: Iterable[tuple[Any, ...]], as_of: datetime) -> list[Waiting]:
    """The waiting changes from their moments (`queries.flow.waiting_moments`'s rows, or an
    engine's `engines.flow` rows)."""
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
                f"{plural(len(here), 'change waits', 'changes wait')} here, not counted: lead"
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
