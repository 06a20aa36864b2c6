"""Flow breakdown: lead time cut into stages, on a scenario small enough to add up by hand.

Service `api` (team `core`), three changes, times on 2026-10-05 (hours):

  change a: commit 0, opened 2, first review 3, approved 10, merged 11, shipped by d1 at 13
            a change-advisory gate requested 5, decided 10
            coding 2, pickup 1, review 7-5=2, approval wait 5, merge wait 1, deploy wait 2 → 13
  change b: commit 0, opened 4, review 5, approved 7, merged 7.5, shipped by d2 at 9.5 on 2026-10-06
            (times on 10-06)
            coding 4, pickup 1, review 2, merge wait 0.5, deploy wait 2, no gate → 9.5
  change c: the same as b on 2026-10-07, shipped by d3 at 9.5 → 9.5

Totals: lead 32 h; coding 10, pickup 3, review 6, approval 5, merge 2, deploy 6 (= 32).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import flow
from headway.metrics.dora import Period, Scope
from headway.model import Approval, Change, Deployment, Service
from headway.store import Store, open_store

H = 3600.0
WEEK = Period(datetime(2026, 10, 5), datetime(2026, 10, 12))


def at(day: int, hours: float) -> datetime:
    return datetime(2026, 10, day, tzinfo=UTC) + timedelta(hours=hours)


def scenario() -> list[Any]:
    def change(cid: str, day: int, times: tuple[float, ...], dep: str) -> Change:
        c, o, r, a, m = times
        return Change(
            "t",
            cid,
            "api",
            first_commit_at=at(day, c),
            opened_at=at(day, o),
            first_review_at=at(day, r),
            approved_at=at(day, a),
            merged_at=at(day, m),
            additions=10,
            deletions=5,
            deployment_ref=f"t:{dep}",
        )

    return [
        Service("api", team="core", context="customer-facing"),
        Deployment("t", "d1", "api", finished_at=at(5, 13), started_at=at(5, 12.5)),
        Deployment("t", "d2", "api", finished_at=at(6, 9.5), started_at=at(6, 9)),
        Deployment("t", "d3", "api", finished_at=at(7, 9.5), started_at=at(7, 9)),
        change("a", 5, (0, 2, 3, 10, 11), "d1"),
        change("b", 6, (0, 4, 5, 7, 7.5), "d2"),
        change("c", 7, (0, 4, 5, 7, 7.5), "d3"),
        Approval(
            "t",
            "cab-a",
            kind="change_advisory",
            change_ref="t:a",
            service="api",
            requested_at=at(5, 5),
            decided_at=at(5, 10),
            decision="approved",
        ),
    ]


@pytest.fixture
def small(store: Store, engine_settings: Settings) -> Store:
    ingest(store, engine_settings, scenario())
    return store


def test_stages_medians_and_shares_add_up(small: Store) -> None:
    result = flow.breakdown(small, PRESETS["dora"], Scope("service", "api"), WEEK).to_json()
    stages = {s["stage"]: s for s in result["stages"]}

    assert result["changes"] == 3
    # lead times 13, 9.5, 9.5 h: median 9.5 h; total 32 h
    assert result["end_to_end"]["median_s"] == 9.5 * H
    assert result["end_to_end"]["total_s"] == 32 * H
    # coding 2, 4, 4 → median 4 h, share 10/32
    assert stages["coding"]["median_s"] == 4 * H
    assert stages["coding"]["share"] == round(10 / 32, 4)
    # review excludes the 5 h spent in the gate: 2, 2, 2
    assert stages["review"]["median_s"] == 2 * H
    assert stages["review"]["share"] == round(6 / 32, 4)
    # only change a has a gate: one value, too few for a median, and the note says so
    assert stages["approval_wait"]["n"] == 1
    assert stages["approval_wait"]["median_s"] is None
    assert stages["approval_wait"]["notes"] == ["a median needs at least 3 changes; there are 1"]
    assert stages["approval_wait"]["share"] == round(5 / 32, 4)
    # merge 1, .5, .5 → median .5 h; deploy 2, 2, 2 → 2 h
    assert stages["merge_wait"]["median_s"] == 0.5 * H
    assert stages["deploy_wait"]["median_s"] == 2 * H
    assert sum(s["share"] for s in result["stages"]) == pytest.approx(1.0, abs=1e-3)
    # a p90 needs 10 changes; three are too few
    assert stages["coding"]["p90_s"] is None
    assert "a p90 needs at least 10 changes; there are 3" in stages["coding"]["notes"]
    # coding (10 h) dominates; of the waits, deploy wait (6 h) beats approval wait (5 h)
    assert result["dominant_stage"] == "coding"
    assert result["longest_wait"] == "deploy_wait"


def test_a_deployment_gate_after_merge_is_approval_wait_not_deploy_wait(
    store: Store, engine_settings: Settings
) -> None:
    # change b merged 7.5, deployed 9.5; a deployment gate waits 8.0 → 9.0 inside that window:
    # approval wait 1 h, deploy wait 2 - 1 = 1 h
    records = [r for r in scenario() if getattr(r, "source_id", "") not in ("a", "c", "cab-a")]
    records.append(
        Approval(
            "t",
            "gate-d2",
            kind="deployment_gate",
            deployment_ref="t:d2",
            service="api",
            requested_at=at(6, 8),
            decided_at=at(6, 9),
        )
    )
    ingest(store, engine_settings, records)
    [b] = flow.change_flows(store, PRESETS["dora"], ["api"], WEEK)
    assert b.stages["approval_wait"] == 1 * H
    assert b.stages["deploy_wait"] == 1 * H
    assert b.lead_s == 9.5 * H


def test_lead_time_from_merge_leaves_earlier_stages_out(small: Store) -> None:
    defn = PRESETS["dora"].model_copy(
        update={"lead_time": PRESETS["dora"].lead_time.model_copy(update={"start": "merged"})}
    )
    result = flow.breakdown(small, defn, Scope(), WEEK).to_json()
    stages = {s["stage"]: s for s in result["stages"]}
    assert stages["coding"]["n"] == 0
    assert stages["coding"]["notes"][0].startswith("no data")
    # lead from merge: 2, 2, 2 h, all of it deploy wait
    assert stages["deploy_wait"]["share"] == 1.0


def test_weekly_trend_and_each_team(small: Store) -> None:
    result = flow.breakdown(small, PRESETS["dora"], Scope("team", "core"), WEEK, by="week")
    # the week of Monday 2026-10-05 holds all three changes
    assert [t["changes"] for t in result.trend] == [3]
    assert result.trend[0]["dominant_stage"] == "coding"
    each = flow.breakdown_each(small, PRESETS["dora"], "team", WEEK)
    assert [e.scope.name for e in each] == ["core"]


def _cli(*args: str) -> Any:
    return CliRunner().invoke(app, list(args))


def test_cli_json_matches_the_service_and_bad_input_is_explained() -> None:
    settings = get_settings()
    store = open_store(settings)
    ingest(store, settings, scenario())
    store.close()
    out = _cli(
        "flow",
        "--service",
        "api",
        "--since",
        "2026-10-05",
        "--until",
        "2026-10-11",
        "--format",
        "json",
    )
    assert out.exit_code == 0, out.output
    doc = orjson.loads(out.output)
    assert doc["dominant_stage"] == "coding"

    unknown = _cli("flow", "--team", "nobody")
    assert unknown.exit_code == 2
    assert "no team named 'nobody'; known teams: core" in unknown.output
    empty = _cli("flow", "--since", "2020-01-01", "--until", "2020-01-31")
    assert empty.exit_code == 0
    assert "no change shipped" in empty.output
    assert "Traceback" not in empty.output


def test_simulated_regulated_team_waits_for_approval_not_coding() -> None:
    assert _cli("demo", "--services", "4", "--days", "60").exit_code == 0
    out = _cli("flow", "--team", "payments", "--format", "json")
    doc = orjson.loads(out.output)
    stages = {s["stage"]: s["share"] for s in doc["stages"]}
    assert doc["dominant_stage"] == "approval_wait"
    assert stages["approval_wait"] > 2 * stages["coding"]
    healthy = orjson.loads(_cli("flow", "--team", "web", "--format", "json").output)
    assert healthy["dominant_stage"] != "approval_wait"


def backwards() -> list[Any]:
    """Two more changes whose timestamps run backwards (hours on their day):

    change n (2026-10-08): commit 0, opened 2, first review 1 (before the opening), approved 3,
        merged 2.5 (before the approval), shipped by d4 at 5; a change-advisory gate requested
        2.8 and decided 2.6 (decided before requested).
        coding 2, pickup -1 → left out, review 3 - 1 = 2 (a backwards gate takes nothing from
        it), approval wait -0.2 → left out, merge wait -0.5 → left out, deploy wait 2.5;
        lead 5.
    change s (2026-10-09): first commit 6 (a skewed clock), opened 2, review 3, approved 4,
        merged 4.5, shipped by d5 at 5.
        coding 2 - 6 = -4 → left out, pickup 1, review 1, merge wait 0.5, deploy wait 0.5;
        lead 5 - 6 = -1 → left out of lead time and of every share.
    """
    n = Change(
        "t",
        "n",
        "api",
        first_commit_at=at(8, 0),
        opened_at=at(8, 2),
        first_review_at=at(8, 1),
        approved_at=at(8, 3),
        merged_at=at(8, 2.5),
        deployment_ref="t:d4",
    )
    s = Change(
        "t",
        "s",
        "api",
        first_commit_at=at(9, 6),
        opened_at=at(9, 2),
        first_review_at=at(9, 3),
        approved_at=at(9, 4),
        merged_at=at(9, 4.5),
        deployment_ref="t:d5",
    )
    return [
        Deployment("t", "d4", "api", finished_at=at(8, 5), started_at=at(8, 4.8)),
        Deployment("t", "d5", "api", finished_at=at(9, 5), started_at=at(9, 4.8)),
        n,
        s,
        Approval(
            "t",
            "cab-n",
            kind="change_advisory",
            change_ref="t:n",
            service="api",
            requested_at=at(8, 2.8),
            decided_at=at(8, 2.6),
            decision="approved",
        ),
    ]


def test_negative_spans_are_counted_and_left_out_never_clamped(
    store: Store, engine_settings: Settings
) -> None:
    ingest(store, engine_settings, scenario() + backwards())
    doc = flow.breakdown(store, PRESETS["dora"], Scope("service", "api"), WEEK).to_json()
    stages = {s["stage"]: s for s in doc["stages"]}

    # all five changes shipped; s's lead time (-1 h) is left out: 13, 9.5, 9.5, 5 remain
    assert doc["changes"] == 5
    assert doc["end_to_end"]["n"] == 4
    assert doc["end_to_end"]["negative"] == 1
    assert doc["end_to_end"]["total_s"] == 37 * H
    assert doc["end_to_end"]["median_s"] == 9.5 * H
    assert doc["warnings"] == [
        "1 change had a negative lead time span (deployed before lead-time start) and was left out"
    ]
    # coding 2, 4, 4, 2 (s's -4 left out): median 3 h, not 2 as a clamped 0 would make it
    assert (stages["coding"]["n"], stages["coding"]["negative"]) == (4, 1)
    assert stages["coding"]["median_s"] == 3 * H
    # pickup 1, 1, 1, 1 (n's -1 left out)
    assert (stages["pickup"]["n"], stages["pickup"]["negative"]) == (4, 1)
    assert stages["pickup"]["median_s"] == 1 * H
    assert stages["pickup"]["notes"][-1] == (
        "1 change had a negative pickup span (first review before opened) and was left out"
    )
    # review 2, 2, 2, 2, 1: nothing negative
    assert (stages["review"]["n"], stages["review"]["negative"]) == (5, 0)
    assert stages["review"]["median_s"] == 2 * H
    # approval wait: a's 5 h; n's gate decided before it was requested is left out
    assert (stages["approval_wait"]["n"], stages["approval_wait"]["negative"]) == (1, 1)
    # merge wait 1, .5, .5, .5 (n's -0.5 left out)
    assert (stages["merge_wait"]["n"], stages["merge_wait"]["negative"]) == (4, 1)
    assert stages["merge_wait"]["median_s"] == 0.5 * H
    # deploy wait 2, 2, 2, 2.5, .5 → median 2 h
    assert (stages["deploy_wait"]["n"], stages["deploy_wait"]["negative"]) == (5, 0)
    assert stages["deploy_wait"]["median_s"] == 2 * H
    # shares are over the changes with a lead time (a, b, c, n; 37 h): pickup 1+1+1 = 3 h
    # (s's pickup is not in it), coding 2+4+4+2 = 12 h
    assert stages["pickup"]["share"] == round(3 / 37, 4)
    assert stages["coding"]["share"] == round(12 / 37, 4)


def test_the_table_says_how_many_spans_ran_backwards() -> None:
    settings = get_settings()
    store = open_store(settings)
    ingest(store, settings, scenario() + backwards())
    store.close()
    out = _cli("flow", "--service", "api", "--since", "2026-10-05", "--until", "2026-10-11")
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    assert "1 change had a negative pickup span (first review before opened) and was left out" in (
        text
    )
    assert "1 change had a negative merge wait span (merged before approved) and was left out" in (
        text
    )
    assert "warning: 1 change had a negative lead time span" in text
