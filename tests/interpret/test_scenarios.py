"""The labelled scenario suite: each hand-written history (tests/interpret/scenarios.py) gets
exactly the findings an expert reviewer would reach, and the healthy controls get none.

Given a history of one situation from the founding documents, when its April 2026 review's
findings are detected, then the problem findings are exactly the expected ones, positive
findings are the expected ones, and every finding names its remedy and its evidence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.interpret import review
from headway.interpret.findings import detect as detect_findings
from headway.metrics.concentration import concentration
from headway.metrics.scope import Scope
from headway.sources.files import parse_record
from headway.store import open_store
from tests.interpret.scenarios import APRIL, SCENARIOS, records


def findings(name: str, tmp_path: Path) -> list[dict[str, Any]]:
    settings = Settings(database=str(tmp_path / f"{name}.duckdb"))
    store = open_store(settings)
    try:
        ingest(store, settings, (parse_record(r, name) for r in records(name)))
        doc = detect_findings(store, PRESETS["dora"], Scope(), APRIL)
        found: list[dict[str, Any]] = doc["findings"]
        return found
    finally:
        store.close()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_gets_the_expert_reading(name: str, tmp_path: Path) -> None:
    scenario = SCENARIOS[name]
    found = findings(name, tmp_path)
    problems = {f["detector"] for f in found if f.get("kind", "problem") == "problem"}
    positive = {f["detector"] for f in found if f.get("kind") == "positive"}
    assert problems == scenario.expected, [f["statement"] for f in found]
    assert positive == scenario.positive, [f["statement"] for f in found]
    if scenario.healthy:
        assert not problems


def review_of(name: str, tmp_path: Path) -> dict[str, Any]:
    settings = Settings(database=str(tmp_path / f"{name}.duckdb"))
    store = open_store(settings)
    try:
        ingest(store, settings, (parse_record(r, name) for r in records(name)))
        doc: dict[str, Any] = review.build(store, PRESETS["dora"], Scope(), APRIL)
        return doc
    finally:
        store.close()


def test_every_finding_names_its_remedy_with_evidence_and_count(tmp_path: Path) -> None:
    for name in ("bundled", "speeding", "concentrated", "healthy_speedup"):
        for f in findings(name, tmp_path / name):
            assert f["remedy"]
            assert f["remedy"] != f["statement"]
            assert f["evidence"]["measures"]
            assert f["evidence"]["records_total"] == len(set(f["evidence"]["records"])) or (
                f["evidence"]["records_total"] > 50
            )


def test_a_sustained_trend_names_its_start_and_monthly_series(tmp_path: Path) -> None:
    [f] = findings("speeding", tmp_path)
    # deployments 20 26 32 38 44 50 a month: rising every month, Kendall's tau = 1
    assert f["since"] == "2025-11"
    series = f["evidence"]["series"]
    assert [p["month"] for p in series] == [
        "2025-11",
        "2025-12",
        "2026-01",
        "2026-02",
        "2026-03",
        "2026-04",
    ]
    # failures 1 2 3 5 7 9 of 20 26 32 38 44 50
    assert [p["change_fail_rate"] for p in series] == [0.05, 0.0769, 0.0938, 0.1316, 0.1591, 0.18]


def test_large_and_small_releases_are_shown_side_by_side(tmp_path: Path) -> None:
    [f] = [f for f in findings("bundled", tmp_path) if f["detector"] == "batch_size"]
    # 9 releases of 20 changes × 150 lines fail 6 times, 9 of 4 × 150 fail once
    large, small = f["evidence"]["groups"]
    assert (large["deployments"], large["failed"], large["median_lines"]) == (9, 6, 3000)
    assert (small["deployments"], small["failed"], small["median_lines"]) == (9, 1, 600)
    assert "smaller batches" in f["statement"]
    assert f["remedy"].startswith("Reduce batch size")


def test_the_governance_question_names_the_gate_that_costs_most(tmp_path: Path) -> None:
    doc = review_of("gated", tmp_path)
    governance = doc["questions"][1]
    # 12 change-advisory approvals of 72 h: 864 change-hours; 120 code reviews of 2 h 10 min
    assert governance["evidence"][0].startswith("change advisory: 12 approvals from 2025-11")
    assert "change advisory" in governance["answer_hint"]
    assert doc["findings"]["gates"][0]["approvals"] == 12


def test_recovery_is_set_against_rollback_capability(tmp_path: Path) -> None:
    doc = review_of("concentrated", tmp_path)
    split = doc["findings"]["recovery"]
    # 8 failures fixed forward in 40 h (+20 min to the incident), 9 rolled back in 1 h 20 min
    assert split["without_rollback"] == {"recoveries": 8, "median_s": 40 * 3600 + 1200}
    assert split["with_rollback"] == {"recoveries": 9, "median_s": 3600 + 1200}
    text = " ".join(doc["questions"][2]["evidence"])
    assert "8 recoveries since 2025-11 used no rollback" in text


def test_a_one_weekday_calendar_is_not_a_weekday_cluster() -> None:
    # ten releases, every one on a Tuesday, five failed: all failures on Tuesday, but so is
    # every release, so there is nothing to compare
    deployments = [{"day": "Tue", "failed": i % 2 == 0} for i in range(10)]
    weekday = concentration(deployments, lambda d: d["day"], lambda d: d["failed"], "deployments")
    assert weekday["index"] is None
    assert "same value (Tue)" in weekday["note"]


def test_slicing_rests_on_its_own_evidence_with_counts_and_examples(tmp_path: Path) -> None:
    [f] = findings("sliced", tmp_path)
    kinds = {k["kind"]: k for k in f["evidence"]["slicing_evidence"]}
    # April: 12 regular 120-line releases + 8 works × 4 parts of 8 lines, each part its own
    # deployment: 32 of 44 shipped only tiny diffs and 32 shipped a part of a split series;
    # February–March (40 releases of 120 lines) had neither
    assert set(kinds) == {"trivial", "split_series"}
    assert (kinds["trivial"]["deployments"], kinds["trivial"]["after"]) == (32, 0.7273)
    assert kinds["trivial"]["before"] == 0.0
    assert (kinds["split_series"]["series"], kinds["split_series"]["deployments"]) == (8, 32)
    assert len(kinds["split_series"]["example_series"]) == 4
    for example in kinds["trivial"]["examples"]:
        assert example in f["statement"]
        assert example in f["evidence"]["records"]
    assert (
        "32 deployments (73% of deployments that shipped a change, up from 0%)" in (f["statement"])
    )
    assert "in 8 series" in f["statement"]
    assert f["confidence_basis"].endswith("2 of 3 kinds of slicing evidence")
