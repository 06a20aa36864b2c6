"""The typed results of the developer confidence pulse: its results per team and month
(`GET /api/pulse`), a new survey link (`POST /api/pulse/links`) and the review's "Developer
confidence" section. Each declares exactly the fields its producer writes (`pulse.results`,
`pulse_links.create`, `review_confidence.section`), in the same order.
"""

from __future__ import annotations

from pydantic import Field

from headway.metrics.results import Number, Result

__all__ = [
    "Confidence",
    "ConfidenceTeam",
    "PulseLink",
    "PulseMeans",
    "PulseMonth",
    "PulseQuestion",
    "PulseResults",
    "PulseScale",
    "PulseTeam",
    "RolloutRates",
    "TrendPoint",
]


class PulseQuestion(Result):
    key: str = Field(
        description="The answer's field: ship_safely, recover_quickly or release_process."
    )
    text: str = Field(description="The statement people rate from 1 (disagree) to 5 (agree).")


class PulseScale(Result):
    lowest: int
    highest: int


class PulseMeans(Result):
    ship_safely: Number
    recover_quickly: Number
    release_process: Number


class PulseMonth(Result):
    """One team's month. With fewer than `min_answers` answers it shows no count and no
    score, only `reason`, so nobody's answer can be read back."""

    month: str = Field(description="YYYY-MM.")
    answers: int | None = Field(description="How many answered; null when too few.")
    means: PulseMeans | None = Field(description="The mean score of each question (2 decimals).")
    overall: Number | None = Field(description="The mean of all three questions' scores.")
    reason: str | None = Field(description="Why no score is shown (too few answers), or null.")


class PulseTeam(Result):
    team: str
    months: list[PulseMonth] = Field(
        description="Each month from the team's first answer to its last: the trend."
    )


class PulseResults(Result):
    """`GET /api/pulse`: the developer confidence pulse per team and month."""

    questions: list[PulseQuestion]
    scale: PulseScale
    min_answers: int = Field(description="Fewer answers than this in a month: no scores shown.")
    teams: list[PulseTeam]


class PulseLink(Result):
    """`POST /api/pulse/links`: a new survey link; its code is shown this once."""

    team: str
    code: str
    path: str = Field(description="/pulse/CODE on this server: anyone with it may answer once.")
    expires_at: str
    url: str | None = Field(
        None, description="The link as this server was reached; null when made on the store."
    )


class TrendPoint(Result):
    month: str
    overall: Number | None


class RolloutRates(Result):
    finished: int = Field(description="Rollouts of the team's services that finished this month.")
    completion_rate: Number | None
    abandon_rate: Number | None
    rollback_rate: Number | None


class ConfidenceTeam(Result):
    team: str
    pulse: PulseMonth = Field(description="The month's pulse.")
    trend: list[TrendPoint] = Field(description="The overall mean in each month of the review.")
    change: Number | None = Field(
        description="The overall mean's change since the last earlier month with scores."
    )
    deployments: int
    deployments_per_week: Number | None
    rollouts: RolloutRates


class Confidence(Result):
    """The review's "Developer confidence" section: per team, the pulse beside deployment
    frequency and how rollouts ended, in the same month."""

    questions: list[PulseQuestion]
    min_answers: int
    teams: list[ConfidenceTeam]
