"""What a metric is computed over: a scope (a service, team, context or the organisation), a
period, and the weekly or monthly buckets of a trend.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from headway.metrics.queries import scope as queries
from headway.names import UnknownName
from headway.store import Store
from headway.values import EARLIEST, LATEST

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


def default_period(store: Store, days: int = 90) -> Period:
    """The `days` days up to the end of the day of the latest deployment (or today).

    Only deployments no writer would refuse count (1970 to 2100): one planted in year 9999
    would otherwise put every default period past the calendar."""
    latest = queries.latest_deployment(
        store, EARLIEST.replace(tzinfo=None), LATEST.replace(tzinfo=None)
    )
    end = latest or datetime.now(UTC).replace(tzinfo=None)
    until = datetime(end.year, end.month, end.day) + timedelta(days=1)
    return Period(until - timedelta(days=days), until)


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
