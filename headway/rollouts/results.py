"""The typed results of the rollout API: a rollout, its events and the confidence signals.

Each model declares exactly the fields `Rollout.as_dict`, `RolloutEvent.as_dict` and
`RolloutService.signals` write, in their order, so the answers are unchanged.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from headway.metrics.results import Number, Result

__all__ = [
    "Accepted",
    "Delivered",
    "GuardrailHistory",
    "GuardrailPoint",
    "ReleasePlanResult",
    "RolloutEventResult",
    "RolloutResult",
    "RolloutSignals",
    "RolloutStarted",
    "RolloutStatus",
    "StageExposures",
]


class RolloutResult(Result):
    """A guarded rollout: its plan, where it stands and the controller's judgements."""

    id: str
    flag: str
    environment: str
    service: str
    state: str = Field(description="running, waiting_approval, paused, completed, aborted, …")
    stage_index: int
    percent: Number = Field(description="The share of traffic on the treatment now.")
    stages: list[Number] = Field(description="The percent of each stage, in order.")
    treatment: str
    control: str
    guardrails: list[str] = Field(description="The guardrail specs the rollout is judged by.")
    min_duration_s: Number
    min_samples: int
    alpha: Number
    prometheus_url: str | None
    prometheus_queries: dict[str, str]
    started_at: str
    stage_started_at: str
    finished_at: str | None
    waiting_since: str | None = Field(description="Set while it waits for an approval.")
    reason: str | None
    created_by: str
    judgement: list[dict[str, Any]] = Field(description="The latest judgement per guardrail.")


class RolloutStarted(RolloutResult):
    """A rollout just started, with what a person should know about it."""

    notes: list[str] = Field(
        description="What the start replaced, and whether a controller will move it on."
    )


class RolloutEventResult(Result):
    seq: int
    occurred_at: str
    kind: str = Field(description="started, advanced, approval_requested, approved, paused, …")
    stage_index: int
    percent: Number
    actor: str
    explanation: str
    detail: dict[str, Any] | None


class StageExposures(Result):
    """The exposures of each arm while one stage was live."""

    stage: int = Field(description="1 for the first stage.")
    percent: Number = Field(description="The stage's share of traffic on the treatment.")
    started_at: str
    treatment: Number = Field(description="Exposures of the treatment during the stage.")
    control: Number = Field(description="Exposures of the control during the stage.")


class GuardrailPoint(Result):
    """A guardrail judged on everything received up to one moment."""

    at: str
    verdict: str = Field(description="pass, breach or insufficient_data.")
    n_treatment: Number = Field(description="Exposures (a rate) or values (a mean) so far.")
    n_control: Number
    treatment: Number | None = Field(description="The metric on the treatment so far.")
    control: Number | None
    relative_change: Number | None = Field(description="treatment / control - 1.")
    evidence: Number | None = Field(
        description="The judge's evidence of harm; it acts once this reaches evidence_needed."
    )


class GuardrailHistory(Result):
    """One guardrail replayed as its samples arrived."""

    check: str
    metric: str
    kind: str = Field(description="rate or mean.")
    evidence_needed: Number = Field(description="1 / alpha: the judge's decision boundary.")
    points: list[GuardrailPoint]


class Delivered(Result):
    """A deployment the rollout recorded in the delivery records."""

    id: str
    kind: str = Field(description="release, or rollback.")
    status: str
    started_at: str | None
    finished_at: str
    recovers: str | None = Field(description="The release a rollback recovered.")
    failed: bool = Field(description="A release a rollback recovered: a failed deployment.")
    evidence: str | None


class RolloutStatus(RolloutResult):
    """A rollout with every event in its history, its exposures per stage, its guardrails
    over time and the deployments it recorded."""

    events: list[RolloutEventResult]
    exposures: list[StageExposures]
    history: list[GuardrailHistory]
    delivered: list[Delivered]


class RolloutSignals(Result):
    """Confidence signals over every rollout in the store."""

    rollouts: int
    finished: int
    completion_rate: Number | None
    abandon_rate: Number | None
    rollback_rate: Number | None
    automatic_rollback_rate: Number | None
    median_seconds_per_stage: dict[str, Number] = Field(description="By stage percent, `5%`.")
    mean_human_wait_seconds_per_rollout: Number | None


class Accepted(Result):
    accepted: int = Field(description="Samples or exposures stored (a redelivery adds none).")


class ReleasePlanResult(Result):
    """A flag's release plan and where it stands (`headway.rollouts.releases`)."""

    flag: str = Field(description="The flag, or `*`: the plan each flag a pull request adds gets.")
    environments: list[str] = Field(description="Released in this order.")
    promote_after: str = Field(description="How long an environment holds the flag on first.")
    treatment: str | None
    stages: str
    min_duration: str
    min_samples: int
    guardrails: list[str]
    alpha: Number
    service: str
    state: str = Field(description="waiting, rolling, done or halted.")
    step: int = Field(description="The index of the environment it waits for or rolls out in.")
    environment: str = Field(description="That environment.")
    since: str = Field(description="When the plan entered its state (or its wait began).")
    reason: str = Field(description="Where it stands, in words.")
    created_by: str
    created_at: str
    updated_at: str
