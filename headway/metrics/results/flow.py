"""The flow breakdown: end to end, per stage, the queues changes wait in, and its trend."""

from __future__ import annotations

from pydantic import Field

from headway.metrics.results.base import (
    DefinitionRef,
    DurationStats,
    Number,
    Period,
    Result,
    Scope,
)


class FlowDefinition(DefinitionRef):
    lead_time_start: str = Field(description="Where lead time starts under the definition.")


class EndToEnd(DurationStats):
    total_s: Number = Field(description="Summed lead time: the denominator of the shares.")
    negative: int = Field(description="Changes left out because the span ran backwards.")


class Stage(Result):
    stage: str
    label: str
    from_: str = Field(alias="from", description="The event the stage starts at.")
    to: str = Field(description="The event the stage ends at.")
    share: Number | None = Field(description="Its part of the summed lead time.")
    n: int
    median_s: Number | None
    p25_s: Number | None
    p75_s: Number | None
    p90_s: Number | None
    iqr_s: Number | None
    mean_s: Number | None
    notes: list[str]
    negative: int


class Queue(Result):
    description: str
    changes: int
    oldest_s: Number | None
    oldest_change: str | None = Field(description="The oldest one's id; null when empty.")
    median_s: Number | None
    notes: list[str]


class StageQueue(Result):
    stage: str
    label: str
    from_: str = Field(alias="from")
    to: str
    changes: int
    oldest_s: Number | None
    oldest_change: str | None
    median_s: Number | None
    notes: list[str]


class Waiting(Result):
    """The work not yet with users at `as_of`."""

    as_of: str
    as_of_rule: str = Field(description="The end of the period, or the current time.")
    open: Queue
    undeployed: Queue
    stages: list[StageQueue] = Field(description="All six stages, in order.")


class TrendStage(Result):
    median_s: Number | None
    share: Number | None
    negative: int


class FlowBucket(Result):
    since: str
    until: str
    changes: int
    lead_median_s: Number | None
    dominant_stage: str | None
    longest_wait: str | None
    stages: dict[str, TrendStage]


class ReleaseWait(Result):
    """After lead time, for flagged changes: from the deployment to the moment the last of
    the change's flags served everyone (docs/definitions.md, release lead time)."""

    stage: str
    label: str
    from_: str = Field(alias="from")
    to: str
    changes: int = Field(description="Flagged changes whose flags reached everyone.")
    median_s: Number | None
    p75_s: Number | None
    p90_s: Number | None
    mean_s: Number | None
    flagged: int = Field(description="Shipped changes whose pull request added or used a flag.")
    unreleased: int = Field(description="Flagged changes whose flags have not reached everyone.")


class Flow(Result):
    """Lead time split into stages, with where work waits (`GET /api/flow`)."""

    definition: FlowDefinition
    scope: Scope
    period: Period
    changes: int = Field(description="Changes first shipped by a counted deployment.")
    end_to_end: EndToEnd
    stages: list[Stage]
    dominant_stage: str | None
    longest_wait: str | None
    release_wait: ReleaseWait | None = Field(
        description="Null on an analytics engine, which holds no flags' history (docs/engines.md)."
    )
    waiting: Waiting
    trend: list[FlowBucket] = Field(description="Per week or month with `by`; else empty.")
    warnings: list[str]
