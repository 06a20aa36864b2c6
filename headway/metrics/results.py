"""The typed results of the metrics, their records, flow and signals: the JSON contracts.

Each model declares, in order, exactly the fields its producer writes today (`MetricSet.to_json`,
`records.*`, `FlowBreakdown.to_json`, `signals.compute`), so validating a producer's document
and serialising it again gives the same JSON. They are the API's response models and the source
of docs/metrics-json.md (`python -m headway.api.reference`). Times are ISO 8601 strings in UTC
with a `Z`, durations are seconds.
"""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

__all__ = [
    "AiAssisted",
    "AiGroup",
    "AiRule",
    "ApprovalStats",
    "BatchSize",
    "Burst",
    "BusiestWeek",
    "Change",
    "ChangeFailRate",
    "ChangeLeadTime",
    "Concentration",
    "ConcentrationGroup",
    "CountStats",
    "DefectGroup",
    "DefinitionRef",
    "DefinitionsDiff",
    "Deployment",
    "DeploymentFrequency",
    "DeploymentFriction",
    "DeploymentReworkRate",
    "DurationStats",
    "EndToEnd",
    "EscapedDefects",
    "Evidence",
    "FailureConcentration",
    "Flow",
    "FlowBucket",
    "FlowDefinition",
    "Incident",
    "IncidentThemes",
    "LeadTimeVariance",
    "Levels",
    "MetricSetResult",
    "Number",
    "Period",
    "PeriodDays",
    "Queue",
    "RecoveryTime",
    "Result",
    "Rework",
    "ReworkBucket",
    "RollbackClustering",
    "Scope",
    "Signals",
    "SpanStats",
    "Stage",
    "StageQueue",
    "Theme",
    "TrendStage",
    "VarianceBucket",
    "Waiting",
]

# A number as the producer computed it: an int stays an int, a float a float, so a document
# passes through its model unchanged (pydantic's `float` would turn 17 into 17.0).
Number = Annotated[int | float, WithJsonSchema({"type": "number"})]


class Result(BaseModel):
    """A frozen result. A field its producer adds without declaring it here is dropped from
    the answer in production, never turned into a 500; with HEADWAY_STRICT_RESULTS set (the
    test suite sets it) it is an error instead, so every test that reads an answer catches it."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _declared_only(cls, data: Any) -> Any:
        if isinstance(data, dict) and os.environ.get("HEADWAY_STRICT_RESULTS"):
            known = set(cls.model_fields) | {f.alias for f in cls.model_fields.values() if f.alias}
            undeclared = sorted(set(data) - known)
            if undeclared:
                raise ValueError(f"{cls.__name__} does not declare {', '.join(undeclared)}")
        return data


# -- shared parts -----------------------------------------------------------------------------


class DefinitionRef(Result):
    name: str = Field(description="The metric definition's name.")
    version: int = Field(description="Its version; a change to a definition is a new version.")


class Scope(Result):
    kind: str = Field(description="`service`, `team`, `context` or `organisation`.")
    name: str | None = Field(description="The service, team or context; null for the organisation.")
    services: list[str] = Field(description="The services inside the scope.")
    contexts: list[str] = Field(description="The operating contexts of those services.")


class Period(Result):
    since: str = Field(description="Start, inclusive (ISO 8601, UTC).")
    until: str = Field(description="End, exclusive (ISO 8601, UTC).")


class PeriodDays(Period):
    days: Number = Field(description="The period's length in days.")


# -- metrics ----------------------------------------------------------------------------------


class Levels(Result):
    year: str = Field(description="The DORA report year whose levels are used.")
    note: str | None = Field(description="Why there are no levels (2025), else null.")


class DeploymentFrequency(Result):
    deployments: int
    days: Number
    per_day: Number
    per_week: Number
    deploy_days: int = Field(description="Days with at least one deployment.")
    deploy_days_per_week_median: Number | None = Field(
        description="Median over the period's weeks of the days with a deployment (DevLake's "
        "figure); null in a trend bucket or without deployments."
    )
    level: str | None = Field(description="`elite`, `high`, `medium`, `low` or null.")


class ChangeLeadTime(Result):
    changes: int
    median_s: Number | None
    p75_s: Number | None
    p90_s: Number | None
    mean_s: Number | None
    level: str | None
    negative: int = Field(
        description="Changes left out because their lead time ran backwards (clock skew)."
    )
    notes: list[str] = Field(description="What was left out and why, in words.")


class ChangeFailRate(Result):
    deployments: int
    failed: int
    rate: Number | None = Field(description="A fraction (0.6 = 60%); null without deployments.")
    level: str | None


class RecoveryTime(Result):
    recoveries: int
    unrecovered: int = Field(description="Failed deployments with no recovery evidence yet.")
    median_s: Number | None
    p75_s: Number | None
    p90_s: Number | None
    mean_s: Number | None
    level: str | None
    negative: int = Field(description="Recoveries left out because they ran backwards.")
    notes: list[str] = Field(description="What was left out and why, in words.")


class DeploymentReworkRate(Result):
    deployments: int
    rework: int
    rate: Number | None


class MetricSetResult(Result):
    """The five DORA metrics for a scope and period (`GET /api/metrics`, `headway metrics`)."""

    definition: DefinitionRef
    scope: Scope
    period: PeriodDays
    levels: Levels
    deployment_frequency: DeploymentFrequency
    change_lead_time: ChangeLeadTime
    change_fail_rate: ChangeFailRate
    failed_deployment_recovery_time: RecoveryTime
    deployment_rework_rate: DeploymentReworkRate
    warnings: list[str]
    trend: list[MetricSetResult] | None = Field(
        None, description="The same object per week or month; present only with `by`."
    )


# -- records ----------------------------------------------------------------------------------


class Evidence(Result):
    rule: str = Field(description="The failure rule that matched.")
    record: str | None = Field(description="The record that is the evidence.")
    fixed_at: str | None = Field(description="When the failure was fixed, if it was.")


class Deployment(Result):
    """A counted deployment with the facts derived from it."""

    id: str
    service: str
    environment: str | None
    kind: str | None
    status: str | None
    version: str | None
    sha: str | None
    started_at: str | None
    finished_at: str | None
    failed: bool
    failure_reason: str | None
    evidence: list[Evidence]
    recovered_at: str | None
    recovers: str | None = Field(description="The failed deployment this one fixed.")
    changes: list[str] = Field(description="Ids of the changes shipped for the first time.")
    rework: bool


class Change(Result):
    """A change merged in the period, with the deployment that shipped it."""

    id: str
    service: str
    number: int | None
    title: str | None
    author: str | None
    first_commit_at: str | None
    opened_at: str | None
    merged_at: str | None
    is_revert: bool
    reverts: str | None
    additions: int | None
    deletions: int | None
    files: int | None
    deployment_id: str | None
    deployed_at: str | None
    lead_time_s: Number | None = Field(description="Under the definition's lead-time start.")


class Incident(Result):
    """An incident opened in the period, with the deployment blamed for it."""

    id: str
    service: str
    title: str | None
    severity: str | None
    opened_at: str | None
    acknowledged_at: str | None
    resolved_at: str | None
    deployment_id: str | None
    attribution: str | None = Field(description="`named`, `window` or `none`.")
    labels: list[str]
    attribution_rule: str | None = Field(description="The attribution rule in words.")


# -- statistics -------------------------------------------------------------------------------


class DurationStats(Result):
    """n and the distribution of durations in seconds, each withheld (null) with a note when
    there are too few to say it."""

    n: int
    median_s: Number | None
    p25_s: Number | None
    p75_s: Number | None
    p90_s: Number | None
    iqr_s: Number | None
    mean_s: Number | None
    notes: list[str]


class SpanStats(DurationStats):
    """Durations measured from two events' times: a span whose end came first is left out."""

    negative: int = Field(description="Spans left out because they ran backwards.")


class CountStats(Result):
    """The same statistics over counts (changes, lines) rather than seconds."""

    n: int
    median: Number | None
    p25: Number | None
    p75: Number | None
    p90: Number | None
    iqr: Number | None
    mean: Number | None
    notes: list[str]


# -- flow -------------------------------------------------------------------------------------


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
    waiting: Waiting
    trend: list[FlowBucket] = Field(description="Per week or month with `by`; else empty.")
    warnings: list[str]


# -- signals ----------------------------------------------------------------------------------


class ApprovalStats(SpanStats):
    rejected: int


class BatchSize(Result):
    deployments: int
    changes_per_deployment: CountStats
    lines_per_deployment: CountStats
    empty: int
    empty_share: Number | None
    trivial: int
    trivial_share: Number | None
    trivial_lines: int = Field(description="At most this many lines is a trivial deployment.")
    empty_deployments: list[str] = Field(description="Up to 50 ids.")


class VarianceBucket(Result):
    since: str
    changes: int
    median_s: Number | None
    iqr_s: Number | None
    notes: list[str]


class LeadTimeVariance(SpanStats):
    iqr_over_median: Number | None
    by: str
    trend: list[VarianceBucket]


class DeploymentFriction(Result):
    deployments: int
    failed_runs_per_deployment: Number | None
    deployments_with_failed_runs: int
    pipeline_runs: int
    duration: SpanStats
    manual_gates_per_deployment: Number | None
    manual_triggers: int


class BusiestWeek(Result):
    week: str
    rollbacks: int


class Burst(Result):
    service: str
    count: int
    since: str
    until: str
    rollbacks: list[str]


class RollbackClustering(Result):
    rollbacks: int
    by_service: dict[str, int]
    busiest_week: BusiestWeek | None
    bursts: list[Burst]
    burst_rule: str


class ConcentrationGroup(Result):
    value: str | int = Field(description="The group: a name, a weekday, an hour or a size.")
    deployments: int
    hits: int
    rate: Number | None
    share_of_hits: Number | None


class Concentration(Result):
    index: Number | None
    groups: list[ConcentrationGroup]
    note: str | None


class FailureConcentration(Result):
    failures: int
    deployments: int
    by: dict[str, Concentration] = Field(description="By service, team, weekday, hour, size.")
    most_concentrated: str | None
    failed_deployments: list[str] = Field(description="Up to 100 ids.")


class DefectGroup(Result):
    value: str
    deployments: int
    defects: int
    per_deployment: Number | None
    share_of_defects: Number | None


class EscapedDefects(Result):
    defects: int
    per_deployment: Number | None
    index: Number | None
    note: str | None
    by_service: list[DefectGroup]
    by_severity: dict[str, int]
    by_week: dict[str, int]
    records: list[str] = Field(description="Up to 100 ids.")


class Theme(Result):
    theme: str
    incidents: int
    first_half: int
    second_half: int
    attributed: int
    records: list[str]
    share: Number | None


class IncidentThemes(Result):
    incidents: int
    attributed: int
    themes: list[Theme]


class ReworkBucket(Result):
    since: str
    deployments: int
    rework: int
    rate: Number | None
    failed: int


class Rework(Result):
    deployments: int
    rework: int
    rate: Number | None
    by: str
    trend: list[ReworkBucket]


class AiRule(Result):
    labels: list[str]
    authors: list[str]
    trailers: list[str]


class AiGroup(Result):
    changes: int
    lines: CountStats
    lead_time: SpanStats
    failure_rate: Number | None
    rework_rate: Number | None
    note: str | None


class AiAssisted(Result):
    rule: AiRule
    ai_assisted: AiGroup
    other: AiGroup
    records: list[str] = Field(description="Up to 100 ids of AI-assisted changes.")


class Signals(Result):
    """Friction signals for a scope and period (`GET /api/signals`)."""

    definition: DefinitionRef
    scope: Scope
    period: Period
    approval_latency: dict[str, ApprovalStats] = Field(description="By approval kind.")
    batch_size: BatchSize
    lead_time_variance: LeadTimeVariance
    deployment_friction: DeploymentFriction
    rollback_clustering: RollbackClustering
    failure_concentration: FailureConcentration
    escaped_defects: EscapedDefects
    incident_themes: IncidentThemes
    rework: Rework
    ai_assisted: AiAssisted
    warnings: list[str]


# -- definitions diff ---------------------------------------------------------------------------


class RuleChange(Result):
    rule: str = Field(description="`section.field` of the definition, e.g. `failure.rules`.")
    a: Any = Field(description="Its value in the first definition.")
    b: Any = Field(description="Its value in the second.")


class NumberChange(Result):
    number: str = Field(description="What is compared, e.g. `change fail rate`.")
    a: Number | None = Field(description="Under the first definition.")
    b: Number | None = Field(description="Under the second.")
    delta: Number | None = Field(description="b - a; null when either is missing.")


class RuleMove(Result):
    number: str
    a: Number | None = Field(description="Under the first definition.")
    with_rule: Number | None = Field(description="Under the first with only this rule changed.")
    delta: Number | None


class RuleEffect(Result):
    rule: str = Field(description="The rule changed on its own.")
    value: Any = Field(description="The second definition's value of it.")
    moves: list[RuleMove] = Field(description="The numbers that rule alone moves.")


class DiffResults(Result):
    a: MetricSetResult
    b: MetricSetResult


class DefinitionsDiff(Result):
    """`GET /api/definitions/diff`: the same scope and period under two definitions."""

    a: DefinitionRef
    b: DefinitionRef
    scope: Scope
    period: PeriodDays
    rules: list[RuleChange] = Field(description="The rules that differ.")
    numbers: list[NumberChange] = Field(description="Each number under both.")
    by_rule: list[RuleEffect] = Field(description="How far each differing rule moves each number.")
    warnings: list[str]
    results: DiffResults = Field(description="Both whole metric sets.")
