"""One simulated organisation, loaded once into DuckDB, PostgreSQL and a Parquet export that
DuckDB and a local Spark read; one SparkSession for the whole run (a JVM costs 10–30 s)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest

from headway.config import Settings
from headway.definitions import (
    PRESETS,
    Definition,
    DeploymentRules,
    FailureRules,
    LeadTimeRules,
    RecoveryRules,
    SpanRules,
    SummaryRules,
)
from headway.engines import Engine
from headway.engines.connect import connected
from headway.engines.export import export_store
from headway.engines.signal_rows import EngineSignals
from headway.ingest import ingest
from headway.metrics import dora
from headway.simulate import Options, generate
from headway.sources.files import parse_record
from headway.store import open_store

# 4 services over 60 days: every archetype's failures, reverts, rollbacks and late incidents,
# small enough that Spark answers each figure in seconds.
OPTIONS = Options(seed=3, services=4, days=60)
# Definitions that reach the rules no preset uses: failed status as failure evidence (fixed by
# the next good deployment), failed deployments counted, negative spans as zero, a mean
# median, lead time from opening; no failure rule at all, recovery over attributed incidents
# opened to resolved, lead time as parts from the merge.
CUSTOM = {
    "status": Definition(
        name="status",
        deployments=DeploymentRules(statuses=("success", "failure")),
        failure=FailureRules(rules=("incident", "failed_status", "rollback")),
        spans=SpanRules(negative="zero"),
        summary=SummaryRules(median="mean"),
        lead_time=LeadTimeRules(start="opened"),
    ),
    "nofail": Definition(
        name="nofail",
        failure=FailureRules(rules=()),
        recovery=RecoveryRules(start="incident_opened", end="incident_resolved"),
        lead_time=LeadTimeRules(start="merged", measure="sum_of_parts", rounding="trunc_minute"),
    ),
}
# Settings that make a one-core local Spark fast to start and to plan small queries; none
# changes a result.
SPARK_TEST = {
    "spark.sql.shuffle.partitions": "1",
    "spark.default.parallelism": "1",
    "spark.sql.adaptive.enabled": "false",
    "spark.sql.codegen.wholeStage": "false",
    "spark.sql.codegen.factoryMode": "NO_CODEGEN",
}


@dataclass(frozen=True)
class Organisation:
    duckdb: Path  # the embedded store: the oracle runs on it
    parquet: Path  # its `headway export parquet`
    period: dora.Period
    # metrics/dora.py's answers on the store: {preset: MetricSet JSON} for the whole
    # organisation, {"<preset> by week|month": [MetricSet JSON per bucket]}, and
    # {"each <kind>": {name: MetricSet JSON}} under `dora`
    oracle: dict[str, Any]


def _load(settings: Settings) -> None:
    store = open_store(settings)
    try:
        ingest(store, settings, (parse_record(r, "sim") for r in generate(OPTIONS)))
    finally:
        store.close()


@pytest.fixture(scope="session")
def organisation(tmp_path_factory: pytest.TempPathFactory) -> Organisation:
    folder = tmp_path_factory.mktemp("organisation")
    settings = Settings(database=str(folder / "store.duckdb"))
    _load(settings)
    store = open_store(settings)
    try:
        # the simulated days, up to the simulation's last day
        period = dora.default_period(days=OPTIONS.days, now=OPTIONS.end - timedelta(days=1))
        oracle: dict[str, Any] = {
            name: dora.compute(store, defn, dora.Scope(), period).to_json()
            for name, defn in {**PRESETS, **CUSTOM}.items()
        }
        for name, defn in PRESETS.items():
            for by in ("week", "month"):
                oracle[f"{name} by {by}"] = [
                    m.to_json()
                    for m in dora.compute(store, defn, dora.Scope(), period, by=by).trend
                ]
        for kind in ("service", "team", "context"):
            oracle[f"each {kind}"] = {
                m.scope.name: m.to_json()
                for m in dora.compute_each(store, PRESETS["dora"], kind, period)
            }
        export_store(store, settings, folder / "export")  # as `headway export parquet` does
    finally:
        store.close()
    return Organisation(settings.duckdb_path, folder / "export", period, oracle)


@pytest.fixture(scope="session")
def postgres_organisation(postgres_url: str) -> Iterator[str]:
    """The same organisation in a PostgreSQL schema of its own, dropped after the run."""
    schema = f"engines_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in postgres_url else "?"
    url = f"{postgres_url}{sep}options=-csearch_path%3D{schema}"
    _load(Settings(database=url))
    yield url
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session")
def spark_session() -> Iterator[Any]:
    from headway.engines.spark import session

    spark = session("local[1]", SPARK_TEST)
    yield spark
    spark.stop()


SQL_ENGINES = [
    "duckdb",
    "duckdb-parquet",
    pytest.param("postgres", marks=pytest.mark.postgres),
]
ALL_ENGINES = [*SQL_ENGINES, pytest.param("spark", marks=pytest.mark.slow)]


@pytest.fixture(scope="session", params=ALL_ENGINES)
def engine(request: pytest.FixtureRequest, organisation: Organisation) -> Iterator[Engine]:
    """The organisation on each engine in turn, connected once per run."""
    yield from _engine(request, organisation)


@pytest.fixture(scope="session", params=SQL_ENGINES)
def sql_engine(request: pytest.FixtureRequest, organisation: Organisation) -> Iterator[Engine]:
    """The engines but Spark: for checks whose every engine-specific part Spark's own tests
    already cover, where Spark would add ~20 s each to the suite."""
    yield from _engine(request, organisation)


def _engine(request: pytest.FixtureRequest, organisation: Organisation) -> Iterator[Engine]:
    name = request.param
    store = str(organisation.duckdb)
    if name == "duckdb":
        settings = Settings(database=store)
    elif name == "duckdb-parquet":
        settings = Settings(database=store, engine_parquet=str(organisation.parquet))
    elif name == "postgres":
        settings = Settings(database=request.getfixturevalue("postgres_organisation"))
    else:
        settings = Settings(
            database=store, engine="spark", engine_parquet=str(organisation.parquet)
        )
    spark = request.getfixturevalue("spark_session") if name == "spark" else None
    with connected(settings, spark=spark) as engine:
        yield engine


PERIOD_FOR_SNAPSHOTS = dora.Period(datetime(2026, 9, 2), datetime(2026, 11, 1))


@pytest.fixture
def engine_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of the engine each read of the friction signals' records goes to during the
    test (`EngineSignals.rows`): a surface said to answer on an engine must read there."""
    read: list[str] = []
    real = EngineSignals.rows

    def spied(self: EngineSignals, *args: Any, **kwargs: Any) -> Any:
        read.append(self.engine.name)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(EngineSignals, "rows", spied)
    return read
