"""Detectors on the simulated organisation (patterns found, healthy teams quiet) and on small
hand-built histories (the arithmetic and the refusals)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import text

from headway import definitions as defs
from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.interpret import detectors, evidence
from headway.interpret.findings import detect as detect_findings
from headway.metrics.scope import Period, Scope
from headway.simulate import HEALTHY_TEAMS, PLANTED
from headway.sources.files import read_jsonl
from headway.store import Store
from tests.interpret.conftest import OCTOBER
from tests.metrics.test_dora import SMALL_ORG


@pytest.fixture(scope="module")
def october(sim_path: Any) -> dict[str, Any]:
    from headway.store import open_store

    store = open_store(Settings(database=str(sim_path)))
    try:
        return detect_findings(store, PRESETS["dora"], Scope(), OCTOBER)
    finally:
        store.close()


def by_team(doc: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for f in doc["findings"]:
        if f["scope"]["kind"] == "team":
            out.setdefault(f["scope"]["name"], set()).add(f["detector"])
    return out


def test_every_planted_pattern_is_found_in_its_team_and_nowhere_else(
    october: dict[str, Any],
) -> None:
    found = by_team(october)
    assert found == {team: {detector} for team, detector in PLANTED.items()}


def test_healthy_teams_produce_no_finding(october: dict[str, Any], sim: Store) -> None:
    found = by_team(october)
    for team in HEALTHY_TEAMS:
        assert team not in found
        alone = detect_findings(sim, PRESETS["dora"], Scope("team", team), OCTOBER)
        assert alone["findings"] == []


def test_the_organisation_wide_comparison_is_flagged_for_its_mixed_contexts(
    october: dict[str, Any],
) -> None:
    [context] = [f for f in october["findings"] if f["detector"] == "context"]
    assert context["scope"] == {"kind": "organisation", "name": None}
    assert "3 operating contexts (customer-facing, internal, regulated)" in context["statement"]
    assert context["evidence"]["contexts"]["payments"] == ["regulated"]


def test_a_finding_carries_statement_evidence_confidence_and_question(
    october: dict[str, Any],
) -> None:
    [theatre] = [f for f in october["findings"] if f["detector"] == "theatre"]
    assert theatre["title"] == "Delivery theatre"
    assert theatre["statement"].startswith("mobile: deployments rose from")
    measures = {m["measure"]: m for m in theatre["evidence"]["measures"]}
    share = measures["share shipping nothing user-visible"]
    assert share["after"] >= detectors.THEATRE_SHARE
    assert share["after"] >= share["before"] + detectors.THEATRE_RISE
    assert theatre["evidence"]["records"][0].startswith("sim:mobile-api/d")
    assert theatre["confidence"] in ("low", "medium", "high")
    assert theatre["question"] == evidence.QUESTIONS["theatre"]
    # the regulated team has too few deployments in a month: it is reported, not judged
    assert {s["team"] for s in october["not_assessed"]} == {"payments"}
    assert "need at least 10 deployments" in october["not_assessed"][0]["reason"]


def test_two_proportion_z() -> None:
    # 10/100 → 20/100: pooled p = .15, se = sqrt(.15 · .85 · (1/100 + 1/100)) = .050498,
    # z = .10 / .050498 = 1.9803
    assert evidence.z_rise(10, 100, 20, 100) == pytest.approx(1.9803, abs=1e-4)
    assert evidence.z_rise(0, 0, 5, 10) == 0.0


def test_a_definition_change_that_lowers_change_fail_rate_is_flagged(
    store: Store,
    engine_settings: Settings,
) -> None:
    # small_org under dora: 5 production deployments, 2 failed (d2 incident, d3 rollback and
    # revert; i3 opened 2 h after d5, beyond the 30-minute window) → 0.4. fourkeys counts every
    # environment (the staging deployment s1 too: 6) and fails only deployments an incident
    # names as its root cause (d2) → 1/6.
    # The switch happens on 2026-10-06.
    ingest(store, engine_settings, read_jsonl(SMALL_ORG))
    defs.set_active(store, PRESETS["dora"], author="ana", reason="start")
    defs.set_active(store, PRESETS["fourkeys"], author="bo", reason="match the old dashboard")
    moved = text("UPDATE definitions SET created_at = :at WHERE author = :author")
    store.run(moved, at=datetime(2026, 10, 1), author="ana")
    store.run(moved, at=datetime(2026, 10, 6), author="bo")
    period = Period(datetime(2026, 10, 1), datetime(2026, 10, 11))
    doc = detect_findings(store, PRESETS["fourkeys"], Scope("service", "api"), period)
    [finding] = [f for f in doc["findings"] if f["detector"] == "redefined"]
    change = finding["evidence"]["definition_change"]
    assert (change["from"], change["to"], change["author"]) == ("dora@2", "fourkeys@3", "bo")
    cfr = finding["evidence"]["measures"][0]
    assert (cfr["before"], cfr["after"]) == (0.4, 0.1667)
    assert "match the old dashboard" in finding["statement"]
