"""Rollout completion, abandon and rollback rates: of the rollouts that finished, the share
that reached 100 %, that a person aborted, and that were rolled back. One definition, read
over every rollout by `headway.rollouts.confidence` and per team and month by the review.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from headway.metrics.scope import Period
from headway.store.rollouts import finished_by_team

__all__ = ["FINISHED", "by_team", "rates"]

#: A finished rollout's states, as `headway.rollouts.plan.State` names them (a layer above this
#: one; tests/rollouts/test_rollout_rows.py keeps them equal).
FINISHED = ("completed", "aborted", "rolled_back")


def rates(states: Mapping[str, int]) -> dict[str, Any]:
    """How many rollouts finished (of `states`: how many ended in each state) and the share
    of them completed, abandoned and rolled back; None for a share of no rollout."""
    finished = sum(states.get(state, 0) for state in FINISHED)

    def share(state: str) -> float | None:
        return states.get(state, 0) / finished if finished else None

    return {
        "finished": finished,
        "completion_rate": share("completed"),
        "abandon_rate": share("aborted"),
        "rollback_rate": share("rolled_back"),
    }


def by_team(store: Any, period: Period) -> dict[str, dict[str, Any]]:
    """`rates` of the rollouts that finished in the period, per team of their service."""
    counts: dict[str, dict[str, int]] = {}
    for team, state, n in finished_by_team(store, period.since, period.until):
        counts.setdefault(team, {})[state] = n
    return {team: rates(states) for team, states in counts.items()}
