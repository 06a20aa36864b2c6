"""Report periods read from `--since` and `--until` (the CLI's options, the API's parameters)."""

from __future__ import annotations

from datetime import datetime

import pytest

from headway.query import QueryError, period_of
from headway.store import Store


def test_an_end_in_the_first_days_of_the_calendar_needs_a_start(store: Store) -> None:
    # 90 days before 0001-01-06 (the end of day 0001-01-05) is before year 1: a 400, not a 500
    with pytest.raises(QueryError, match="'0001-01-05' leaves no 90 days before it"):
        period_of(store, None, "0001-01-05")
    # with a start the same end is a period of five days
    period = period_of(store, "0001-01-01", "0001-01-05")
    assert (period.since, period.until) == (datetime(1, 1, 1), datetime(1, 1, 6))
