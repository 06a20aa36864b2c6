"""What a metric is computed over: a scope (a service, team, context or the organisation), a
period, and the weekly or monthly buckets of a trend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from headway import config
from headway.metrics.queries import scope as queries
from headway.names import UnknownName
from headway.store import Store

SCOPE_KINDS = ("service", "team", "context", "organisation")


class ScopeError(ValueError):
    pass


class UnknownScope(ScopeError, UnknownName):
    """A service, team or context name the store does not know."""


@dataclass(frozen=True)
class Scope:
    kind: str = "organisation"
    name: str | None = None

    def describe(self) -> str:
        return (
            "the whole organisation" if self.kind == "organisation" else f"{self.kind} {self.name}"
        )


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime  # exclusive

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / 86400.0


def iso(value: datetime) -> str:
    return value.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def services_in(store: Store, scope: Scope) -> list[tuple[str, str]]:
    """(service, context) pairs in a scope; an unknown name is an UnknownScope error."""
    if scope.kind not in SCOPE_KINDS:
        raise ScopeError(f"unknown scope kind {scope.kind!r}; use one of {', '.join(SCOPE_KINDS)}")
    known = queries.known(store)
    if scope.kind == "organisation":
        return [(n, c) for n, _, c in known]
    column = {"service": 0, "team": 1, "context": 2}[scope.kind]
    chosen = [(r[0], r[2]) for r in known if r[column] == scope.name]
    if not chosen:
        raise UnknownScope(
            f"no {scope.kind} named {scope.name!r}",
            f"`headway metrics --each {scope.kind}` (GET /api/metrics?each={scope.kind}) "
            f"shows every {scope.kind} with data",
            f"known {scope.kind}s",
            {r[column] for r in known},
        )
    return chosen


def default_period(days: int = 90, now: datetime | None = None) -> Period:
    """The `days` whole days up to the end of today (UTC), today being `now` or the clock
    (`config.now`, which HEADWAY_NOW can fix). Every report without --since/--until uses it,
    whatever else the store holds: a record written elsewhere never moves a scope's window."""
    today = now or config.now()
    until = datetime(today.year, today.month, today.day) + timedelta(days=1)
    return Period(until - timedelta(days=days), until)


def no_deployments_note(
    scope: Scope, period: Period, latest: datetime | None, days: int = 90
) -> str:
    """Why a scope's figures are empty, and the window that shows its latest deployment."""
    last_day = (period.until - timedelta(microseconds=1)).date()
    return (
        f"{scope.describe()} has no counted deployments between {period.since:%Y-%m-%d} and "
        f"{last_day}. {window_hint(latest, days)}"
    )


def window_hint(latest: datetime | None, days: int = 90) -> str:
    """Where a scope's data is: its latest counted deployment and the options that show the
    `days` days up to it, or how to get deployments when it has none."""
    if latest is None:
        return (
            "It has no counted deployments at all: import some (a git import makes one per "
            "release tag) or send deployment events (docs/webhooks.md)."
        )
    end = latest.date()
    start = end - timedelta(days=days - 1)
    return (
        f"Its latest counted deployment finished on {end}: --since {start} --until {end} "
        f"(since={start}&until={end} over HTTP) shows the {days} days up to it."
    )


def scope_keys(store: Store, kind: str, names: list[str]) -> dict[str, str]:
    rows = {r[0]: r for r in queries.declared(store)}
    index = {"service": 0, "team": 1, "context": 2}[kind]
    return {
        n: (
            rows[n][index]
            if n in rows
            else ("(no team)" if kind == "team" else n if kind == "service" else "(no context)")
        )
        for n in names
    }


def bucket_starts(period: Period, by: str) -> list[datetime]:
    start = _truncate(period.since, by)
    out = []
    while start < period.until:
        out.append(start)
        start = next_start(start, by)
    return out


def _truncate(value: datetime, by: str) -> datetime:
    day = datetime(value.year, value.month, value.day)
    if by == "week":
        return day - timedelta(days=day.weekday())
    if by == "month":
        return datetime(value.year, value.month, 1)
    raise ScopeError(f"--by must be week or month, not {by!r}")


def next_start(start: datetime, by: str) -> datetime:
    if by == "week":
        return start + timedelta(days=7)
    return datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
