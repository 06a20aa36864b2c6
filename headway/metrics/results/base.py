"""What every result shares: the strict base model, numbers, scope, period and statistics."""

from __future__ import annotations

from pydantic import Field

from headway.result import Number as Number
from headway.result import Result as Result

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
