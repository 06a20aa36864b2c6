"""Scheduled flag changes: the time a person gives, read into one instant.

Times are worked out by hand in the comments: Europe/Paris is UTC+01:00 in winter (CET) and
UTC+02:00 in summer (CEST); in 2026 its clocks go forward on Sunday 29 March at 02:00 (to
03:00) and back on Sunday 25 October at 03:00 (to 02:00). New York (-05:00 / -04:00) moves
on 8 March and 1 November 2026, at 02:00 local time.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from headway.flags.model import ConfigError
from headway.flags.schedule_time import parse_instant

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _issue(at: str, tz: str | None, now: datetime = NOW) -> tuple[str, str]:
    with pytest.raises(ConfigError) as refused:
        parse_instant(at, tz, now)
    (issue,) = refused.value.issues
    return issue.path, issue.message


# --- reading the time ------------------------------------------------------------------------


def test_a_wall_time_is_read_with_the_offset_its_zone_has_that_day() -> None:
    # 09:00 in Paris is 08:00 UTC in December (+01:00) and 07:00 UTC in July (+02:00)
    winter = parse_instant("2026-12-08 09:00", "Europe/Paris", NOW)
    assert (winter.at, winter.zone) == (datetime(2026, 12, 8, 8, 0, tzinfo=UTC), "Europe/Paris")
    summer = parse_instant("2026-07-01T09:00", "Europe/Paris", NOW)
    assert summer.at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    # An instant with its offset needs no zone: 09:00-05:00 is 14:00 UTC; Z is UTC itself
    offset = parse_instant("2026-12-08T09:00-05:00", None, NOW)
    assert (offset.at, offset.zone) == (datetime(2026, 12, 8, 14, 0, tzinfo=UTC), "-05:00")
    assert parse_instant("2026-12-08T09:00:30Z", None, NOW).zone == "UTC"


def test_a_wall_time_the_clocks_skip_is_refused_naming_the_times_that_exist() -> None:
    # 29 March 2026 in Paris: 01:59 (+01:00) is 00:59 UTC, then 02:00 becomes 03:00 (+02:00,
    # 01:00 UTC); 02:30 is never shown by a Paris clock
    assert parse_instant("2026-03-29 01:59", "Europe/Paris", NOW).at == datetime(
        2026, 3, 29, 0, 59, tzinfo=UTC
    )
    assert parse_instant("2026-03-29 03:00", "Europe/Paris", NOW).at == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    path, message = _issue("2026-03-29 02:30", "Europe/Paris")
    assert path == "at"
    assert message == (
        "2026-03-29 02:30 does not exist in Europe/Paris: on 2026-03-29 the clocks go forward "
        "from 02:00 to 03:00 (+01:00 to +02:00); give a time from 03:00 on, or one before 02:00"
    )
    # New York skips 02:00-03:00 on 8 March; Lord Howe Island skips half an hour on 4 October
    assert (
        "from 02:00 to 03:00 (-05:00 to -04:00)"
        in _issue("2026-03-08 02:30", "America/New_York")[1]
    )
    assert (
        "from 02:00 to 02:30 (+10:30 to +11:00)"
        in _issue("2026-10-04 02:15", "Australia/Lord_Howe")[1]
    )


def test_a_wall_time_the_clocks_repeat_is_refused_until_an_offset_says_which() -> None:
    # 25 October 2026 in Paris: 02:30 happens at +02:00 (00:30 UTC), then again at +01:00
    # (01:30 UTC) after the clocks go back from 03:00 to 02:00
    path, message = _issue("2026-10-25 02:30", "Europe/Paris")
    assert path == "at"
    assert message == (
        "2026-10-25 02:30 happens twice in Europe/Paris: on 2026-10-25 the clocks go back from "
        "03:00 to 02:00; say which with an offset, 2026-10-25T02:30+02:00 (the first) or "
        "2026-10-25T02:30+01:00 (the second)"
    )
    first = parse_instant("2026-10-25T02:30+02:00", "Europe/Paris", NOW)
    second = parse_instant("2026-10-25T02:30+01:00", "Europe/Paris", NOW)
    assert (first.at, second.at) == (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    )
    assert first.zone == second.zone == "Europe/Paris"
    # Paris is never +03:00: the offset and the zone disagree, and the zone is named
    path, message = _issue("2026-10-25T02:30+03:00", "Europe/Paris")
    assert (path, message.split(":")[0]) == ("tz", "Europe/Paris is +02")
    # New York's repeated hour: 01:30 on 1 November, at -04:00 then -05:00
    assert "go back from 02:00 to 01:00" in _issue("2026-11-01 01:30", "America/New_York")[1]


@pytest.mark.parametrize(
    ("at", "tz", "field", "says"),
    [
        ("2026-12-08 09:00", None, "at", "has no time zone"),
        ("2026-12-08 09:00", "", "at", "has no time zone"),
        ("2026-12-08 09:00", "Mars/Olympus", "tz", "unknown time zone 'Mars/Olympus'"),
        ("2026-12-08 09:00", "europe/paris", "tz", "unknown time zone"),
        ("2026-12-08 09:00", "localtime", "tz", "unknown time zone"),
        ("2026-12-08 09:00", "../../etc/passwd", "tz", "unknown time zone"),
        ("2026-12-08", "UTC", "at", "is not a date and a time"),
        ("next tuesday", "UTC", "at", "is not a date and a time"),
        ("2026-02-30 09:00", "UTC", "at", "day is out of range for month"),
        ("2026-12-08 09:00\x00", "UTC", "at", "is not a date and a time"),
        ("2026-01-15 12:00", "UTC", "at", "is in the past"),  # now is not the future
        ("2026-01-15 11:59:59", "UTC", "at", "is in the past"),
        ("2031-02-01 12:00", "UTC", "at", "more than 5 years ahead"),
        ("9999-12-31T23:59-05:00", None, "at", "outside the times a schedule can name"),
    ],
)
def test_a_time_that_names_no_future_instant_is_refused_naming_its_field(
    at: str, tz: str | None, field: str, says: str
) -> None:
    path, message = _issue(at, tz)
    assert path == field
    assert says in message


def test_five_years_ahead_is_the_limit() -> None:
    # 366 * 5 = 1,830 days after 2026-01-15 12:00: 2031-01-15 is 1,826 days on (2028 is a
    # leap year), so the limit is 2031-01-19 12:00, allowed; a minute more is not
    assert parse_instant("2031-01-19 12:00", "UTC", NOW).at.year == 2031
    assert _issue("2031-01-19 12:01", "UTC")[0] == "at"
