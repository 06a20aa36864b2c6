"""The metric logic is written once; DuckDB and PostgreSQL must give identical answers."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics import dora, records
from headway.simulate import Options, generate
from headway.sources.files import parse_record
from headway.store import open_store


@pytest.mark.postgres
def test_simulated_organisation_gives_identical_numbers_on_both_engines(
    tmp_path: Path, pg_schema_url: str
) -> None:
    opts = Options(seed=3, services=4, days=60)
    results = []
    for database in (str(tmp_path / "a.duckdb"), pg_schema_url):
        settings = Settings(database=database)
        store = open_store(settings)
        ingest(store, settings, (parse_record(r, "sim") for r in generate(opts)))
        # the 60 days up to the simulation's last day, as the default period is on that day
        period = dora.default_period(days=60, now=opts.end - timedelta(days=1))
        numbers = {
            name: dora.compute(store, defn, dora.Scope(), period, by="week").to_json()
            for name, defn in PRESETS.items()
        }
        numbers["each"] = [
            m.to_json() for m in dora.compute_each(store, PRESETS["dora"], "service", period)
        ]
        numbers["deployments"] = records.deployments(store, PRESETS["dora"], dora.Scope(), period)
        numbers["incidents"] = {
            name: records.incidents(store, defn, dora.Scope(), period)
            for name, defn in PRESETS.items()
        }
        results.append(numbers)
        store.close()
    duck, postgres = results
    assert duck["dora"]["deployment_frequency"]["deployments"] > 300  # a real workload, not empty
    assert duck["dora"]["change_fail_rate"]["failed"] > 10
    for key in duck:
        assert duck[key] == postgres[key], key
