"""The typed results of interpretation: notes, detector findings and the monthly review.

Like `headway.metrics.results`, each model declares exactly the fields its producer writes
(`notes.add`, `findings.detect`, `review.build`), in the same order.
"""

from __future__ import annotations

from pydantic import Field

from headway.interpret.pulse_results import Confidence
from headway.metrics.results import (
    DefinitionRef,
    Flow,
    MetricSetResult,
    Number,
    Period,
    Result,
    Signals,
)

__all__ = [
    "Cluster",
    "DefinitionChange",
    "FindingResult",
    "FindingScope",
    "Findings",
    "FindingsEvidence",
    "GateCost",
    "Measure",
    "NotAssessed",
    "Note",
    "NotedFlow",
    "NotedSignals",
    "Question",
    "RecoveryGroup",
    "RecoverySplit",
    "Review",
    "ReviewDefinition",
    "SeriesPoint",
    "SizeGroup",
    "SlicingEvidence",
]


class Note(Result):
    """An interpretation note: what the numbers do not show, on a scope and period."""

    id: str
    scope: str = Field(description="`organisation`, `service:NAME`, `team:NAME` or `context:NAME`.")
    period_start: str
    period_end: str
    kind: str
    text: str
    author: str
    created_at: str


class NotedFlow(Flow):
    """`GET /api/flow`: the flow breakdown with the notes on its scope."""

    notes: list[Note]


class NotedSignals(Signals):
    """`GET /api/signals`: the signals with the notes on their scope."""

    notes: list[Note]


class FindingScope(Result):
    kind: str
    name: str | None


class Measure(Result):
    """One measure behind a finding; which fields it has depends on the detector."""

    measure: str
    before: Number | None = None
    after: Number | None = None
    relative_change: Number | None = None
    unit: str | None = None
    basis: str | None = None
    contexts: list[str] | None = None
    deployments_per_week: Number | None = None
    level: str | None = None
    change_fail_rate: Number | None = None


class DefinitionChange(Result):
    from_: str = Field(alias="from")
    to: str
    at: str
    author: str | None
    reason: str | None


class SeriesPoint(Result):
    """One month of the series behind a whole-window finding; which values it has depends on
    the detector."""

    month: str
    deployments: Number | None = None
    lead_median_s: Number | None = None
    change_fail_rate: Number | None = None
    defects_per_deployment: Number | None = None
    median_lines: Number | None = None


class SizeGroup(Result):
    """Releases above or below the team's own median size, side by side."""

    group: str
    deployments: int
    failed: int
    rate: Number | None
    median_lines: Number


class SlicingEvidence(Result):
    """One kind of slicing's own evidence that held: its share now and before, its count and
    example deployments (and, for split series, how many and one series' change ids)."""

    kind: str = Field(description="`trivial`, `nothing_visible` or `split_series`.")
    described: str
    before: Number | None
    after: Number | None
    deployments: int
    of: str = Field(description="What the shares are of.")
    examples: list[str]
    series: int | None = None
    example_series: list[str] | None = None


class GateCost(Result):
    """One approval kind over the window: its count, median wait and the change-hours it held."""

    kind: str
    approvals: int
    held_s: Number
    median_s: Number | None
    share_of_lead: Number | None


class RecoveryGroup(Result):
    recoveries: int
    median_s: Number | None


class RecoverySplit(Result):
    with_rollback: RecoveryGroup
    without_rollback: RecoveryGroup


class Cluster(Result):
    by: str = Field(description="`service`, `change type`, `month` or `weekday`.")
    value: str


class FindingsEvidence(Result):
    measures: list[Measure]
    records: list[str] = Field(description="Up to 50 record ids.")
    records_total: int
    series: list[SeriesPoint] | None = Field(
        None, description="A whole-window finding: the monthly series it was judged on."
    )
    groups: list[SizeGroup] | None = Field(
        None, description="The batch-size verdict: large and small releases side by side."
    )
    slicing_evidence: list[SlicingEvidence] | None = Field(
        None, description="Change slicing: each kind of its own evidence that held."
    )
    gates: list[GateCost] | None = Field(
        None, description="A gate's cost: every approval kind with events, costliest first."
    )
    cluster: Cluster | None = Field(None, description="Where failures cluster.")
    contexts: dict[str, list[str]] | None = Field(
        None, description="The context comparison: each team's operating contexts."
    )
    definition_change: DefinitionChange | None = Field(
        None, description="A redefinition: which definition replaced which, when and why."
    )


class FindingResult(Result):
    detector: str
    title: str
    scope: FindingScope
    statement: str
    evidence: FindingsEvidence
    confidence: str = Field(description="`high`, `medium` or `low`.")
    confidence_basis: str
    question: str
    kind: str = Field(description="`problem`, or `positive` for an improvement worth keeping.")
    remedy: str = Field(description="What to do about it, in the founding documents' terms.")
    since: str | None = Field(None, description="A trend: the month (YYYY-MM) it runs from.")


class NotAssessed(Result):
    team: str
    reason: str


class Findings(Result):
    """Detector findings: a month against the two before, and the six months up to it
    (`GET /api/findings`)."""

    scope: FindingScope
    current: Period
    baseline: Period
    window: Period = Field(description="The whole window the trend and cluster diagnoses read.")
    definition: DefinitionRef
    findings: list[FindingResult]
    not_assessed: list[NotAssessed]
    gates: list[GateCost] = Field(
        description="Every approval kind with events in the window, however few, costliest "
        "(most change-hours held) first."
    )
    recovery: RecoverySplit = Field(
        description="Recoveries in the window with a rollback or flag change against without."
    )


class ReviewDefinition(DefinitionRef):
    description: str


class Question(Result):
    question: str
    evidence: list[str]
    answer_hint: str


class Review(Result):
    """The monthly review document (`GET /api/review`)."""

    title: str
    scope: FindingScope
    period: Period
    definition: ReviewDefinition
    metrics: MetricSetResult
    trend: list[MetricSetResult] = Field(description="The months up to this one.")
    contexts: list[MetricSetResult] = Field(description="Each operating context in the scope.")
    flow: Flow
    signals: Signals
    findings: Findings
    notes: list[Note]
    confidence: Confidence = Field(
        description="Developer confidence: the pulse per team beside its delivery evidence."
    )
    questions: list[Question]
