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

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app
from headway.config import Settings, get_settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import flow
from headway.metrics.flow_source import StoreFlow
from headway.metrics.scope import Period, Scope
from headway.metrics.stages import change_flows
from headway.metrics.waiting import UNSEEN_CODING
from headway.model import Approval, Change, Deployment, Service
from headway.store import Store, open_store
from tests.conftest import authorize

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
    [b] = change_flows(StoreFlow(store), PRESETS["dora"], ["api"], WEEK)
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
    # the demo's last 90 days, whatever today is
    window = ("--since", "2026-08-03", "--until", "2026-10-31")
    out = _cli("flow", "--team", "payments", *window, "--format", "json")
    doc = orjson.loads(out.output)
    stages = {s["stage"]: s["share"] for s in doc["stages"]}
    assert doc["dominant_stage"] == "approval_wait"
    assert stages["approval_wait"] > 2 * stages["coding"]
    healthy = orjson.loads(_cli("flow", "--team", "web", *window, "--format", "json").output)
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


def in_progress() -> list[Any]:
    """Work not yet with users at the end of WEEK (2026-10-12 00:00), beside scenario():

    open requests (age since opened / stage, age in it):
      p1 opened 10-11 12:00, no review                      12 h / pickup 12 h
      p2 opened 10-10 00:00, first review 10-13 (later)      48 h / pickup 48 h
      x2 opened 10-11 18:00, closed 10-13 (later)             6 h / pickup 6 h
      r1 opened 10-09 00:00, review 10-09 12:00              72 h / review 60 h
      g1 opened 10-08 00:00, review 01:00, change-advisory gate requested 06:00, undecided
                                                             96 h / approval wait 90 h
      m1 opened 10-11 00:00, review 01:00, approved 02:00, merged 10-12 03:00 (later)
                                                             24 h / merge wait 22 h
    merged, not deployed (age since merged / stage):
      u1 merged 10-10 00:00, shipped by d7 on 10-14          48 h / deploy wait 48 h
      u2 opened 10-11 19:00, merged 20:00, shipped by d6 finishing 10-12 01:00, whose
         deployment gate was requested 10-11 22:00 and decided 10-12 00:30
                                                              4 h / approval wait 2 h
    not waiting:
      x1 opened 10-06, closed 10-07 (given up);
      h1 merged 10-01, before api's first deployment (d1, 10-05 13:00), naming a deployment
         that is not stored (history before deployments were recorded);
      l1 merged 10-10 in service `lib`, outside the scope.

    open: 6, 12, 24, 48, 72, 96 h → oldest 96 h (g1), median (24 + 48) / 2 = 36 h
    undeployed: 48, 4 h → oldest 48 h (u1), too few for a median
    pickup 12, 48, 6 h → 3, oldest 48 h (p2), median 12 h; review 60 h; approval wait 90 h
    (g1), 2 h (u2); merge wait 22 h; deploy wait 48 h; coding: nothing is seen before opening.
    """

    def request(cid: str, opened: datetime | None, **times: Any) -> Change:
        return Change("t", cid, times.pop("service", "api"), opened_at=opened, **times)

    def gate(gid: str, requested: datetime, decided: datetime | None, **ref: str) -> Approval:
        kind = "deployment_gate" if "deployment_ref" in ref else "change_advisory"
        return Approval("t", gid, kind=kind, service="api", requested_at=requested,
                        decided_at=decided, **ref)  # fmt: skip

    return [
        Service("lib", team="core"),
        request("p1", at(11, 12)),
        request("p2", at(10, 0), first_review_at=at(13, 0)),
        request("x2", at(11, 18), closed_at=at(13, 0)),
        request("r1", at(9, 0), first_review_at=at(9, 12)),
        request("g1", at(8, 0), first_review_at=at(8, 1)),
        gate("cab-g1", at(8, 6), None, change_ref="t:g1"),
        request(
            "m1", at(11, 0), first_review_at=at(11, 1), approved_at=at(11, 2), merged_at=at(12, 3)
        ),
        request("u1", None, merged_at=at(10, 0), deployment_ref="t:d7"),
        request("u2", at(11, 19), merged_at=at(11, 20), deployment_ref="t:d6"),
        Deployment("t", "d6", "api", finished_at=at(12, 1), started_at=at(12, 0.75)),
        gate("gate-d6", at(11, 22), at(12, 0.5), deployment_ref="t:d6"),
        Deployment("t", "d7", "api", finished_at=at(14, 1), started_at=at(14, 0.5)),
        request("x1", at(6, 0), closed_at=at(7, 0)),
        request("h1", None, merged_at=at(1, 0), deployment_ref="t:gone"),
        request("l1", None, merged_at=at(10, 0), service="lib"),
    ]


def test_work_in_progress_waits_in_queues_by_stage(store: Store, engine_settings: Settings) -> None:
    ingest(store, engine_settings, scenario() + in_progress())
    later = datetime(2026, 10, 20)  # the week ended before "now": ages at its end
    doc = flow.breakdown(store, PRESETS["dora"], Scope("service", "api"), WEEK, now=later).to_json()
    waiting = doc["waiting"]
    stages = {s["stage"]: s for s in waiting["stages"]}

    assert doc["changes"] == 3  # a, b and c shipped; nothing in progress is in the stages
    assert waiting["as_of"] == "2026-10-12T00:00:00Z"
    assert waiting["as_of_rule"] == "the end of the period"
    assert waiting["open"] | {"description": ""} == {
        "description": "",
        "changes": 6,
        "oldest_s": 96 * H,
        "oldest_change": "t:g1",
        "median_s": 36 * H,
        "notes": [],
    }
    assert waiting["undeployed"]["changes"] == 2
    assert (waiting["undeployed"]["oldest_s"], waiting["undeployed"]["oldest_change"]) == (
        48 * H,
        "t:u1",
    )
    assert waiting["undeployed"]["median_s"] is None
    assert waiting["undeployed"]["notes"] == ["a median needs at least 3 changes; there are 2"]
    assert {s: v["changes"] for s, v in stages.items()} == {
        "coding": 0,
        "pickup": 3,
        "review": 1,
        "approval_wait": 2,
        "merge_wait": 1,
        "deploy_wait": 1,
    }
    assert stages["coding"]["notes"] == [UNSEEN_CODING]
    assert (stages["pickup"]["oldest_s"], stages["pickup"]["oldest_change"]) == (48 * H, "t:p2")
    assert stages["pickup"]["median_s"] == 12 * H
    assert stages["review"]["oldest_s"] == 60 * H
    assert (stages["approval_wait"]["oldest_s"], stages["approval_wait"]["oldest_change"]) == (
        90 * H,
        "t:g1",
    )
    assert stages["merge_wait"]["oldest_s"] == 22 * H
    assert stages["deploy_wait"]["oldest_s"] == 48 * H


def test_a_period_ending_later_measures_waiting_work_now(
    store: Store, engine_settings: Settings
) -> None:
    # "now" is 10-11 12:00, before the week ends: p1 (opened at that instant), x2 and u2 are
    # not open yet. Open: p2 36 h, r1 60 h, g1 84 h, m1 12 h → median (36 + 60) / 2 = 48 h;
    # m1 approved at 02:00 waits to be merged 10 h; u1 waits for a deployment 36 h.
    ingest(store, engine_settings, scenario() + in_progress())
    now = datetime(2026, 10, 11, 12)
    waiting = flow.breakdown(store, PRESETS["dora"], Scope("service", "api"), WEEK, now=now)
    doc = waiting.to_json()["waiting"]
    stages = {s["stage"]: s for s in doc["stages"]}

    assert doc["as_of"] == "2026-10-11T12:00:00Z"
    assert doc["as_of_rule"] == "the current time: the period ends later"
    assert (doc["open"]["changes"], doc["open"]["median_s"]) == (4, 48 * H)
    assert (doc["open"]["oldest_s"], doc["open"]["oldest_change"]) == (84 * H, "t:g1")
    assert (doc["undeployed"]["changes"], doc["undeployed"]["oldest_s"]) == (1, 36 * H)
    assert stages["merge_wait"]["oldest_s"] == 10 * H
    assert stages["pickup"]["changes"] == 1


def test_lead_time_from_merge_counts_no_open_request_in_a_stage(
    store: Store, engine_settings: Settings
) -> None:
    # the definition's lead time starts at the merge: open requests wait before it, so only
    # deploy wait holds work (u1); as in the shipped breakdown, approval wait is outside lead
    # time under this definition, so u2's pending deployment gate is noted, not counted
    ingest(store, engine_settings, scenario() + in_progress())
    defn = PRESETS["dora"].model_copy(
        update={"lead_time": PRESETS["dora"].lead_time.model_copy(update={"start": "merged"})}
    )
    later = datetime(2026, 10, 20)
    doc = flow.breakdown(store, defn, Scope("service", "api"), WEEK, now=later).to_json()
    stages = {s["stage"]: s for s in doc["waiting"]["stages"]}
    assert doc["waiting"]["open"]["changes"] == 6
    assert {s: v["changes"] for s, v in stages.items() if v["changes"]} == {"deploy_wait": 1}
    assert stages["pickup"]["notes"] == [
        "3 changes wait here, not counted: lead time under this definition starts at merged"
        " and leaves pickup out"
    ]
    assert stages["approval_wait"]["notes"][0].startswith("2 changes wait here")


def test_the_api_and_cli_show_work_in_progress(store: Store, engine_settings: Settings) -> None:
    ingest(store, engine_settings, scenario() + in_progress())
    params = {"service": "api", "since": "2026-10-05", "until": "2026-10-11"}
    with TestClient(create_app(engine_settings)) as client:
        authorize(client)
        response = client.get("/api/flow", params=params)
    assert response.status_code == 200
    waiting = response.json()["waiting"]
    # the clock is past 2026-10-12, so the week's end is "now"
    assert (waiting["as_of"], waiting["open"]["changes"]) == ("2026-10-12T00:00:00Z", 6)


def test_the_cli_table_and_csv_show_what_waits_and_as_of_when() -> None:
    settings = get_settings()
    store = open_store(settings)
    ingest(store, settings, scenario() + in_progress())
    store.close()
    period = ("--service", "api", "--since", "2026-10-05", "--until", "2026-10-11")
    out = _cli("flow", *period)
    assert out.exit_code == 0, out.output
    text = " ".join(out.output.split())
    # the clock is past the week: ages at its end, and the table says so
    assert (
        "Waiting at 2026-10-12 00:00 UTC (the end of the period) · 6 open requests, oldest 4.0 d"
        " · 2 merged, not deployed, oldest 2.0 d"
    ) in text
    # pickup: 3 waiting, the oldest p2 (48 h = 2.0 d), median 12 h
    assert "│ pickup │ opened │ 3 │ 2.0 d (t:p2) │ 12.0 h │" in text
    assert UNSEEN_CODING in text

    rows = list(csv.DictReader(io.StringIO(_cli("flow", *period, "--format", "csv").output)))
    pickup = next(r for r in rows if r["stage"] == "pickup")
    assert (pickup["waiting"], pickup["waiting_oldest_s"]) == ("3", str(48 * H))
    assert pickup["waiting_as_of"] == "2026-10-12T00:00:00Z"
