"""A split's buckets carried across a change, so raising a percentage moves the fewest users."""

from __future__ import annotations

from headway.flags.bucketing import BUCKETS, rebalance
from headway.flags.model import EnvironmentConfig, Serve

__all__ = ["carry_allocation", "carry_environment"]


def carry_allocation(previous: Serve | None, serve: Serve) -> Serve:
    """Re-derive a split's allocation from what was served before, moving the fewest users.

    A fixed variant counts as owning every bucket, so going from `off` to a 1 % split and on
    to 5 % keeps the first 1 % in the next stage.
    """
    if serve.split is None or previous is None:
        return serve
    if previous.split is not None:
        before = previous.split.allocation
    else:
        assert previous.variant is not None
        before = [(0, BUCKETS, previous.variant)]
    allocation = rebalance(before, serve.split.weights)
    return serve.model_copy(
        update={"split": serve.split.model_copy(update={"allocation": allocation})}
    )


def carry_environment(
    previous: EnvironmentConfig | None, env: EnvironmentConfig
) -> EnvironmentConfig:
    """`env` with each split's allocation carried from `previous` (rules matched by id)."""
    if previous is None:
        return env
    old_rules = {r.id: r for r in previous.rules}
    rules = [
        r.model_copy(update={"serve": carry_allocation(old_rules[r.id].serve, r.serve)})
        if r.id in old_rules
        else r
        for r in env.rules
    ]
    return env.model_copy(
        update={"rules": rules, "default": carry_allocation(previous.default, env.default)}
    )
