"""The kinds of entity whose changes the audit chain records (`store.audit` keeps the chain).

A module of their own, needing nothing, so the command line can name them in its help
without loading the store.
"""

from __future__ import annotations

from typing import Literal, get_args

__all__ = ["ENTITIES", "Entity"]

Entity = Literal[
    "definition",
    "environment",
    "flag",
    "import",
    "note",
    "pulse_link",
    "release_plan",
    "risky_rule",
    "rollout",
    "schedule",
    "segment",
    "token",
    "user",
]
ENTITIES: tuple[str, ...] = get_args(Entity)
