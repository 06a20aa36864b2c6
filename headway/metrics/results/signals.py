"""The friction signals: approvals, batch size, variance, rollbacks, failures, defects, rework."""

from __future__ import annotations

from pydantic import Field

from headway.metrics.results.base import (
    CountStats,
    DefinitionRef,
    Number,
    Period,
    Result,
    Scope,
    SpanStats,
)


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
    failed_runs_per_deployment: Number | None = Field(
        description="Null when no pipeline run is linked to the deployments (never 0)."
    )
    failed_runs_reason: str | None = Field(description="Why the rate above is null, in words.")
    deployments_with_failed_runs: int
    pipeline_runs: int
    duration: SpanStats
    manual_gates_per_deployment: Number | None = Field(
        description="Null when the scope records no review or approval in the period."
    )
    manual_gates_reason: str | None = Field(description="Why the rate above is null.")
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
    reason: str | None = Field(
        description="Why `defects` is no data rather than a count: no defect was ever "
        "recorded for the scope's services; null when defects are recorded."
    )
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
    reason: str | None = Field(
        description="Why `incidents` is no data rather than a count: no incident was ever "
        "recorded for the scope's services; null when incidents are recorded."
    )
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
