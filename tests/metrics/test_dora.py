"""The five DORA metrics on a small organisation whose every number is worked out by hand.

tests/fixtures/small_org.jsonl, service `api` (customer-facing), 2026-10-01 … 2026-10-10:

  d1 deploy  10-01 12:00  ships c1 (first commit 02:00)            lead 10 h = 36000 s
  d2 deploy  10-03 12:00  ships c2 (first commit 10-02 12:00)      lead 24 h = 86400 s
                                c3 (first commit 06:00+02:00)      lead  8 h = 28800 s
             incident i1 names d2, resolved 15:00                  → failed, recovery 3 h
  d3 deploy  10-05 12:00  ships c4 (first commit 00:00)            lead 12 h = 43200 s
  d4 rollback 10-05 13:00 of d3                                    → d3 failed, recovery 1 h; d4 rework
  d5 deploy  10-08 12:00  ships c5 (first commit 10-07 12:00)      lead 24 h = 86400 s
                                c6, the revert of c4 (09:00)       lead  3 h = 10800 s; d5 rework
             incident i3 (no cause) opens 14:00, 2 h after d5      → blamed on d5 by a 24-hour window
                                                                     (the first test's), resolved
                                                                     16:00: recovery 4 h
  i2 (no cause) opens 10-10 12:00, 48 h after d5                   → blamed on nothing
  s1 is a staging deployment: not counted under `dora`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headway.config import Settings
from headway.definitions import PRESETS, AttributionRules, Definition
from headway.ingest import ingest
from headway.metrics import bands, dora, records
from headway.metrics.refine import Refinement
from headway.metrics.scope import Period, Scope
from headway.model import Change, Deployment, Incident, Service
from headway.sources.files import read_jsonl
from headway.store import Store

SMALL_ORG = Path(__file__).parents[1] / "fixtures" / "small_org.jsonl"
OCTOBER_1_TO_10 = Period(datetime(2026, 10, 1), datetime(2026, 10, 11))
TOO_FEW = "too few to rate: 5 counted deployments; a level needs at least 10"
# `dora` as it was before its window was measured (24 hours), which this file's first test pins
DORA_24H = PRESETS["dora"].model_copy(update={"attribution": AttributionRules(window_hours=24)})


@pytest.fixture
def org(store: Store, engine_settings: Settings) -> Store:
    ingest(store, engine_settings, read_jsonl(SMALL_ORG))
    return store


def test_the_five_metrics_of_one_service_under_dora(org: Store) -> None:
    m = dora.compute(org, DORA_24H, Scope("service", "api"), OCTOBER_1_TO_10).to_json()

    assert m["definition"] == {"name": "dora", "version": 2}
    assert m["scope"]["services"] == ["api"]
    # d1..d5 on 10-01, 10-03, 10-05 (two), 10-08: 5 deployments, 4 deploy days, 10 days
    assert m["deployment_frequency"] == {
        "deployments": 5,
        "days": 10.0,
        "per_day": 0.5,
        "per_week": 3.5,
        "deploy_days": 4,
        # weeks from Monday: 10-01…10-04 has d1, d2 on 2 days; 10-05…10-10 has d3/d4, d5 on 2
        "deploy_days_per_week_median": 2.0,
        # 0.5 a day is at least weekly, less than daily: high, but 5 deployments are too few
        "level": None,
        "reason": None,
        "level_reason": TOO_FEW,
    }
    assert bands.deployment_frequency(0.5, "2024") == "high"
    # leads sorted: 10800 28800 36000 43200 86400 86400
    # median (36000+43200)/2; p75 at rank 3.75: 43200+.75*43200; p90 at rank 4.5: 86400
    assert m["change_lead_time"] == {
        "changes": 6,
        "median_s": 39600.0,
        "p75_s": 75600.0,
        "p90_s": 86400.0,
        "mean_s": 48600.0,
        "level": None,  # 11 h is elite (under a day), from too few deployments
        "reason": None,
        "level_reason": TOO_FEW,
        "negative": 0,
        "notes": [],
    }
    assert bands.lead_time(39600.0, "2024") == "elite"
    # d2 (incident), d3 (rollback, revert), d5 (incident by window) of 5
    assert m["change_fail_rate"] == {
        "deployments": 5,
        "failed": 3,
        "rate": 0.6,
        "level": None,
        "reason": None,
        "level_reason": TOO_FEW,
    }
    assert bands.change_fail_rate(0.6, "2024") == "low"
    # recoveries 3600 10800 14400: median 10800, p75 at rank 1.5 → 12600, p90 at 1.8 → 13680
    assert m["failed_deployment_recovery_time"] == {
        "recoveries": 3,
        "unrecovered": 0,
        "median_s": 10800.0,
        "p75_s": 12600.0,
        "p90_s": 13680.0,
        "mean_s": 9600.0,
        "level": None,
        "reason": None,
        "level_reason": TOO_FEW,
        "negative": 0,
        "notes": [],
    }
    assert bands.recovery_time(10800.0, "2024") == "high"
    # d4 (a rollback) and d5 (ships the revert of deployed c4) of 5
    assert m["deployment_rework_rate"] == {
        "deployments": 5,
        "rework": 2,
        "rate": 0.4,
        "reason": None,
    }
    assert m["warnings"] == []


def test_dora_blames_no_deployment_two_hours_before_an_incident(org: Store) -> None:
    m = dora.compute(org, PRESETS["dora"], Scope("service", "api"), OCTOBER_1_TO_10).to_json()
    # i3 opened 2 h after d5, beyond the 30-minute window: d2 (incident) and d3 (rollback)
    assert m["change_fail_rate"]["failed"] == 2


def test_fourkeys_counts_every_environment_and_only_named_incidents(org: Store) -> None:
    m = dora.compute(org, PRESETS["fourkeys"], Scope("service", "api"), OCTOBER_1_TO_10).to_json()
    # s1 (staging) counts too: 6 deployments; only i1 names its root cause (d2): 1 failed
    assert m["change_fail_rate"]["deployments"] == 6
    assert m["change_fail_rate"]["failed"] == 1
    assert m["change_fail_rate"]["rate"] == pytest.approx(1 / 6, abs=1e-6)
    # time to restore over all incidents opened, in whole hours: i1 from d2 finishing (12:00,
    # before it opened at 13:00) to 15:00 = 3 h, i3 2 h, i2 1 h → median 7200, mean 7200
    rec = m["failed_deployment_recovery_time"]
    assert (rec["recoveries"], rec["median_s"], rec["mean_s"]) == (3, 7200.0, 7200.0)


def test_devlake_blames_the_latest_deployment_and_takes_the_lower_median(org: Store) -> None:
    m = dora.compute(org, PRESETS["devlake"], Scope("service", "api"), OCTOBER_1_TO_10).to_json()
    # no change here is a pull request (none has an opening time): DevLake measures none
    assert m["change_lead_time"]["changes"] == 0
    # the latest production deployment before each incident, however long before: i1 → d2,
    # i3 → d5, i2 (48 h later) → d5; d2 and d5 failed of 5
    assert (m["change_fail_rate"]["failed"], m["change_fail_rate"]["deployments"]) == (2, 5)
    # deployment finished → incident resolved: 3 h, 4 h, 49 h; lower median of three: the 2nd
    rec = m["failed_deployment_recovery_time"]
    assert (rec["recoveries"], rec["median_s"]) == (3, 14400.0)


def test_organisation_across_contexts_carries_a_warning(org: Store) -> None:
    m = dora.compute(org, PRESETS["dora"], Scope(), OCTOBER_1_TO_10).to_json()
    assert m["scope"]["contexts"] == ["customer-facing", "regulated"]
    assert m["deployment_frequency"]["deployments"] == 6  # d1..d5 and ledger's l1
    assert m["change_lead_time"]["changes"] == 7  # lc1 waited 10 days: 864000 s
    assert m["change_lead_time"]["p90_s"] == pytest.approx(86400 + 0.4 * (864000 - 86400))
    assert len(m["warnings"]) == 1
    assert "2 operating contexts" in m["warnings"][0]


def test_weekly_trend_splits_the_period(org: Store) -> None:
    m = dora.compute(org, DORA_24H, Scope("service", "api"), OCTOBER_1_TO_10, by="week")
    weeks = [
        (t.period.since, t.deployment_frequency["deployments"], t.change_fail_rate["failed"])
        for t in m.trend
    ]
    # 2026-10-01 is a Thursday: Thu 10-01 … Sun 10-04 holds d1, d2 (d2 failed); the week of
    # Monday 10-05 holds d3, d4, d5 (d3 and d5 failed)
    assert weeks == [(datetime(2026, 10, 1), 2, 1), (datetime(2026, 10, 5), 3, 2)]
    assert m.trend[0].period.until == datetime(2026, 10, 5)
    assert m.trend[1].period.days == 6.0  # Monday 10-05 … the end of the period 10-11


def test_levels_per_report_year(org: Store) -> None:
    m23 = dora.compute(org, DORA_24H, Scope("service", "api"), OCTOBER_1_TO_10, year="2023")
    m25 = dora.compute(org, DORA_24H, Scope("service", "api"), OCTOBER_1_TO_10, year="2025")
    # 60% is above 2023's 15% medium band: low, but 5 deployments are too few to rate
    assert bands.change_fail_rate(m23.change_fail_rate["rate"], "2023") == "low"
    assert m23.change_fail_rate["level"] is None
    assert m23.change_fail_rate["level_reason"] == TOO_FEW
    assert m25.change_fail_rate["level"] is None
    assert m25.change_fail_rate["level_reason"] is None  # 2025 has no levels at all
    assert m25.to_json()["levels"]["note"].startswith("The 2025 DORA report publishes no")


def test_each_team_in_one_pass(org: Store) -> None:
    sets = dora.compute_each(org, DORA_24H, "team", OCTOBER_1_TO_10)
    assert [(s.scope.name, s.deployment_frequency["deployments"]) for s in sets] == [
        ("core", 5),
        ("money", 1),
    ]
    assert sets[1].change_lead_time["median_s"] == 864000.0


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_a_scope_its_trend_and_the_scopes_below_in_one_pass(org: Store, preset: str) -> None:
    defn = PRESETS[preset]
    whole, each = dora.compute_with_each(org, defn, Scope(), OCTOBER_1_TO_10, "context", by="week")
    # the same numbers as the scope with its trend, then each context on its own
    alone = dora.compute(org, defn, Scope(), OCTOBER_1_TO_10, by="week")
    below = dora.compute_each(org, defn, "context", OCTOBER_1_TO_10)
    assert whole.to_json() == alone.to_json()
    assert [m.to_json() for m in each] == [m.to_json() for m in below]
    assert [m.scope.name for m in each] == ["customer-facing", "regulated"]
    # the two weeks of 2026-10-01 … 10-10 (a Thursday, then Monday 10-05)
    assert [t.period.since for t in whole.trend] == [datetime(2026, 10, 1), datetime(2026, 10, 5)]


def test_drill_down_shows_why_each_deployment_failed(org: Store) -> None:
    rows = {
        r["id"]: r
        for r in records.deployments(org, PRESETS["dora"], Scope("service", "api"), OCTOBER_1_TO_10)
    }
    d3 = rows["t:d3"]
    assert d3["failed"] is True
    assert [(e["rule"], e["record"]) for e in d3["evidence"]] == [
        ("revert", "t:c6"),
        ("rollback", "t:d4"),
    ]
    assert d3["recovered_at"] == "2026-10-05T13:00:00Z"  # the rollback came before the revert
    assert d3["changes"] == ["t:c4"]
    assert rows["t:d4"]["rework"] is True
    assert rows["t:d4"]["recovers"] == "t:d3"
    assert rows["t:d5"]["changes"] == ["t:c5", "t:c6"]
    assert rows["t:d1"]["failed"] is False


def test_a_page_of_deployments_carries_the_count_of_the_whole_list(org: Store) -> None:
    api, defn = Scope("service", "api"), DORA_24H
    failed = Refinement("failed")
    # d2 (i1), d3 (rollback d4, revert c6) and d5 (i3 within 24 h) failed: 3 of 5
    rows, total = records.deployments_and_total(org, defn, api, OCTOBER_1_TO_10, 2, 0, failed)
    assert ([r["id"] for r in rows], total) == (["t:d2", "t:d3"], 3)
    assert rows == records.deployments(org, defn, api, OCTOBER_1_TO_10, 2, 0, failed)
    # the last page, and a page past the end, which counts apart
    assert records.deployments_and_total(org, defn, api, OCTOBER_1_TO_10, 2, 2, failed)[1] == 3
    assert records.deployments_and_total(org, defn, api, OCTOBER_1_TO_10, 2, 9, failed) == ([], 3)
    assert records.total(org, "deployments", defn, api, OCTOBER_1_TO_10, failed) == 3


def test_drill_down_of_changes_and_incidents(org: Store) -> None:
    changes = {
        c["id"]: c
        for c in records.changes(org, PRESETS["dora"], Scope("service", "api"), OCTOBER_1_TO_10)
    }
    assert changes["t:c3"]["deployment_id"] == "t:d2"
    assert changes["t:c3"]["lead_time_s"] == 28800.0  # 04:00Z → 12:00Z

    # Incidents are blamed by the definition's rule, as the metrics blame them:
    def blamed(defn: Definition) -> dict[str, tuple[str | None, str | None, str]]:
        listed = records.incidents(org, defn, Scope("service", "api"), OCTOBER_1_TO_10)
        return {
            i["id"]: (i["deployment_id"], i["attribution"], i["attribution_rule"]) for i in listed
        }

    named = ("t:d2", "named", "the incident names this deployment as its cause")
    # dora's 30 minutes: i3 opened 2 h after d5 and i2 48 h after it, so neither is blamed
    assert blamed(PRESETS["dora"]) == {
        "t:i1": named,
        "t:i3": (None, None, "no deployment within the attribution window (30 min)"),
        "t:i2": (None, None, "no deployment within the attribution window (30 min)"),
    }
    # a 24-hour window blames i3 on d5, not i2
    within_24h = (
        "latest production deployment of the service finished within 24 h before the "
        "incident opened"
    )
    assert blamed(DORA_24H) == {
        "t:i1": named,
        "t:i3": ("t:d5", "window", within_24h),
        "t:i2": (None, None, "no deployment within the attribution window (24 h)"),
    }
    # devlake blames the latest deployment before each, however long before, and reads no
    # named cause: i1 opened after d2 finished, so d2 is its latest too
    latest = "latest production deployment of the service before the incident opened"
    devlake = blamed(PRESETS["devlake"])
    assert devlake["t:i1"] == ("t:d2", "window", latest)
    assert devlake["t:i3"] == ("t:d5", "window", latest)
    assert devlake["t:i2"] == ("t:d5", "window", latest)


def _at(day: int, hour: int) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def test_negative_spans_are_left_out_and_counted(store: Store, engine_settings: Settings) -> None:
    # Given two deployments, five changes (two of them "started" after they shipped: clock
    # skew between git and the CI) and two incidents (one resolved before its cause finished)
    history: list[Any] = [
        Service("api"),
        Deployment("ci", "d1", "api", _at(2, 12)),
        Deployment("ci", "d2", "api", _at(4, 12)),
        Change(
            "gh",
            "c1",
            "api",
            first_commit_at=_at(2, 10),
            merged_at=_at(1, 9),
            deployment_ref="ci:d1",
        ),
        Change(
            "gh",
            "c2",
            "api",
            first_commit_at=_at(2, 11),
            merged_at=_at(1, 9),
            deployment_ref="ci:d1",
        ),
        Change(
            "gh",
            "c3",
            "api",
            first_commit_at=_at(2, 13),
            merged_at=_at(1, 9),
            deployment_ref="ci:d1",
        ),
        Change(
            "gh",
            "c4",
            "api",
            first_commit_at=_at(3, 12),
            merged_at=_at(1, 9),
            deployment_ref="ci:d2",
        ),
        Change(
            "gh",
            "c5",
            "api",
            first_commit_at=_at(5, 12),
            merged_at=_at(1, 9),
            deployment_ref="ci:d2",
        ),
        Incident("pd", "i1", "api", _at(2, 13), resolved_at=_at(2, 15), cause_ref="ci:d1"),
        Incident("pd", "i2", "api", _at(4, 10), resolved_at=_at(4, 11), cause_ref="ci:d2"),
    ]
    ingest(store, engine_settings, history)
    # When the metrics are computed under DORA
    m = dora.compute(store, PRESETS["dora"], Scope(), OCTOBER_1_TO_10).to_json()
    # Then lead time keeps c1 7200, c2 3600, c4 86400 (median 7200, mean 97200 / 3 = 32400)
    # and leaves out c3 (−3600) and c5 (−86400), saying so
    lead = m["change_lead_time"]
    assert (lead["changes"], lead["median_s"], lead["mean_s"]) == (3, 7200.0, 32400.0)
    assert lead["negative"] == 2
    note = "2 changes had a negative lead time (end before start) and were left out"
    assert lead["notes"] == [note]
    # and recovery keeps d1 → i1 resolved, 3 h, and leaves out d2, fixed an hour before it
    # finished (still counted as failed and recovered)
    rec = m["failed_deployment_recovery_time"]
    assert (rec["recoveries"], rec["median_s"], rec["unrecovered"]) == (1, 10800.0, 0)
    assert rec["negative"] == 1
    rec_note = "1 recovery had a negative recovery time (end before start) and was left out"
    assert rec["notes"] == [rec_note]
    assert m["change_fail_rate"]["failed"] == 2
    # and the table prints both notes as warnings
    assert m["warnings"] == [note, rec_note]
    # and the records list shows no lead time for a change that ran backwards
    listed = records.changes(store, PRESETS["dora"], Scope(), OCTOBER_1_TO_10)
    rows = {r["id"]: r["lead_time_s"] for r in listed}
    assert rows == {
        "gh:c1": 7200.0,
        "gh:c2": 3600.0,
        "gh:c3": None,
        "gh:c4": 86400.0,
        "gh:c5": None,
    }
