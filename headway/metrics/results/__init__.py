"""The typed results of the metrics, their records, flow and signals: the JSON contracts.

Each model declares, in order, exactly the fields its producer writes today (`MetricSet.to_json`,
`records.*`, `FlowBreakdown.to_json`, `signals.compute`), so validating a producer's document
and serialising it again gives the same JSON. They are the API's response models and the source
of docs/metrics-json.md (`python -m headway.api.reference`). Times are ISO 8601 strings in UTC
with a `Z`, durations are seconds.

`base` holds what every result shares (the strict `Result`, scope, period, statistics); `dora`
the metric set, its records and a definition diff; `flow` and `signals` their documents. The
names are re-exported here because the API, the reference and the other result modules
(`flags`, `interpret`, `rollouts`) all build on them.
Owns: the JSON contracts of the metrics, flow, signals and definition diffs, and the strict
`Result` every other result model builds on.
May import: pydantic only; every result module of Headway imports this one.
"""

from __future__ import annotations

from headway.metrics.results.base import (
    CountStats,
    DefinitionRef,
    DurationStats,
    Number,
    Period,
    PeriodDays,
    Result,
    Scope,
    SpanStats,
)
from headway.metrics.results.dora import (
    Change,
    ChangeFailRate,
    ChangeLeadTime,
    DefinitionsDiff,
    Deployment,
    DeploymentFrequency,
    DeploymentReworkRate,
    Evidence,
    Incident,
    Levels,
    MetricSetResult,
    RecoveryTime,
    ReworkEvidence,
)
from headway.metrics.results.flow import (
    EndToEnd,
    Flow,
    FlowBucket,
    FlowDefinition,
    Queue,
    Stage,
    StageQueue,
    TrendStage,
    Waiting,
)
from headway.metrics.results.signals import (
    AiAssisted,
    AiGroup,
    AiRule,
    ApprovalStats,
    BatchSize,
    Burst,
    BusiestWeek,
    Concentration,
    ConcentrationGroup,
    DefectGroup,
    DeploymentFriction,
    EscapedDefects,
    FailureConcentration,
    IncidentThemes,
    LeadTimeVariance,
    Rework,
    ReworkBucket,
    RollbackClustering,
    Signals,
    Theme,
    VarianceBucket,
)

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
    "ReworkEvidence",
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
