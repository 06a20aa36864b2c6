"""Flow, signals and findings run their queries on both engines and must agree exactly."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.interpret.findings import detect as detect_findings
from headway.metrics import flow, signals
from headway.metrics.scope import Period, Scope
from headway.simulate import Options, generate
from headway.sources.files import parse_record
from headway.store import open_store


@pytest.mark.postgres
def test_simulated_organisation_gives_identical_interpretation_on_both_engines(
    tmp_path: Path, pg_schema_url: str
) -> None:
    opts = Options(seed=4, services=12, days=75, deploys_per_day=1.0)
    records = list(generate(opts))
    results: list[dict[str, Any]] = []
    current = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))
    for database in (str(tmp_path / "a.duckdb"), pg_schema_url):
        settings = Settings(database=database)
        store = open_store(settings)
        ingest(store, settings, (parse_record(r, "sim") for r in records))
        defn = PRESETS["dora"]
        results.append(
            {
                "flow": [
                    b.to_json()
                    for b in flow.breakdown_each(store, defn, "team", current, by="week")
                ],
                "signals": signals.compute(store, defn, Scope(), current),
                "findings": detect_findings(store, defn, Scope(), current),
            }
        )
        store.close()
    duck, postgres = results
    assert duck["signals"]["batch_size"]["deployments"] > 100  # a real workload
    for key in duck:
        assert duck[key] == postgres[key], key
