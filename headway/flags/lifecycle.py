"""A flag's life read from its versions: created, released, last changed, and whether it is stale.

Every change to a flag stores a version with its time, so the dates need no column of their
own: a flag stored before this module existed has the same history as one made today. All of it
is pure: the service hands in the versions and the clock.

- *created*: the time of version 1.
- *released*: the first version at which the release environment (production unless told
  otherwise) served one variant, not its off variant, to everyone.
- *changed*: the last version that changed any environment's configuration (switched, served,
  targeted); renaming the owner or editing the description changes nothing users see.
- *stale*: a release flag fully on, or fully off, in every environment, unchanged for longer
  than a threshold (its checks in the code are dead branches now), or a temporary flag past its
  expected removal date.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal

import orjson
from pydantic import Field

from headway.flags.model import EnvironmentConfig, Flag, LifecycleKind
from headway.result import Result

__all__ = [
    "DEFAULT_STALE_AFTER",
    "RELEASE_ENVIRONMENT",
    "FlagLifecycle",
    "StaleFlag",
    "Stamped",
    "State",
    "environment_state",
    "flag_state",
    "lifecycle_of",
    "settled_value",
    "stale_flags",
]

State = Literal["on", "off", "partial"]
RELEASE_ENVIRONMENT = "production"
DEFAULT_STALE_AFTER = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Stamped:
    """One stored version of a flag and when it was written."""

    flag: Flag
    at: datetime


class FlagLifecycle(Result):
    """A flag's owner, kind and dates, and what it serves now."""

    key: str
    owner: str
    kind: LifecycleKind
    state: State = Field(
        description="on: one variant (not the off one) to everyone in every environment; "
        "off: the off variant to everyone everywhere; partial: anything else."
    )
    created_at: datetime
    released_at: datetime | None = Field(
        description="When the release environment first served one variant, not the off "
        "one, to everyone; null until then."
    )
    changed_at: datetime = Field(description="The last change to any environment's configuration.")
    expected_removal: date | None
    archived: bool


class StaleFlag(Result):
    """A flag whose checks in the code can go, and why."""

    key: str
    owner: str
    kind: LifecycleKind
    reason: Literal["fully-on", "fully-off", "past-removal"]
    detail: str = Field(description="The reason in words, with the dates behind it.")
    since: date = Field(description="When the flag reached this state or became due.")
    days: int = Field(description="Whole days from `since` to now.")
    references: list[str] = Field(
        default_factory=list,
        description="`repository:path:line` of each use in the newest scan of every repository.",
    )


def _served(env: EnvironmentConfig) -> set[str]:
    """Every variant some user can get while the environment is switched on."""
    serves = [rule.serve for rule in env.rules] + [env.default]
    variants: set[str] = set()
    for serve in serves:
        if serve.variant is not None:
            variants.add(serve.variant)
        elif serve.split is not None:
            variants.update(w.variant for w in serve.split.weights if w.buckets)
    return variants


def environment_state(env: EnvironmentConfig) -> State:
    if not env.enabled:
        return "off"
    served = _served(env)
    if served == {env.off_variant}:
        return "off"
    return "on" if len(served) == 1 else "partial"


def flag_state(flag: Flag) -> State:
    """`on` or `off` when every environment is; `partial` otherwise (and with none at all)."""
    states = {environment_state(env) for env in flag.environments.values()}
    return states.pop() if len(states) == 1 and "partial" not in states else "partial"


def settled_value(flag: Flag) -> tuple[bool, object]:
    """(True, the value) when every environment serves everyone one and the same value."""
    values = set()
    for env in flag.environments.values():
        state = environment_state(env)
        if state == "partial":
            return False, None
        variant = env.off_variant if state == "off" else next(iter(_served(env)))
        values.add(orjson.dumps(flag.variant_values().get(variant)))
    if len(values) != 1:
        return False, None
    return True, orjson.loads(values.pop())


def _configuration(flag: Flag) -> dict[str, object]:
    return {key: env.model_dump() for key, env in flag.environments.items()}


def lifecycle_of(
    versions: Sequence[Stamped], release_environment: str = RELEASE_ENVIRONMENT
) -> FlagLifecycle:
    """The lifecycle of one flag from its versions, oldest first (at least one)."""
    current = versions[-1].flag
    released_at = None
    changed_at = versions[0].at
    previous: dict[str, object] | None = None
    for stamped in versions:
        env = stamped.flag.environments.get(release_environment)
        if released_at is None and env is not None and environment_state(env) == "on":
            released_at = stamped.at
        configuration = _configuration(stamped.flag)
        if configuration != previous:
            changed_at = stamped.at
            previous = configuration
    return FlagLifecycle(
        key=current.key,
        owner=current.owner,
        kind=current.lifecycle.kind,
        state=flag_state(current),
        created_at=versions[0].at,
        released_at=released_at,
        changed_at=changed_at,
        expected_removal=current.lifecycle.expected_removal,
        archived=current.archived,
    )


def _judge(life: FlagLifecycle, now: datetime, after: timedelta) -> StaleFlag | None:
    common = {"key": life.key, "owner": life.owner, "kind": life.kind}
    if life.kind == "release" and life.state in ("on", "off") and now - life.changed_at > after:
        since = life.changed_at.date()
        days = (now.date() - since).days
        return StaleFlag(
            **common,
            reason="fully-on" if life.state == "on" else "fully-off",
            detail=f"fully {life.state} in every environment since {since} ({days} days, "
            f"more than {after.days}) with no rule change; remove its checks from the code",
            since=since,
            days=days,
        )
    due = life.expected_removal
    if due is not None and due < now.date():
        days = (now.date() - due).days
        return StaleFlag(
            **common,
            reason="past-removal",
            detail=f"past its expected removal date {due} by {days} days",
            since=due,
            days=days,
        )
    return None


def stale_flags(
    lifecycles: Iterable[FlagLifecycle], now: datetime, after: timedelta = DEFAULT_STALE_AFTER
) -> list[StaleFlag]:
    """The stale ones among `lifecycles` (archived flags are gone already), longest first."""
    found = [
        stale
        for life in lifecycles
        if not life.archived and (stale := _judge(life, now, after)) is not None
    ]
    return sorted(found, key=lambda s: (-s.days, s.key))
