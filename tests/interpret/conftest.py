"""A simulated twelve-service organisation, built once for the interpretation tests.

Seed 1 of `headway simulate --services 12`: every team but `web` (healthy) and `payments`
(regulated, too few deployments in a month for the detectors) plants one pattern
(headway.simulate.PLANTED). Read-only: tests that write use their own store.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from headway.config import Settings
from headway.ingest import ingest
from headway.metrics.scope import Period
from headway.simulate import Options, generate
from headway.sources.files import parse_record
from headway.store import Store, open_store

OCTOBER = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))
SIM = Options(seed=1, services=12)


@pytest.fixture(scope="session")
def sim_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sim") / "org.duckdb"
    settings = Settings(database=str(path))
    store = open_store(settings)
    ingest(store, settings, (parse_record(r, "sim") for r in generate(SIM)))
    store.close()
    return path


@pytest.fixture
def sim(sim_path: Path) -> Iterator[Store]:
    store = open_store(Settings(database=str(sim_path)))
    yield store
    store.close()
