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
from headway.interpret import detectors
from headway.metrics.dora import Scope
from headway.sources.files import parse_record
from headway.store import open_store
from tests.interpret.scenarios import APRIL, SCENARIOS, records


def findings(name: str, tmp_path: Path) -> list[dict[str, Any]]:
    settings = Settings(database=str(tmp_path / f"{name}.duckdb"))
    store = open_store(settings)
    try:
        ingest(store, settings, (parse_record(r, name) for r in records(name)))
        doc = detectors.detect(store, PRESETS["dora"], Scope(), APRIL)
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
