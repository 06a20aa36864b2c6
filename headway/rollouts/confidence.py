"""Rollout confidence signals over every rollout in the store: how often rollouts complete,
are abandoned or rolled back (and by whom), how long each stage takes and how long people
keep them waiting.
"""

from __future__ import annotations

import json
import statistics
from collections import Counter
from typing import Any

from headway.metrics.rollout_rates import rates
from headway.rollouts.delivery import CONTROLLER
from headway.rollouts.plan import ACTIVE_STATES
from headway.rollouts.store import events_of, list_rollouts
from headway.store import Store


def confidence_signals(store: Store) -> dict[str, Any]:
    """Rollout confidence signals over every rollout in the store."""
    rollouts = list_rollouts(store)
    finished = [r for r in rollouts if r.state not in ACTIVE_STATES]
    stage_times: dict[str, list[float]] = {}
    waits: list[float] = []
    automatic = 0
    for rollout in rollouts:
        events = events_of(store, rollout.id)
        entries = [e for e in events if e.kind in ("started", "advanced", "completed")]
        ends = [*entries[1:], None]
        for entry, end in zip(entries, ends, strict=True):
            stop = end.occurred_at if end else rollout.finished_at
            if entry.kind != "completed" and stop is not None:
                key = f"{entry.percent:g}%"
                seconds = (stop - entry.occurred_at).total_seconds()
                stage_times.setdefault(key, []).append(seconds)
        detail = [json.loads(e.detail) for e in events if e.kind == "approved" and e.detail]
        waits.append(sum(d.get("waited_s", 0.0) for d in detail))
        if any(e.kind == "rolled_back" and e.actor == CONTROLLER for e in events):
            automatic += 1

    shares = rates(Counter(str(r.state) for r in finished))
    return {
        "rollouts": len(rollouts),
        "finished": len(finished),
        "completion_rate": shares["completion_rate"],
        "abandon_rate": shares["abandon_rate"],
        "rollback_rate": shares["rollback_rate"],
        "automatic_rollback_rate": automatic / len(finished) if finished else None,
        "median_seconds_per_stage": {
            k: statistics.median(v) for k, v in sorted(stage_times.items(), key=_by_percent)
        },
        "mean_human_wait_seconds_per_rollout": statistics.fmean(waits) if waits else None,
    }


def _by_percent(item: tuple[str, list[float]]) -> float:
    return float(item[0].rstrip("%"))
