"""The 2025 DORA report's view: the two factors on the survey's scales, and the profiles.

A hand-built service `api`, 2026-10-01 … 2026-10-15 (14 days), under `dora`:

  a deployment every day at 12:00 (14)            → 1.0 a day: "between once per hour and
                                                     once per day", answer 5
  each ships one change, first commit 10:00       → lead time 2 h: "less than one day", 5
  an incident names day 3's deployment, opened
  12:10 and resolved 12:30                        → 1 failed of 14; recovery 30 min: "less
                                                     than one hour", 6
  no rework

Throughput (5 + 5 + 6) / 3 = 5.3333 ≥ 4: high. Instability (1/14 + 0) / 2: the change fail
rate is 0.071429 (rounded to six places), so the mean is 0.0357145 → 0.0357 ≤ 0.15: low.
High throughput and low instability fit two profiles: pragmatic performers and harmonious
high-achievers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import dora
from headway.metrics.bands import HOUR
from headway.metrics.profile import duration_answer, frequency_answer, place
from headway.metrics.results import MetricSetResult
from headway.metrics.scope import Period, Scope
from headway.model import Change, Deployment, Incident, Service
from headway.store import Store

FORTNIGHT = Period(datetime(2026, 10, 1), datetime(2026, 10, 15))
FAST_AND_STABLE = ["pragmatic_performers", "harmonious_high_achievers"]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def history() -> list[Any]:
    records: list[Any] = [Service(name="api", team="web")]
    for day in range(1, 15):
        records.append(
            Change(
                source="github",
                source_id=f"acme/api#{day}",
                service="api",
                repository="acme/api",
                number=day,
                first_commit_at=at(day, 10),
                opened_at=at(day, 10),
                merged_at=at(day, 11),
            )
        )
        records.append(
            Deployment(source="ci", source_id=f"d{day}", service="api", finished_at=at(day, 12))
        )
    records.append(
        Incident(
            source="pagerduty",
            source_id="i1",
            service="api",
            opened_at=at(3, 12, 10),
            resolved_at=at(3, 12, 30),
            cause_ref="ci:d3",
        )
    )
    return records


@pytest.fixture
def api(store: Store, engine_settings: Settings) -> Store:
    ingest(store, engine_settings, history())
    return store


def test_a_fast_stable_service_is_placed_on_the_surveys_scales(api: Store) -> None:
    m = dora.compute(api, PRESETS["dora"], Scope("service", "api"), FORTNIGHT, year="2025")
    doc = m.to_json()
    MetricSetResult.model_validate(doc)  # the documented contract
    profile = doc["profile"]

    assert doc["deployment_frequency"]["per_day"] == 1.0
    assert doc["change_lead_time"]["median_s"] == 2 * HOUR
    assert doc["failed_deployment_recovery_time"]["median_s"] == 1800.0
    assert profile["throughput"] == {
        "score": 5.3333,
        "of": 6,
        "side": "high",
        "answers": [
            {"metric": "change_lead_time", "answer": 5, "words": "less than one day"},
            {
                "metric": "deployment_frequency",
                "answer": 5,
                "words": "between once per hour and once per day",
            },
            {
                "metric": "failed_deployment_recovery_time",
                "answer": 6,
                "words": "less than one hour",
            },
        ],
        "missing": [],
    }
    assert profile["instability"] == {
        "score": 0.0357,
        "side": "low",
        "rates": {"change_fail_rate": 0.071429, "deployment_rework_rate": 0.0},
    }
    assert [p["key"] for p in profile["consistent_with"]] == FAST_AND_STABLE
    assert profile["reason"] is None
    assert "burnout" in profile["unmeasured"]
    assert len(profile["unmeasured"]) == 6


def test_the_view_is_beside_the_tiers_of_every_year(api: Store) -> None:
    """The profile does not depend on the level table chosen; 2024's levels stay."""
    m24 = dora.compute(api, PRESETS["dora"], Scope("team", "web"), FORTNIGHT).to_json()
    m25 = dora.compute(api, PRESETS["dora"], Scope("team", "web"), FORTNIGHT, year="2025")
    assert m24["profile"] == m25.to_json()["profile"]
    assert m24["change_lead_time"]["level"] == "elite"


def test_too_few_deployments_place_nothing(api: Store) -> None:
    """Days 1 … 9 hold nine deployments: the scores are shown, no side and no profile."""
    nine = Period(datetime(2026, 10, 1), datetime(2026, 10, 10))
    profile = dora.compute(api, PRESETS["dora"], Scope(), nine, year="2025").to_json()["profile"]
    assert profile["throughput"]["score"] == 5.3333
    assert profile["throughput"]["side"] is None
    assert profile["instability"]["side"] is None
    assert profile["consistent_with"] == []
    assert profile["reason"] == (
        "too few to place: 9 counted deployments; a profile needs at least 10"
    )


@pytest.mark.parametrize(
    ("seconds", "answer"),
    [
        (3599.0, 6),  # less than one hour
        (3600.0, 5),  # an hour is no longer "less than one hour"
        (86399.0, 5),
        (86400.0, 4),  # one day: "between one day and one week"
        (7 * 86400.0, 3),
        (30 * 86400.0, 2),
        (180 * 86400.0 - 1, 2),
        (180 * 86400.0, 1),  # six months of 30 days: "more than six months"
    ],
)
def test_durations_take_the_surveys_answers(seconds: float, answer: int) -> None:
    found = duration_answer(seconds)
    assert found is not None
    assert found[0] == answer


@pytest.mark.parametrize(
    ("deployments", "days", "answer"),
    [
        (20, 10.0, 6),  # twice a day: on demand
        (19, 10.0, 5),
        (10, 10.0, 5),  # once a day
        (9, 10.0, 4),
        (3, 21.0, 4),  # exactly once a week, though 3 / 21 rounds below 1 / 7
        (3, 21.5, 3),
        (3, 90.0, 3),  # once a month
        (3, 90.5, 2),
        (1, 180.0, 2),  # once every six months
        (1, 181.0, 1),
        (0, 30.0, None),  # nothing deployed: no answer
    ],
)
def test_frequencies_take_the_surveys_answers(deployments: int, days: float, answer: int) -> None:
    found = frequency_answer(deployments, days)
    assert (found and found[0]) == answer


def figures(
    days: float, lead_s: float | None, recovery_s: float | None, cfr: float, rework: float
) -> dict[str, dict[str, Any]]:
    """Thirty deployments over `days`."""
    return {
        "deployment_frequency": {"deployments": 30, "days": days},
        "change_lead_time": {"median_s": lead_s},
        "failed_deployment_recovery_time": {"median_s": recovery_s},
        "change_fail_rate": {"rate": cfr},
        "deployment_rework_rate": {"rate": rework},
    }


DAY = 86400.0


@pytest.mark.parametrize(
    ("numbers", "throughput", "instability", "profiles"),
    [
        # 30 in 210 days is weekly (4), lead 2 days (4), recovery 3 days (4): 4.0 is high; (0.10+0.20)/2 = 0.15
        # is not over 0.15: low
        ((210.0, 2 * DAY, 3 * DAY, 0.10, 0.20), (4.0, "high"), (0.15, "low"), FAST_AND_STABLE),
        # 30 in 900 days: monthly (3); lead 2 weeks (3), recovery 2 days (4): 3.3333, low;
        # (0.30 + 0.10) / 2 = 0.2, high
        (
            (900.0, 14 * DAY, 2 * DAY, 0.30, 0.10),
            (3.3333, "low"),
            (0.2, "high"),
            ["foundational_challenges", "legacy_bottleneck", "high_impact_low_cadence"],
        ),
        # the same pace, stable: (0.04 + 0.02) / 2 = 0.03
        (
            (900.0, 14 * DAY, 2 * DAY, 0.04, 0.02),
            (3.3333, "low"),
            (0.03, "low"),
            ["constrained_by_process", "stable_and_methodical"],
        ),
        # 30 in 10 days (6), fast but unstable: only the legacy bottleneck's throughput is left open
        (
            (10.0, HOUR / 2, HOUR / 2, 0.25, 0.25),
            (6.0, "high"),
            (0.25, "high"),
            ["legacy_bottleneck"],
        ),
        # no failure, so no recovery time: the mean of the two answers there are (6 and 5)
        ((10.0, 2 * HOUR, None, 0.0, 0.0), (5.5, "high"), (0.0, "low"), FAST_AND_STABLE),
    ],
)
def test_each_signature_lists_the_profiles_it_fits(
    numbers: tuple[float, float, float | None, float, float],
    throughput: tuple[float, str],
    instability: tuple[float, str],
    profiles: list[str],
) -> None:
    profile = place(figures(*numbers))
    assert (profile["throughput"]["score"], profile["throughput"]["side"]) == throughput
    assert (profile["instability"]["score"], profile["instability"]["side"]) == instability
    assert [p["key"] for p in profile["consistent_with"]] == profiles
    if numbers[2] is None:
        assert profile["throughput"]["missing"] == ["failed_deployment_recovery_time"]


def test_the_cli_shows_the_view_with_levels_2025(
    api: Store, engine_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWAY_DATABASE", engine_settings.database)
    api.close()
    args = ["metrics", "--since", "2026-10-01", "--until", "2026-10-14", "--levels", "2025"]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    out = result.output
    assert "The 2025 DORA report publishes no performance levels" in out
    assert "throughput   5.33 of 6 (high)" in out
    assert "deployment frequency: between once per hour and once per day (5)" in out
    assert "instability  3.6% (low)" in out
    assert "consistent with: Pragmatic performers, Harmonious high-achievers" in out
    assert "ask the team" in out


def test_each_team_is_listed_with_its_view(
    api: Store, engine_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWAY_DATABASE", engine_settings.database)
    api.close()
    args = ["metrics", "--since", "2026-10-01", "--until", "2026-10-14", "--levels", "2025"]
    result = CliRunner().invoke(app, [*args, "--each", "team"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    # the table wraps its cells to the terminal: read the row's words in order
    rows = result.output.split("│ web ", 1)[1].split("└", 1)[0]
    words = " ".join(w for w in rows.replace("│", " ").split())
    assert "5.33 · 3.6%" in words
    assert "Pragmatic" in words
    assert words.index("Pragmatic") < words.index("Harmonious") < words.index("high-achievers")


def test_one_fitting_profile_is_not_read_as_a_classification() -> None:
    """High throughput with high instability leaves only the legacy bottleneck (its
    throughput is the one the summaries leave open): the view says the report "also weighs"
    the six survey measures rather than "tells these apart by" them."""
    from headway.output import profile_lines

    lines = profile_lines(place(figures(10.0, HOUR / 2, HOUR / 2, 0.25, 0.25)))
    assert "  consistent with: The legacy bottleneck" in lines
    assert lines[-1].startswith("  the report also weighs team performance, product performance")
    assert lines[-1].endswith("which delivery records do not measure: ask the team")
