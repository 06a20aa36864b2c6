"""When a scheduled flag change runs: a wall time and a time zone, or an instant with its
offset, read into one UTC instant, refusing what names no single instant.

Pure: `now` is given. A wall time the zone skips (the hour clocks jump over in spring) or
passes twice (the hour they repeat in autumn) is refused with the times that do exist, never
moved silently: a change meant for 02:30 that runs at 03:30, or an hour before the person
meant, is the surprise a schedule exists to avoid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from headway.flags.model import ConfigError, Issue

__all__ = ["MAX_AHEAD", "Instant", "local_text", "parse_instant", "zone_of"]

#: The furthest ahead a change may be scheduled: further is a typo more often than a plan.
MAX_AHEAD = timedelta(days=366 * 5)
# A date, a time to the minute (seconds and fractions optional), and maybe an offset.
_WHEN = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:[Zz]|[+-]\d{2}:?\d{2})?"
)
_OFFSET = re.compile(r"[+-]\d{2}:\d{2}")
_EXAMPLE = "e.g. 2026-12-08 09:00 with tz Europe/Paris, or 2026-12-08T09:00+01:00"


@dataclass(frozen=True, slots=True)
class Instant:
    """When a change runs: `at` in UTC, and the zone it was given in (an IANA name, or an
    offset such as `+01:00`) to show it back in."""

    at: datetime
    zone: str


@lru_cache(maxsize=1)
def _zone_names() -> frozenset[str]:
    # `localtime` names the server's own zone, which a person elsewhere cannot know.
    return frozenset(available_timezones() - {"localtime"})


def zone_of(name: str) -> tzinfo:
    """The zone a stored name means: an IANA name, or a fixed offset such as `+01:00`."""
    if _OFFSET.fullmatch(name):
        sign = -1 if name[0] == "-" else 1
        return timezone(sign * timedelta(hours=int(name[1:3]), minutes=int(name[4:6])))
    return ZoneInfo(name)


def local_text(at: datetime, zone: str) -> str:
    """`at` as the wall time of `zone`, with the zone: `2026-12-08 09:00 Europe/Paris` (in
    UTC should this host's time zone database not know a zone stored by another)."""
    try:
        local = at.astimezone(zone_of(zone))
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError
        local, zone = at.astimezone(UTC), "UTC"
    shown = "%Y-%m-%d %H:%M:%S" if local.second or local.microsecond else "%Y-%m-%d %H:%M"
    return f"{local.strftime(shown)} {zone}"


def _offset(delta: timedelta | None) -> str:
    minutes = int((delta or timedelta(0)).total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _zone(tz: str) -> ZoneInfo:
    name = tz.strip()
    if len(name) > 64 or name not in _zone_names():
        shown = name if len(name) <= 64 else name[:61] + "..."
        raise ConfigError(
            [
                Issue(
                    path="tz",
                    message=f"unknown time zone {shown!r}: give an IANA name such as "
                    "Europe/Paris, America/New_York or UTC",
                )
            ]
        )
    return ZoneInfo(name)


def _change(zone: tzinfo, earlier: datetime, later: datetime) -> datetime:
    """The instant between `earlier` and `later` (UTC) where `zone`'s offset changes, found
    to the second."""
    before = earlier.astimezone(zone).utcoffset()
    while later - earlier > timedelta(seconds=1):
        middle = earlier + (later - earlier) / 2
        if middle.astimezone(zone).utcoffset() == before:
            earlier = middle
        else:
            later = middle
    return later.replace(microsecond=0)


def _wall(at: datetime) -> str:
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


def _in_zone(wall: datetime, zone: ZoneInfo, name: str) -> datetime:
    """The one instant the wall time `wall` names in `zone`, or an issue saying why none."""
    first, second = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    a, b = first.utcoffset(), second.utcoffset()
    if a == b:
        return first.astimezone(UTC)
    # Python reads a wall time the zone skips with the offset before the change (fold 0) and
    # the one after (fold 1); one it repeats, with the first and then the second.
    skipped = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall
    ends = sorted([first.astimezone(UTC), second.astimezone(UTC)])
    moved = _change(zone, ends[0] - timedelta(hours=1), ends[1] + timedelta(hours=1))
    old = (moved - timedelta(seconds=1)).astimezone(zone).utcoffset() or timedelta(0)
    new = moved.astimezone(zone).utcoffset() or timedelta(0)
    day = wall.strftime("%Y-%m-%d")
    text = wall.strftime("%Y-%m-%d %H:%M") + (f":{wall.second:02d}" if wall.second else "")
    if skipped:
        jumped_from = (moved + old).replace(tzinfo=None)
        jumped_to = (moved + new).replace(tzinfo=None)
        message = (
            f"{text} does not exist in {name}: on {day} the clocks go forward from "
            f"{_wall(jumped_from)} to {_wall(jumped_to)} ({_offset(old)} to {_offset(new)}); "
            f"give a time from {_wall(jumped_to)} on, or one before {_wall(jumped_from)}"
        )
    else:
        back_from = (moved + old).replace(tzinfo=None)
        back_to = (moved + new).replace(tzinfo=None)
        iso = wall.strftime("%Y-%m-%dT%H:%M")
        message = (
            f"{text} happens twice in {name}: on {day} the clocks go back from "
            f"{_wall(back_from)} to {_wall(back_to)}; say which with an offset, "
            f"{iso}{_offset(a)} (the first) or {iso}{_offset(b)} (the second)"
        )
    raise ConfigError([Issue(path="at", message=message)])


def parse_instant(at: str, tz: str | None, now: datetime) -> Instant:
    """The instant `at` names, read in the zone `tz` when it has no offset of its own.

    Refused, naming the field: a text that is not a date and time, a wall time without a
    zone, an unknown zone, a wall time the zone skips or repeats, an offset the zone does not
    have then, a time not after `now`, or one more than `MAX_AHEAD` after it."""
    text = at.strip()
    if not _WHEN.fullmatch(text):
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise ConfigError(
            [Issue(path="at", message=f"{shown!r} is not a date and a time; {_EXAMPLE}")]
        )
    try:
        given = datetime.fromisoformat(text.replace("t", "T").replace("z", "Z"))
    except ValueError as error:
        raise ConfigError(
            [Issue(path="at", message=f"{text!r} is not a date and a time: {error}")]
        ) from None
    zone = _zone(tz) if tz is not None and tz.strip() else None
    try:
        if given.tzinfo is None:
            if zone is None:
                raise ConfigError(
                    [
                        Issue(
                            path="at",
                            message=f"{text!r} has no time zone: name one in tz (--tz), e.g. "
                            "Europe/Paris, or end the time with an offset such as +01:00 or Z",
                        )
                    ]
                )
            instant = _in_zone(given, zone, zone.key)
            shown = zone.key
        else:
            instant = given.astimezone(UTC)
            shown = _offset(given.utcoffset())
            shown = "UTC" if shown == "+00:00" else shown
            if zone is not None:
                there = instant.astimezone(zone).utcoffset()
                if there != given.utcoffset():
                    raise ConfigError(
                        [
                            Issue(
                                path="tz",
                                message=f"{zone.key} is {_offset(there)} at {text}, not "
                                f"{_offset(given.utcoffset())}: drop the offset or the zone, "
                                "or make them agree",
                            )
                        ]
                    )
                shown = zone.key
    except OverflowError:
        raise ConfigError(
            [Issue(path="at", message=f"{text!r} is outside the times a schedule can name")]
        ) from None
    if instant <= now:
        raise ConfigError(
            [
                Issue(
                    path="at",
                    message=f"{text} is in the past ({instant:%Y-%m-%d %H:%M:%S} UTC; now is "
                    f"{now.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC): give a later time",
                )
            ]
        )
    if instant - now > MAX_AHEAD:
        raise ConfigError(
            [
                Issue(
                    path="at",
                    message=f"{text} is more than 5 years ahead: give a nearer time",
                )
            ]
        )
    return Instant(instant, shown)
