"""The engines agree on two real histories: flask and httpx imported whole by `headway import
git` (../shared/fixtures/repos, see tests/sources/test_git_bundles.py), once into a DuckDB
store and once into a PostgreSQL schema, then exported to Parquet as a user would.

Every figure under each preset for both services together, each service under `dora`, and
the monthly trend (on the SQL engines) must equal what metrics/dora.py computes on the DuckDB
store, median and percentiles included. Real histories reach shapes the simulator does not:
sixteen years, releases months apart, lead times of years, reverts shipped with their change.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.engines import Engine
from headway.engines import run as figures
from headway.engines.connect import connected
from headway.engines.dora import FIGURES
from headway.metrics import dora
from headway.store import open_store
from tests.conftest import REPOS
from tests.engines.test_engines_links import link_rows

pytestmark = pytest.mark.slow

BUNDLES = Path(os.environ.get("HEADWAY_TEST_REPOS") or REPOS)
SERVICES = ("flask", "httpx")
# From before flask's first release (2010-04) to after its latest (2026-02).
HISTORY = dora.Period(datetime(2010, 1, 1), datetime(2026, 7, 1))


@dataclass(frozen=True)
class Histories:
    duckdb: Path
    parquet: Path
    oracle: dict[str, Any]


def _headway(database: str, *args: str) -> None:
    env = {**os.environ, "HEADWAY_DATABASE": database}
    env.pop("HEADWAY_URL", None)
    env.pop("HEADWAY_ENGINE", None)
    done = subprocess.run(
        [sys.executable, "-m", "headway", *args], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr


def _import(database: str, clones: Path) -> None:
    for name in SERVICES:
        _headway(database, "import", "git", str(clones / name), "--service", name, "--host", "none")


@pytest.fixture(scope="session")
def clones(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bundles")
    for name in SERVICES:
        bundle = BUNDLES / f"{name}.bundle"
        if not bundle.is_file():
            message = f"{bundle} is missing: set HEADWAY_TEST_REPOS to the bundles' folder"
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
        subprocess.run(["git", "clone", "-q", str(bundle), str(folder / name)], check=True)
    return folder


@pytest.fixture(scope="session")
def histories(clones: Path, tmp_path_factory: pytest.TempPathFactory) -> Histories:
    folder = tmp_path_factory.mktemp("histories")
    database = folder / "store.duckdb"
    _import(str(database), clones)
    _headway(str(database), "export", "parquet", str(folder / "export"))
    store = open_store(Settings(database=str(database)))
    try:
        oracle: dict[str, Any] = {
            name: dora.compute(store, defn, dora.Scope(), HISTORY).to_json()
            for name, defn in PRESETS.items()
        }
        oracle["by month"] = [
            m.to_json()
            for m in dora.compute(store, PRESETS["dora"], dora.Scope(), HISTORY, by="month").trend
        ]
        oracle["each service"] = {
            m.scope.name: m.to_json()
            for m in dora.compute_each(store, PRESETS["dora"], "service", HISTORY)
        }
    finally:
        store.close()
    return Histories(database, folder / "export", oracle)


@pytest.fixture(scope="session")
def postgres_histories(postgres_url: str, clones: Path) -> Iterator[str]:
    schema = f"bundles_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in postgres_url else "?"
    url = f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    _import(url, clones)
    yield url
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


SQL = ["duckdb", "duckdb-parquet", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session", params=[*SQL, "spark"])
def on(request: pytest.FixtureRequest, histories: Histories) -> Iterator[Engine]:
    yield from _connect(request, histories)


@pytest.fixture(scope="session", params=SQL)
def sql_on(request: pytest.FixtureRequest, histories: Histories) -> Iterator[Engine]:
    """The engines but Spark, for the 198 monthly buckets (Spark's bucketing is held by
    tests/engines/test_engines_dora.py's trends, at a fraction of the time)."""
    yield from _connect(request, histories)


def _connect(request: pytest.FixtureRequest, histories: Histories) -> Iterator[Engine]:
    name = request.param
    spark = request.getfixturevalue("spark_session") if name == "spark" else None
    with connected(_settings(request, histories, name), spark=spark) as engine:
        yield engine


def _settings(request: pytest.FixtureRequest, histories: Histories, name: str) -> Settings:
    store = str(histories.duckdb)
    if name == "duckdb":
        return Settings(database=store)
    if name == "duckdb-parquet":
        return Settings(database=store, engine_parquet=str(histories.parquet))
    if name == "postgres":
        return Settings(database=request.getfixturevalue("postgres_histories"))
    return Settings(database=store, engine="spark", engine_parquet=str(histories.parquet))


def _five(metric_set: dict[str, Any]) -> dict[str, Any]:
    return {name: metric_set[name] for name in FIGURES}


def test_the_histories_are_what_the_import_test_derives(histories: Histories) -> None:
    # 60 flask and 84 httpx releases; httpx's 0.23.2 failed and 0.23.3 recovered it
    whole = histories.oracle["dora"]
    assert whole["deployment_frequency"]["deployments"] == 144
    assert whole["change_fail_rate"]["failed"] == 1
    assert whole["deployment_rework_rate"]["rework"] == 1
    assert whole["failed_deployment_recovery_time"]["recoveries"] == 1
    assert whole["change_lead_time"]["changes"] > 4000


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_preset_agrees_on_real_histories(
    on: Engine, histories: Histories, preset: str
) -> None:
    got = figures.compute(on, PRESETS[preset], dora.Scope(), HISTORY)
    assert got == _five(histories.oracle[preset])


def test_each_real_service_agrees(on: Engine, histories: Histories) -> None:
    got = figures.compute_each(on, PRESETS["dora"], "service", HISTORY)
    assert got == {k: _five(v) for k, v in histories.oracle["each service"].items()}


def test_sixteen_years_by_month_agree(sql_on: Engine, histories: Histories) -> None:
    got = figures.trend(sql_on, PRESETS["dora"], dora.Scope(), HISTORY, "month")
    assert len(got) == 198  # January 2010 to June 2026
    assert got == [_five(m) for m in histories.oracle["by month"]]


@pytest.mark.parametrize("name", SQL)
def test_links_computed_from_real_histories_equal_the_stored(
    request: pytest.FixtureRequest, histories: Histories, name: str
) -> None:
    # every change names its release (or `undeployed`, a deployment never stored), so the
    # computed links hold the named ones, the missing ones and the releases' repairs
    settings = _settings(request, histories, name)
    found = []
    for mode in ("stored", "computed"):
        with connected(settings.model_copy(update={"engine_links": mode})) as engine:
            assert engine.links == mode
            found.append(link_rows(engine))
    stored, computed = found
    shipped = [row[2] for row in stored if row[0] == "changes"]
    assert len(shipped) > 4000
    assert 0 < shipped.count(None) < len(shipped)
    assert [row[1:3] for row in stored if row[0] == "deployments" and row[2]] == [
        ("git:httpx/tag/0.23.3", "git:httpx/tag/0.23.2")
    ]
    assert computed == stored
