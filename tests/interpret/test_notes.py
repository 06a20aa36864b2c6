"""Interpretation notes: stored on a scope and period, found from the scopes they explain."""

from __future__ import annotations

from datetime import datetime

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings
from headway.ingest import ingest
from headway.interpret import notes
from headway.metrics.scope import Period, Scope
from headway.model import Service
from headway.store import Store


@pytest.fixture
def org(store: Store, engine_settings: Settings) -> Store:
    ingest(
        store,
        engine_settings,
        [
            Service("checkout", team="web", context="customer-facing"),
            Service("ledger", team="payments", context="regulated"),
        ],
    )
    return store


def test_a_team_note_is_found_from_the_team_its_services_and_the_organisation(org: Store) -> None:
    notes.add(org, Scope("team", "web"), notes.parse_period("2026-10"), "Freeze week", author="ana")
    notes.add(org, Scope(), notes.parse_period("2026-10-20"), "Holiday", author="bo")
    october = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))
    assert [n["text"] for n in notes.for_scope(org, Scope("team", "web"), october)] == [
        "Freeze week",
        "Holiday",
    ]
    assert [n["text"] for n in notes.for_scope(org, Scope("service", "checkout"), october)] == [
        "Freeze week",
        "Holiday",
    ]
    # another team sees only the organisation-wide note; another month sees nothing
    assert [n["text"] for n in notes.for_scope(org, Scope("team", "payments"), october)] == [
        "Holiday"
    ]
    november = Period(datetime(2026, 11, 1), datetime(2026, 12, 1))
    assert notes.for_scope(org, Scope(), november) == []
    [note] = notes.for_scope(org, Scope(), Period(datetime(2026, 10, 1), datetime(2026, 10, 2)))
    assert (note["scope"], note["period_start"], note["period_end"], note["author"]) == (
        "team:web",
        "2026-10-01T00:00:00Z",
        "2026-11-01T00:00:00Z",
        "ana",
    )


def test_periods_parse_as_months_days_and_inclusive_ranges() -> None:
    assert notes.parse_period("2026-12") == Period(datetime(2026, 12, 1), datetime(2027, 1, 1))
    assert notes.parse_period("2026-10-05") == Period(datetime(2026, 10, 5), datetime(2026, 10, 6))
    assert notes.parse_period("2026-10-05..2026-10-07") == Period(
        datetime(2026, 10, 5), datetime(2026, 10, 8)
    )


def test_cli_note_bad_input() -> None:
    runner = CliRunner()
    cases = [
        (["--scope", "web", "--period", "2026-10", "x"], "is not a scope"),
        (["--scope", "team:web", "--period", "October", "x"], "is not a period"),
        (
            ["--scope", "team:web", "--period", "2026-10-09..2026-10-01", "x"],
            "ends before it starts",
        ),
        (["--scope", "team:web", "--period", "2026-10", " "], "the note is empty"),
        (["--scope", "team:nobody", "--period", "2026-10", "x"], "the store is empty"),
    ]
    for args, message in cases:
        out = runner.invoke(app, ["note", "add", *args])
        assert out.exit_code == 2, out.output
        assert message in out.output
