"""Report periods read from `--since` and `--until` (the CLI's options, the API's parameters)."""

from __future__ import annotations

from datetime import datetime

import pytest

from headway.query import QueryError, period_of


def test_an_end_in_the_first_days_of_the_calendar_needs_a_start() -> None:
    # 90 days before 0001-01-06 (the end of day 0001-01-05) is before year 1: a 400, not a 500
    with pytest.raises(QueryError, match="'0001-01-05' leaves no 90 days before it"):
        period_of(None, "0001-01-05")
    # with a start the same end is a period of five days
    period = period_of("0001-01-01", "0001-01-05")
    assert (period.since, period.until) == (datetime(1, 1, 1), datetime(1, 1, 6))


def test_the_default_period_is_the_90_days_up_to_the_end_of_today(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given the clock at 2026-12-06 18:30 UTC, when no --since/--until is given,
    # then the period runs from 2026-09-08 00:00 to the end of 2026-12-06 (2026-12-07 00:00):
    # 90 whole days, today included.
    monkeypatch.setenv("HEADWAY_NOW", "2026-12-06T18:30:00Z")
    period = period_of(None, None)
    assert (period.since, period.until) == (datetime(2026, 9, 8), datetime(2026, 12, 7))
    # --until alone keeps 90 days before it
    period = period_of(None, "2026-03-31")
    assert (period.since, period.until) == (datetime(2026, 1, 1), datetime(2026, 4, 1))
    # a time with an offset is read in UTC: 2026-12-07 01:00+02:00 is still the 6th
    monkeypatch.setenv("HEADWAY_NOW", "2026-12-07T01:00:00+02:00")
    assert period_of(None, None).until == datetime(2026, 12, 7)


def test_a_bad_headway_now_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWAY_NOW", "yesterday")
    with pytest.raises(ValueError, match="HEADWAY_NOW 'yesterday' is not a time"):
        period_of(None, None)
