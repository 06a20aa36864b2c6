"""The metric set (the five keys and their levels), the records behind it, and a definition diff."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from headway.metrics.results.base import DefinitionRef, Number, PeriodDays, Result, Scope

# -- metrics ----------------------------------------------------------------------------------


class Levels(Result):
    year: str = Field(description="The DORA report year whose levels are used.")
    source: str = Field(description="The report the year's level table comes from.")
    note: str | None = Field(description="Why there are no levels (2025), else null.")


# Why a figure or its level is null: the same words on every figure.
Reason = Annotated[
    str | None,
    Field(
        description="Why the value is null (no records behind it), in words; null otherwise. "
        "Missing is never shown as 0."
    ),
]
LevelReason = Annotated[
    str | None,
    Field(
        description='Why `level` is null although the value is not: "too few to rate: N '
        'counted deployments; a level needs at least 10"; null otherwise.'
    ),
]


class DeploymentFrequency(Result):
    deployments: int
    days: Number
    per_day: Number | None = Field(description="Null without counted deployments.")
    per_week: Number | None = Field(description="Null without counted deployments.")
    deploy_days: int = Field(description="Days with at least one deployment.")
    deploy_days_per_week_median: Number | None = Field(
        description="Median over the period's weeks of the days with a deployment (DevLake's "
        "figure); null in a trend bucket or without deployments."
    )
    level: str | None = Field(description="`elite`, `high`, `medium`, `low` or null.")
    reason: Reason
    level_reason: LevelReason


class ChangeLeadTime(Result):
    changes: int
    median_s: Number | None
    p75_s: Number | None
    p90_s: Number | None
    mean_s: Number | None
    level: str | None
    reason: Reason
    level_reason: LevelReason
    negative: int = Field(
        description="Changes left out because their lead time ran backwards (clock skew)."
    )
    notes: list[str] = Field(description="What was left out and why, in words.")


class ChangeFailRate(Result):
    deployments: int
    failed: int
    rate: Number | None = Field(description="A fraction (0.6 = 60%); null without deployments.")
    level: str | None
    reason: Reason
    level_reason: LevelReason


class RecoveryTime(Result):
    recoveries: int
    unrecovered: int = Field(description="Failed deployments with no recovery evidence yet.")
    median_s: Number | None
    p75_s: Number | None
    p90_s: Number | None
    mean_s: Number | None
    level: str | None
    reason: Reason
    level_reason: LevelReason
    negative: int = Field(description="Recoveries left out because they ran backwards.")
    notes: list[str] = Field(description="What was left out and why, in words.")


class DeploymentReworkRate(Result):
    deployments: int
    rework: int
    rate: Number | None
    reason: Reason


class ReleaseSpan(Result):
    changes: int = Field(description="Flagged changes whose flags reached everyone.")
    median_s: Number | None
    p75_s: Number | None
    p90_s: Number | None
    mean_s: Number | None


class ReleaseLeadTime(Result):
    """Beside the five keys: from a change's start to the moment it reached every user."""

    changes: int = Field(description="Shipped changes that reached everyone (measured).")
    flagged: int = Field(description="Shipped changes whose pull request added or used a flag.")
    unreleased: int = Field(
        description="Flagged changes shipped but not yet served to everyone: counted, not measured."
    )
    median_s: Number | None
    p75_s: Number | None
    p90_s: Number | None
    mean_s: Number | None
    deploy_to_release: ReleaseSpan = Field(
        description="From the deployment to the flag reaching everyone, for flagged changes."
    )
    reason: Reason
    negative: int = Field(
        description="Changes left out because their lead time ran backwards (clock skew)."
    )


class ThroughputAnswer(Result):
    metric: str = Field(description="The throughput figure answered.")
    answer: int = Field(description="Its answer on the 2025 survey's scale: 1 slowest, 6 fastest.")
    words: str = Field(description="That answer's words in the survey.")


class ProfileThroughput(Result):
    score: Number | None = Field(
        description="The mean of `answers` (1 to `of`); null without counted deployments."
    )
    of: int = Field(description="The scale's top answer (6).")
    side: str | None = Field(
        description="`high` (a mean of 4 or more), `low`, or null when not placed."
    )
    answers: list[ThroughputAnswer]
    missing: list[str] = Field(description="Throughput figures with no value to answer with.")


class ProfileInstability(Result):
    score: Number | None = Field(
        description="The mean of the two rates (a fraction); null without deployments."
    )
    side: str | None = Field(description="`high` (over 0.15), `low`, or null when not placed.")
    rates: dict[str, Number] = Field(description="The rates averaged, by metric.")


class ProfileMatch(Result):
    key: str
    name: str = Field(description="The profile's name in the report.")
    summary: str


class Profile(Result):
    """The 2025 DORA report's view: the two factors, and the team profiles they fit."""

    source: str = Field(description="The report the profiles come from.")
    throughput: ProfileThroughput
    instability: ProfileInstability
    consistent_with: list[ProfileMatch] = Field(
        description="The report's profiles whose delivery signature matches: what the records "
        "allow, not a classification, since the six measures in `unmeasured` decide it."
    )
    unmeasured: list[str] = Field(
        description="The report's profile measures that delivery records do not hold."
    )
    reason: str | None = Field(description="Why no profile is listed; null when placed.")


class MetricSetResult(Result):
    """The five DORA metrics for a scope and period (`GET /api/metrics`, `headway metrics`)."""

    definition: DefinitionRef
    scope: Scope
    period: PeriodDays
    levels: Levels
    factors: dict[str, list[str]] = Field(
        description="The metrics by DORA's two factors: `throughput` (change lead time, "
        "deployment frequency, failed deployment recovery time) and `instability` (change "
        "fail rate, deployment rework rate)."
    )
    deployment_frequency: DeploymentFrequency
    change_lead_time: ChangeLeadTime
    change_fail_rate: ChangeFailRate
    failed_deployment_recovery_time: RecoveryTime
    deployment_rework_rate: DeploymentReworkRate
    release_lead_time: ReleaseLeadTime | None = Field(
        None,
        description="Release lead time (docs/definitions.md), beside the five; absent in a "
        "trend's buckets.",
    )
    profile: Profile = Field(
        description="The 2025 report's view beside the levels (docs/definitions.md, 2025 report)."
    )
    warnings: list[str]
    trend: list[MetricSetResult] | None = Field(
        None, description="The same object per week or month; present only with `by`."
    )


# -- records ----------------------------------------------------------------------------------


class Evidence(Result):
    rule: str = Field(description="The failure rule that matched.")
    record: str | None = Field(description="The record that is the evidence.")
    fixed_at: str | None = Field(description="When the failure was fixed, if it was.")
    fixed_by: str | None = Field(
        description="The record that fixed it: the incident resolved, the rollback or hotfix, "
        "the deployment shipping the revert, the next successful deployment; null while unfixed."
    )


class ReworkEvidence(Result):
    rule: str = Field(description="`rollback`, `hotfix`, `repair` or `revert`.")
    record: str = Field(
        description="The record that makes the deployment rework: the failed deployment it "
        "repairs, or the revert change it ships."
    )
    repairs: str | None = Field(description="The deployment whose change it repairs.")


class Deployment(Result):
    """A counted deployment with the facts derived from it."""

    id: str
    service: str
    environment: str | None
    kind: str | None
    status: str | None
    version: str | None
    sha: str | None
    url: str | None = Field(
        description="The commit it deployed on GitHub or GitLab (the host that sent it, else "
        "the one its service's repository was seen on); null when the store knows no host, "
        "repository or sha."
    )
    started_at: str | None
    finished_at: str | None
    failed: bool
    failure_reason: str | None
    evidence: list[Evidence]
    recovered_at: str | None
    recovered_by: str | None = Field(
        description="The record of the first fix (`fixed_by` of the earliest evidence)."
    )
    recovers: str | None = Field(description="The failed deployment this one fixed.")
    changes: list[str] = Field(description="Ids of the changes shipped for the first time.")
    rework: bool
    rework_evidence: list[ReworkEvidence] = Field(
        description="Why it is rework, naming the records; empty when it is not."
    )


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
    url: str | None = Field(
        description="Its pull request (GitHub) or merge request (GitLab), or its commit when it "
        "was a direct commit or a git import read its number from a message; null when the "
        "store knows no host for its repository."
    )


class Incident(Result):
    """An incident opened in the period, with the deployment blamed for it."""

    id: str
    service: str
    title: str | None
    severity: str | None
    opened_at: str | None
    acknowledged_at: str | None
    resolved_at: str | None
    deployment_id: str | None = Field(
        description="The deployment the definition blames, as the metrics blame it; null: none."
    )
    attribution: str | None = Field(
        description="`named` (the incident names it) or `window` (the latest deployment "
        "before it, within the definition's window if it has one); null when none is blamed."
    )
    labels: list[str]
    attribution_rule: str | None = Field(
        description="The definition's attribution rule in words, with its window."
    )
    url: str | None = Field(
        description="Where its source shows it (PagerDuty sends it), when that is a plain "
        "https address; null otherwise."
    )


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
