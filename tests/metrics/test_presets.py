"""Each preset's rules on one hand-built week, every expected number worked out by hand from
the peer's documented rule (docs/presets.md), on both engines.

Service `web`, period Monday 2026-10-05 … Monday 2026-10-12 00:00:

  d0 deploy   10-05 09:50–10:00  the service's first deployment
  p0 PR       commit 07:00, opened 08:00, merged 09:00            → d0
  s1 staging  10-06 11:50–11:55
  c4 commit   commit 10:59:30, merged 11:00, names s1
  d1 deploy   10-06 11:50–12:00
  p1 PR       commit 08:00:30, opened 09:00, merged 10:00:10      → d1
  p2 PR       opened 09:30, commit 10:00 (after opening), merged 11:00 → d1
  c3 commit   commit 11:00, merged 11:10                          → d1
  c5 commit   commit 11:59:40, names d1 (20 s before it finished)
  i1          opened 10-06 12:20 (20 min after d1), resolved 13:00, names nothing
  i3          opened 10-07 09:00, resolved 10:00, names d1
  i2          opened 10-08 12:00 (two days after d1), resolved 13:00, names nothing
  d2 deploy   10-11 23:50 – 10-12 00:00, exactly at the period's end
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import dora, flow, records
from headway.metrics.scope import Period, Scope
from headway.sources.files import read_jsonl
from headway.store import Store

WEEK = Period(datetime(2026, 10, 5), datetime(2026, 10, 12))
WEB = Scope("service", "web")


def _d(sid: str, start: str, end: str, env: str = "production") -> dict[str, str]:
    return {
        "type": "deployment",
        "source": "t",
        "source_id": sid,
        "service": "web",
        "environment": env,
        "started_at": start,
        "finished_at": end,
    }


def _c(sid: str, **times: str) -> dict[str, object]:
    return {"type": "change", "source": "t", "source_id": sid, "service": "web", **times}


def _i(sid: str, opened: str, resolved: str, cause: str | None = None) -> dict[str, object]:
    out: dict[str, object] = {
        "type": "incident",
        "source": "t",
        "source_id": sid,
        "service": "web",
        "opened_at": opened,
        "resolved_at": resolved,
    }
    if cause:
        out["cause_ref"] = cause
    return out


RECORDS = [
    {"type": "service", "name": "web", "team": "shop", "context": "customer-facing"},
    _d("d0", "2026-10-05T09:50:00Z", "2026-10-05T10:00:00Z"),
    _c(
        "p0",
        number=10,
        first_commit_at="2026-10-05T07:00:00Z",
        opened_at="2026-10-05T08:00:00Z",
        merged_at="2026-10-05T09:00:00Z",
    ),
    _d("s1", "2026-10-06T11:50:00Z", "2026-10-06T11:55:00Z", env="staging"),
    _c(
        "c4",
        first_commit_at="2026-10-06T10:59:30Z",
        merged_at="2026-10-06T11:00:00Z",
        deployment_ref="t:s1",
    ),
    _d("d1", "2026-10-06T11:50:00Z", "2026-10-06T12:00:00Z"),
    _c(
        "p1",
        number=11,
        first_commit_at="2026-10-06T08:00:30Z",
        opened_at="2026-10-06T09:00:00Z",
        merged_at="2026-10-06T10:00:10Z",
    ),
    _c(
        "p2",
        number=12,
        first_commit_at="2026-10-06T10:00:00Z",
        opened_at="2026-10-06T09:30:00Z",
        merged_at="2026-10-06T11:00:00Z",
    ),
    _c("c3", first_commit_at="2026-10-06T11:00:00Z", merged_at="2026-10-06T11:10:00Z"),
    _c(
        "c5",
        first_commit_at="2026-10-06T11:59:40Z",
        merged_at="2026-10-06T11:59:45Z",
        deployment_ref="t:d1",
    ),
    _i("i1", "2026-10-06T12:20:00Z", "2026-10-06T13:00:00Z"),
    _i("i3", "2026-10-07T09:00:00Z", "2026-10-07T10:00:00Z", cause="t:d1"),
    _i("i2", "2026-10-08T12:00:00Z", "2026-10-08T13:00:00Z"),
    _d("d2", "2026-10-11T23:50:00Z", "2026-10-12T00:00:00Z"),
]


@pytest.fixture
def week(store: Store, engine_settings: Settings, tmp_path: Path) -> Store:
    path = tmp_path / "week.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RECORDS))
    ingest(store, engine_settings, read_jsonl(path))
    return store


def _metrics(store: Store, name: str) -> dict[str, object]:
    return dora.compute(store, PRESETS[name], WEB, WEEK).to_json()


def test_devlake(week: Store) -> None:
    m = _metrics(week, "devlake")
    freq = m["deployment_frequency"]
    # BETWEEN includes the end: d0, d1 and d2 (finished exactly at 10-12 00:00)
    assert freq["deployments"] == 3  # type: ignore[index]
    # spine: 10-12 back while later than 10-05 00:00 → 10-06 … 10-12 (10-05 left out); week of
    # 10-05 has deployment day 10-06 only (d0's 10-05 is off the spine): 1; week of 10-12: d2, 1;
    # lower median of [1, 1] = 1
    assert freq["deploy_days_per_week_median"] == 1.0  # type: ignore[index]
    lead = m["change_lead_time"]
    # pull requests only (c3, c4, c5 are commits); p0 shipped with d0, the first deployment,
    # which has no commit range and ships nothing. p1: coding 59.5 min → 60, opened→merged
    # 60 min 10 s → 61, deploy 119 min 50 s → 120: 241 min = 14460 s. p2: coding −30 min left
    # out, opened→merged 90, deploy 60: 150 min = 9000 s. Lower median of two: 9000.
    assert (lead["changes"], lead["median_s"]) == (2, 9000.0)  # type: ignore[index]
    # the latest successful production deployment before each incident, names ignored:
    # i1, i3, i2 → d1. One failed deployment of three.
    cfr = m["change_fail_rate"]
    assert (cfr["failed"], cfr["deployments"]) == (1, 3)  # type: ignore[index]
    # d1 finished 10-06 12:00 → i1 resolved 13:00 (60 min), i3 10-07 10:00 (1320 min), i2 10-08
    # 13:00 (2940 min); lower median of three: 1320 min = 79200 s
    rec = m["failed_deployment_recovery_time"]
    assert (rec["recoveries"], rec["median_s"]) == (3, 79200.0)  # type: ignore[index]


def test_fourkeys(week: Store) -> None:
    m = _metrics(week, "fourkeys")
    freq = m["deployment_frequency"]
    # every environment, the end excluded: d0, s1, d1
    assert freq["deployments"] == 3  # type: ignore[index]
    # the dashboard's days_deployed per Sunday-started week (TIMESTAMP_TRUNC(day, WEEK)): the
    # period's days 10-05 … 10-11 fall in the weeks of Sunday 10-04 (deployment days 10-05
    # and 10-06: 2) and Sunday 10-11 (none: 0); interpolated median of [0, 2] = 1 (Monday
    # weeks would give one week with 2)
    assert freq["deploy_days_per_week_median"] == 1.0  # type: ignore[index]
    lead = m["change_lead_time"]
    # whole minutes truncated, zero or less dropped: p0 180 min (d0), c4 55.5 → 55 min (s1, a
    # staging deployment counts), p1 239.5 → 239, p2 120, c3 60, c5 20 s → 0 dropped.
    # Interpolated median of [55, 60, 120, 180, 239] min: 120 min = 7200 s
    assert (lead["changes"], lead["median_s"]) == (5, 7200.0)  # type: ignore[index]
    # only i3 names its root cause, d1: one failed of three
    assert m["change_fail_rate"]["failed"] == 1  # type: ignore[index]
    # every resolved incident, whole hours: i1 40 min → 0 h, i2 1 h, i3 from d1 finishing
    # (earlier than its opening) 10-06 12:00 → 10-07 10:00 = 22 h. Median of [0, 1, 22] h = 1 h
    rec = m["failed_deployment_recovery_time"]
    assert (rec["recoveries"], rec["median_s"]) == (3, 3600.0)  # type: ignore[index]


def test_dora(week: Store) -> None:
    m = _metrics(week, "dora")
    freq = m["deployment_frequency"]
    # production, the end excluded: d0, d1; the period's days 10-05 … 10-11 are one week with
    # deployment days 10-05 and 10-06
    assert (freq["deployments"], freq["deploy_days_per_week_median"]) == (2, 2.0)  # type: ignore[index]
    lead = m["change_lead_time"]
    # exact seconds from the first commit: p0 10800, p1 14370, p2 7200, c3 3600, c5 20 (c4 went
    # out with a staging deployment only). Median of five: 7200
    assert (lead["changes"], lead["median_s"]) == (5, 7200.0)  # type: ignore[index]
    # i1 opened 20 min after d1, inside 30 minutes; i3 names d1; i2 is two days late: d1 failed
    assert m["change_fail_rate"]["failed"] == 1  # type: ignore[index]
    # d1 → its first fix, i1 resolved 13:00: 3600 s
    rec = m["failed_deployment_recovery_time"]
    assert (rec["recoveries"], rec["median_s"]) == (1, 3600.0)  # type: ignore[index]


def test_list_changes_never_names_a_deployment_the_definition_does_not_count(week: Store) -> None:
    rows = {r["id"]: r for r in records.changes(week, PRESETS["dora"], WEB, WEEK)}
    # c4 names s1, a staging deployment: under dora nothing shipped it
    assert rows["t:c4"]["deployment_id"] is None
    assert rows["t:p1"]["deployment_id"] == "t:d1"
    devlake = {r["id"]: r for r in records.changes(week, PRESETS["devlake"], WEB, WEEK)}
    # d0 is the first deployment: under devlake it shipped nothing
    assert devlake["t:p0"]["deployment_id"] is None


def test_devlake_flow_covers_every_merged_change(
    week: Store, engine_settings: Settings, tmp_path: Path
) -> None:
    # Given a review of p0 by someone else at 08:30 (p0 opened 08:00, merged 09:00)
    review = {
        "type": "approval",
        "source": "t",
        "source_id": "r0",
        "kind": "code_review",
        "change_ref": "t:p0",
        "service": "web",
        "decided_at": "2026-10-05T08:30:00Z",
        "decision": "approved",
        "actor": "bob",
    }
    path = tmp_path / "review.jsonl"
    path.write_text(json.dumps(review) + "\n")
    ingest(week, engine_settings, read_jsonl(path))
    devlake = PRESETS["devlake"]
    shipped_only = devlake.model_copy(
        update={"flow": devlake.flow.model_copy(update={"changes": "shipped"})}
    )
    # When the flow is cut under devlake (flow.changes = merged) and under the shipped rule
    merged = flow.breakdown(week, devlake, WEB, WEEK).to_json()
    shipped = flow.breakdown(week, shipped_only, WEB, WEEK).to_json()
    by_stage = {s["stage"]: s for s in merged["stages"]}
    shipped_stages = {s["stage"]: s for s in shipped["stages"]}
    # Then shipped covers what d1 shipped: p1, p2, c3, c5 (d0 is the first deployment and
    # ships nothing). Merged adds p0 (shipped by nothing) and c4 (staging only): 6 changes.
    assert (shipped["changes"], merged["changes"]) == (4, 6)
    # coding, first commit → opened: p1 08:00:30 → 09:00 = 3570 s, p2 negative (left out);
    # merged adds p0 07:00 → 08:00 = 3600 s
    assert (shipped_stages["coding"]["n"], by_stage["coding"]["n"]) == (1, 2)
    assert by_stage["coding"]["negative"] == 1
    # p0's pickup 08:00 → 08:30 and review 08:30 → merge 09:00: 1800 s each; no shipped
    # change has a review
    assert (shipped_stages["pickup"]["n"], by_stage["pickup"]["n"]) == (0, 1)
    assert (shipped_stages["review"]["n"], by_stage["review"]["n"]) == (0, 1)
    # deploy wait needs a deployment: the same four either way, p1 7190, p2 3600, c3 3000,
    # c5 15 s; lower median of four: 3000
    assert by_stage["deploy_wait"]["n"] == shipped_stages["deploy_wait"]["n"] == 4
    assert by_stage["deploy_wait"]["median_s"] == 3000.0
    # lead time only for the shipped four; the two unshipped are said
    assert merged["end_to_end"]["n"] == shipped["end_to_end"]["n"] == 4
    assert merged["end_to_end"]["notes"][-1].startswith("2 merged changes not shipped yet")


def test_devlake_recovery_counts_incidents_resolved_inside_the_window(week: Store) -> None:
    devlake = PRESETS["devlake"]
    # Given a window from 10-06 00:00 to 10-08 12:30 (the end included): d1 (12:00) is its
    # only production deployment; i1, i3 and i2 are all blamed on d1 and all opened inside it
    window = Period(datetime(2026, 10, 6), datetime(2026, 10, 8, 12, 30))
    rec = dora.compute(week, devlake, WEB, window).to_json()["failed_deployment_recovery_time"]
    # Then i2, opened 10-08 12:00 but resolved 13:00, after the end, is left out: i1 60 min
    # and i3 1320 min remain; lower median of two = 60 min = 3600 s
    assert (rec["recoveries"], rec["median_s"]) == (2, 3600.0)  # type: ignore[index]
    # (without the rule i2's 2940 min counts too: lower median of three, 1320 min)
    anywhen = devlake.model_copy(
        update={"recovery": devlake.recovery.model_copy(update={"resolved_in_window": False})}
    )
    old = dora.compute(week, anywhen, WEB, window).to_json()["failed_deployment_recovery_time"]
    assert (old["recoveries"], old["median_s"]) == (3, 79200.0)  # type: ignore[index]
    # Given a window from 10-06 12:30: i1 opened 12:20, before it, and was resolved 13:00,
    # inside it. An incident opened before a window is blamed on a deployment before it (the
    # latest before it opened, here d1 at 12:00), so it never counts: recovery is the blamed
    # deployment's, and only deployments finished in the window have one. Nothing recovers.
    later = Period(datetime(2026, 10, 6, 12, 30), datetime(2026, 10, 8, 12, 30))
    rec = dora.compute(week, devlake, WEB, later).to_json()["failed_deployment_recovery_time"]
    assert rec["recoveries"] == 0  # type: ignore[index]
