"""A release plan as a person sets it (`ReleasePlanDocument`) and as the store holds it
(`StoredPlan`); `releases` moves them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from headway.rollouts.plan import PlanError, RolloutPlan, parse_duration

__all__ = [
    "ACTOR",
    "EVERY_NEW_FLAG",
    "PlanState",
    "ReleasePlanDocument",
    "StoredPlan",
    "stored_plan",
]

ACTOR: Final = "release-plan"
EVERY_NEW_FLAG: Final = "*"
PlanState = Literal["waiting", "rolling", "done", "halted"]
_ENVIRONMENT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


class ReleasePlanDocument(BaseModel):
    """What a person sets: the environments in order and the rollout each one gets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    environments: list[str] = Field(
        min_length=1, max_length=5, description="In release order, e.g. staging, production."
    )
    promote_after: str = Field(
        "24h", description="How long an environment holds the flag on before the next starts."
    )
    treatment: str | None = Field(
        None, max_length=128, description="Variant to release (default: the one that is not off)."
    )
    stages: str = Field("1,5,25,50,100", max_length=200)
    min_duration: str = Field("10m", max_length=20)
    min_samples: int = Field(500, ge=0, le=10_000_000)
    guardrails: list[str] = Field(default_factory=list, max_length=20)
    alpha: float = Field(0.05, gt=0, lt=1)
    service: str = Field("", max_length=200)

    @field_validator("environments")
    @classmethod
    def _environments(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _ENVIRONMENT.match(name):
                raise ValueError(f"{name!r} is not an environment key (lowercase, digits, - or _)")
        if len(set(value)) != len(value):
            raise ValueError("an environment is listed twice; list each once, in release order")
        return value

    @field_validator("promote_after", "min_duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        try:
            parse_duration(value)
        except PlanError as error:
            raise ValueError(str(error)) from None
        return value

    def rollout(
        self, flag: str, environment: str, treatment: str, control: str, service: str = ""
    ) -> RolloutPlan:
        return RolloutPlan.build(
            flag=flag,
            environment=environment,
            treatment=treatment,
            control=control,
            stages=self.stages,
            min_duration=self.min_duration,
            min_samples=self.min_samples,
            guardrails=self.guardrails,
            alpha=self.alpha,
            service=service or self.service,
        )

    def check(self) -> None:
        """Refuse stages or guardrails a rollout would refuse, before anything waits on them."""
        self.rollout("f", self.environments[0], "on", "off")


@dataclass(frozen=True, slots=True)
class StoredPlan:
    flag: str
    document: ReleasePlanDocument
    state: PlanState
    step: int
    since: datetime
    reason: str
    version: int
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def environment(self) -> str:
        return self.document.environments[min(self.step, len(self.document.environments) - 1)]

    def as_dict(self) -> dict[str, Any]:
        return {
            "flag": self.flag,
            **self.document.model_dump(),
            "state": self.state,
            "step": self.step,
            "environment": self.environment,
            "since": self.since.isoformat(),
            "reason": self.reason,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def stored_plan(row: tuple[Any, ...]) -> StoredPlan:
    flag, document, state, step, since, reason, version, by, created, updated = row
    return StoredPlan(
        flag,
        ReleasePlanDocument.model_validate_json(document),
        state,
        int(step),
        _utc(since),
        reason,
        int(version),
        by,
        _utc(created),
        _utc(updated),
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
