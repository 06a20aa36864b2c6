"""The typed results of interpretation: notes, detector findings and the monthly review.

Like `headway.metrics.results`, each model declares exactly the fields its producer writes
(`notes.add`, `detectors.detect`, `review.build`), in the same order.
"""

from __future__ import annotations

from pydantic import Field

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
    "DefinitionChange",
    "FindingResult",
    "FindingScope",
    "Findings",
    "FindingsEvidence",
    "Measure",
    "NotAssessed",
    "Note",
    "NotedFlow",
    "NotedSignals",
    "Question",
    "Review",
    "ReviewDefinition",
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


class FindingsEvidence(Result):
    measures: list[Measure]
    records: list[str] = Field(description="Up to 50 record ids.")
    records_total: int
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


class NotAssessed(Result):
    team: str
    reason: str


class Findings(Result):
    """Detector findings for a month against the two before (`GET /api/findings`)."""

    scope: FindingScope
    current: Period
    baseline: Period
    definition: DefinitionRef
    findings: list[FindingResult]
    not_assessed: list[NotAssessed]


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
    questions: list[Question]
