"""Friction signals on a week small enough to count by hand.

Service `api`, week of Monday 2026-10-05:

  d1 deploy   Mon 10:00, started 09:50 (10 min); ships c1 (20+10 = 30 lines, labelled ai-assisted)
              pipeline runs: one failed, one passed; a deployment gate waited 08:00 → 09:00
  d2 deploy   Tue 14:00, started 13:40 (20 min); ships c2 (3+2 = 5 lines)
              incident i1 (latency) names d2 → d2 failed
  d3 deploy   Wed 10:00, started 09:30 (30 min); ships nothing
  d4 rollback Wed 15:00, started 14:55 (5 min); repairs d2 → rework
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import signals
from headway.metrics.concentration import concentration
from headway.metrics.scope import Period, Scope
from headway.model import Approval, Change, Deployment, Incident, PipelineRun, Service
from headway.store import Store, open_store

WEEK = Period(datetime(2026, 10, 5), datetime(2026, 10, 12))


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def scenario() -> list[Any]:
    return [
        Service("api", team="core", context="internal"),
        Deployment("t", "d1", "api", finished_at=at(5, 10), started_at=at(5, 9, 50)),
        Deployment("t", "d2", "api", finished_at=at(6, 14), started_at=at(6, 13, 40)),
        Deployment("t", "d3", "api", finished_at=at(7, 10), started_at=at(7, 9, 30)),
        Deployment(
            "t",
            "d4",
            "api",
            finished_at=at(7, 15),
            started_at=at(7, 14, 55),
            kind="rollback",
            recovers="t:d2",
        ),
        Change(
            "t",
            "c1",
            "api",
            first_commit_at=at(5, 1),
            merged_at=at(5, 8),
            additions=20,
            deletions=10,
            labels=("ai-assisted",),
            deployment_ref="t:d1",
        ),
        Change(
            "t",
            "c2",
            "api",
            first_commit_at=at(6, 2),
            merged_at=at(6, 12),
            additions=3,
            deletions=2,
            deployment_ref="t:d2",
        ),
        PipelineRun("t", "p1", "api", conclusion="failure", deployment_ref="t:d1"),
        PipelineRun("t", "p2", "api", conclusion="success", deployment_ref="t:d1"),
        Approval(
            "t",
            "g1",
            kind="deployment_gate",
            deployment_ref="t:d1",
            service="api",
            requested_at=at(5, 8),
            decided_at=at(5, 9),
            decision="approved",
        ),
        Incident(
            "t",
            "i1",
            "api",
            opened_at=at(6, 15),
            resolved_at=at(6, 16),
            labels=("latency",),
            cause_ref="t:d2",
        ),
    ]


@pytest.fixture
def doc(store: Store, engine_settings: Settings) -> dict[str, Any]:
    ingest(store, engine_settings, scenario())
    return signals.compute(store, PRESETS["dora"], Scope("service", "api"), WEEK)


def test_batch_size_and_friction(doc: dict[str, Any]) -> None:
    batch = doc["batch_size"]
    # shipping deployments d1, d2, d3: changes 1, 1, 0; lines 30, 5, 0
    assert batch["deployments"] == 3
    assert batch["changes_per_deployment"]["median"] == 1.0
    assert batch["lines_per_deployment"]["median"] == 5.0
    assert (batch["empty"], batch["empty_share"]) == (1, round(1 / 3, 4))
    assert batch["trivial"] == 1  # d2's 5 lines
    friction = doc["deployment_friction"]
    # four counted deployments: failed runs 1, 0, 0, 0; durations 600 1200 1800 300 s
    assert friction["failed_runs_per_deployment"] == 0.25
    assert friction["duration"]["median_s"] == 900.0  # (600 + 1200) / 2
    assert friction["manual_gates_per_deployment"] == 0.25  # d1's one gate


def test_small_samples_say_what_they_need(doc: dict[str, Any]) -> None:
    gate = doc["approval_latency"]["deployment_gate"]
    assert gate["n"] == 1
    assert gate["median_s"] is None
    assert gate["notes"] == ["a median needs at least 3 approvals; there are 1"]
    # one failure (d2) among d1..d3: too few for a concentration index
    service = doc["failure_concentration"]["by"]["service"]
    assert service["index"] is None
    assert service["note"] == "a concentration index needs at least 5 hits; there are 1"
    ai = doc["ai_assisted"]
    assert (ai["ai_assisted"]["changes"], ai["other"]["changes"]) == (1, 1)
    assert ai["ai_assisted"]["failure_rate"] is None
    assert ai["records"] == ["t:c1"]


def test_rework_rollbacks_and_themes(doc: dict[str, Any]) -> None:
    # d4 repairs d2: 1 of 4 counted deployments is rework
    assert (doc["rework"]["rework"], doc["rework"]["rate"]) == (1, 0.25)
    assert doc["rollback_clustering"]["rollbacks"] == 1
    assert doc["rollback_clustering"]["bursts"] == []
    [theme] = doc["incident_themes"]["themes"]
    assert (theme["theme"], theme["incidents"], theme["attributed"]) == ("latency", 1, 1)


def test_concentration_index_is_zero_when_failures_follow_deployments() -> None:
    def deps(service: str, n: int, failed: int) -> list[dict[str, Any]]:
        return [{"service": service, "failed": i < failed} for i in range(n)]

    spread = concentration(
        deps("a", 10, 3) + deps("b", 10, 3),
        lambda d: d["service"],
        lambda d: d["failed"],
        "deployments",
    )
    assert spread["index"] == 0.0
    # all 5 failures in a, which has half the deployments: ½(|1 − ½| + |0 − ½|) = 0.5
    clustered = concentration(
        deps("a", 5, 5) + deps("b", 5, 0),
        lambda d: d["service"],
        lambda d: d["failed"],
        "deployments",
    )
    assert clustered["index"] == 0.5
    assert clustered["groups"][0] == {
        "value": "a",
        "deployments": 5,
        "hits": 5,
        "rate": 1.0,
        "share_of_hits": 1.0,
    }


def test_ai_rule_recognises_labels_bot_authors_and_trailers() -> None:
    rule = signals.AiRule(labels=("ai",), authors=("helper[bot]",), trailers=("Assisted-by:",))
    assert rule.matches(["AI"], None, None)
    assert rule.matches([], "helper[bot]", None)
    assert rule.matches([], "dev1", "Fix login\n\nAssisted-by: an agent")
    assert not rule.matches(["bug"], "dev1", "Fix login")


def test_cli_signals_json_with_a_custom_ai_rule_and_unknown_team() -> None:
    settings = get_settings()
    store = open_store(settings)
    ingest(store, settings, scenario())
    store.close()
    runner = CliRunner()
    out = runner.invoke(
        app,
        [
            "signals",
            "--since",
            "2026-10-05",
            "--until",
            "2026-10-11",
            "--ai-label",
            "nothing-matches",
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert orjson.loads(out.output)["ai_assisted"]["ai_assisted"]["changes"] == 0
    table = runner.invoke(app, ["signals", "--since", "2026-10-05", "--until", "2026-10-11"])
    assert "batch size" in table.output
    bad = runner.invoke(app, ["signals", "--team", "nobody"])
    assert bad.exit_code == 2
    assert "no team named 'nobody'" in bad.output


def _on(day: int, hour: int) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=UTC)


def test_backward_spans_are_left_out_of_the_signals_and_counted(
    store: Store, engine_settings: Settings
) -> None:
    # Given three deployments, one "finishing" an hour before it started (planted around the
    # writers); three changes, one first committed after it shipped; and three gate
    # approvals, one decided before it was requested
    history: list[Any] = [
        Service("api"),
        Deployment("ci", "d1", "api", _on(2, 12), started_at=_on(2, 11)),
        Deployment("ci", "d2", "api", _on(3, 12), started_at=_on(3, 10)),
        Deployment("ci", "d3", "api", _on(4, 12), started_at=_on(4, 13)),
        Change("gh", "c1", "api", first_commit_at=_on(2, 8), deployment_ref="ci:d1"),
        Change("gh", "c2", "api", first_commit_at=_on(3, 6), deployment_ref="ci:d2"),
        Change("gh", "c3", "api", first_commit_at=_on(4, 14), deployment_ref="ci:d3"),
        *(
            Approval(
                "ci",
                f"a{i}",
                "security",
                deployment_ref="ci:d1",
                service="api",
                requested_at=_on(2, asked),
                decided_at=_on(2, decided),
            )
            for i, (asked, decided) in enumerate([(1, 2), (3, 5), (6, 4)])
        ),
    ]
    ingest(store, engine_settings, history)
    doc = signals.compute(
        store, PRESETS["dora"], Scope(), Period(datetime(2026, 10, 1), datetime(2026, 10, 8))
    )
    # Then deployment duration keeps d1 3600 s and d2 7200 s and leaves out d3 (−3600)
    duration = doc["deployment_friction"]["duration"]
    assert (duration["n"], duration["negative"]) == (2, 1)
    # lead time keeps c1 4 h and c2 6 h and leaves out c3 (2 h after d3 shipped)
    lead = doc["lead_time_variance"]
    assert (lead["n"], lead["negative"]) == (2, 1)
    # approval wait keeps 3600 and 7200 and leaves out the gate decided 2 h before it was asked
    gate = doc["approval_latency"]["security"]
    assert (gate["n"], gate["negative"]) == (2, 1)
    assert gate["notes"][-1] == (
        "1 approval had a negative approval wait span (decided before requested) and was left out"
    )
    # and each is told among the warnings the table prints
    assert doc["warnings"] == [
        "1 approval had a negative approval wait span (decided before requested) and was left out",
        "1 change had a negative lead time span (deployed before lead-time start) and was left out",
        "1 deployment had a negative duration span (finished before started) and was left out",
    ]
