"""Turning user input (CLI options, query parameters) into a scope, a period and a definition.

Shared by the CLI and the HTTP API so both accept exactly the same things and say the same
thing when they do not.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from headway import definitions as defs
from headway.metrics.scope import Period, Scope, default_period
from headway.store import Store, access


class QueryError(ValueError):
    """Bad user input: the message names the option and the fix."""


class OutsideScope(Exception):
    """A read outside the teams a scoped role reaches; the message says what was asked."""


def within_teams(
    store: Store,
    teams: tuple[str, ...],
    service: str | None,
    team: str | None,
    context: str | None,
) -> str | None:
    """The team a read by a role scoped to `teams` is answered for when it names none (None
    when it names a team or service inside the scope), or `OutsideScope`."""
    if context:
        raise OutsideScope(f"ask for team={teams[0]} rather than context {context!r}")
    if team:
        if team not in teams:
            raise OutsideScope(f"team {team!r} is outside it")
        return None
    if service:
        if access.service_teams(store, [service]).get(service) not in teams:
            raise OutsideScope(f"service {service!r} is not one of its teams' services")
        return None
    if len(teams) > 1:
        raise OutsideScope(f"name one of its teams with team= ({', '.join(teams)})")
    return teams[0]


def scope_of(service: str | None, team: str | None, context: str | None) -> Scope:
    given = [(k, v) for k, v in (("service", service), ("team", team), ("context", context)) if v]
    if len(given) > 1:
        raise QueryError("give only one of service, team, context")
    return Scope(*given[0]) if given else Scope()


def parse_time(text: str, option: str, *, end: bool = False) -> datetime:
    """A date or ISO time as naive UTC; a bare date given as an end means the whole day."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise QueryError(
            f"{option} {text!r} is not a date; use YYYY-MM-DD or an ISO time like 2026-10-01T12:00:00Z"
        ) from None
    try:
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        if end and len(text) == 10:
            value += timedelta(days=1)
    except OverflowError:  # 9999-12-31 as an end, or year 1 with a positive offset
        raise QueryError(
            f"{option} {text!r} is outside the calendar; use a year from 1 to 9998"
        ) from None
    return value


def period_of(since: str | None, until: str | None, days: int = 90) -> Period:
    """The period asked for: without --until the default period's end (the end of today,
    UTC), without --since the `days` days before the end."""
    end = parse_time(until, "--until", end=True) if until else default_period(days).until
    try:
        start = parse_time(since, "--since") if since else end - timedelta(days=days)
    except OverflowError:  # an end in the first days of year 1, and no start
        raise QueryError(
            f"--until {until!r} leaves no {days} days before it; give --since too"
        ) from None
    if start >= end:
        raise QueryError(
            f"--since ({start:%Y-%m-%d %H:%M}) must be before --until ({end:%Y-%m-%d %H:%M})"
        )
    return Period(start, end)


def definition_of(store: Store, ref: str | None, *, files: bool = False) -> defs.Definition:
    """The definition `ref` names, or the active one. `files`: a path names a TOML file (the
    CLI's local user only; over HTTP a definition is a stored one or a preset)."""
    if not ref:
        return defs.active(store)
    return defs.resolve_local(store, ref) if files else defs.resolve(store, ref)


def inputs(
    store: Store,
    service: str | None,
    team: str | None,
    context: str | None,
    since: str | None,
    until: str | None,
    definition: str | None,
    *,
    files: bool = False,
) -> tuple[defs.Definition, Scope, Period]:
    """The definition, scope and period a report asks for, checked in that order."""
    return (
        definition_of(store, definition, files=files),
        scope_of(service, team, context),
        period_of(since, until),
    )
