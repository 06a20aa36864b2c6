"""A flag's kind and expected lifetime: release, experiment, ops, permission and the rest.

Short-lived kinds get an expected removal date when their creator gives none; `ops` is
accepted as the short name of `operational`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import field_validator, model_validator

from headway.flags.targeting import Frozen

__all__ = [
    "KIND_ALIASES",
    "LIFETIME_DAYS",
    "TEMPORARY_KINDS",
    "Lifecycle",
    "LifecycleKind",
    "with_lifetime",
]

LifecycleKind = Literal[
    "release", "experiment", "operational", "kill-switch", "permission", "temporary", "permanent"
]
# How long a flag of each short-lived kind is expected to live, in days, when its creator gives
# no date (the lifetimes Unleash uses, which teams moving from it already plan around).
# `temporary` is the older, generic kind: it still needs an explicit date.
LIFETIME_DAYS: Mapping[str, int] = {"release": 40, "experiment": 40, "operational": 7}
TEMPORARY_KINDS = frozenset({"temporary", *LIFETIME_DAYS})
# Names people write for a kind, and the kind they mean.
KIND_ALIASES: Mapping[str, str] = {"ops": "operational"}


class Lifecycle(Frozen):
    kind: LifecycleKind = "release"
    expected_removal: dt.date | None = None

    @field_validator("kind", mode="before")
    @classmethod
    def _alias(cls, kind: Any) -> Any:
        return KIND_ALIASES.get(kind, kind) if isinstance(kind, str) else kind

    @model_validator(mode="after")
    def _temporary_has_date(self) -> Lifecycle:
        if self.kind in TEMPORARY_KINDS and self.expected_removal is None:
            raise ValueError(
                f"a {self.kind} flag needs 'expected_removal' (a date such as 2025-06-30)"
            )
        if self.kind not in TEMPORARY_KINDS and self.expected_removal is not None:
            raise ValueError(f"a {self.kind} flag has no 'expected_removal'; remove it")
        return self

    @property
    def temporary(self) -> bool:
        return self.kind in TEMPORARY_KINDS


def with_lifetime(document: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    """`document` with its lifecycle completed: a missing lifecycle is a release flag, and a
    short-lived kind without a date is expected to go its kind's lifetime after `today`."""
    doc = dict(document)
    lifecycle = doc.get("lifecycle")
    if lifecycle is None:
        lifecycle = {"kind": "release"}
    if isinstance(lifecycle, Mapping):
        lifecycle = dict(lifecycle)
        kind = str(lifecycle.get("kind", "release"))
        days = LIFETIME_DAYS.get(KIND_ALIASES.get(kind, kind))
        if days is not None and lifecycle.get("expected_removal") is None:
            lifecycle["expected_removal"] = (today + dt.timedelta(days=days)).isoformat()
    doc["lifecycle"] = lifecycle
    return doc
