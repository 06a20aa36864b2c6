"""The links on histories small enough to work out by hand: equal instants, a rollback a
microsecond after a deployment, a deployment named but not stored, staging and failed
deployments, an incident before any deployment. The store's links (`headway.linking`) and
the links every engine computes must both be the ones worked out below.

Production is the one production environment; the incident window is 24 hours.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pyarrow.parquet as pq
import pytest

from headway.config import Settings
from headway.engines.connect import connected
from headway.engines.export import export_store
from headway.linking import link
from headway.store import open_store
from tests.engines.test_engines_links import link_rows

# (id, service, started, finished, environment, status, kind, recovers)
DEPLOYMENTS = [
    # equal instants: tie-d2 and tie-d3 start together, tie-d4 has no start
    (
        "tie-d1",
        "tie",
        "2026-01-05 10:00:00",
        "2026-01-05 10:05:00",
        "production",
        "success",
        "deploy",
        None,
    ),
    (
        "tie-d3",
        "tie",
        "2026-01-05 12:00:00",
        "2026-01-05 12:30:00",
        "production",
        "success",
        "deploy",
        None,
    ),
    (
        "tie-d2",
        "tie",
        "2026-01-05 12:00:00",
        "2026-01-05 12:20:00",
        "production",
        "success",
        "deploy",
        None,
    ),
    ("tie-d4", "tie", None, "2026-01-05 14:00:00", "production", "success", "deploy", None),
    # repairs: a rollback one microsecond after a deployment, a hotfix finishing with one
    ("rep-d1", "rep", None, "2026-01-01 09:00:00", "production", "success", "deploy", None),
    ("rep-d2", "rep", None, "2026-01-01 10:00:00", "production", "success", "deploy", None),
    (
        "rep-rb",
        "rep",
        None,
        "2026-01-01 10:00:00.000001",
        "production",
        "success",
        "rollback",
        None,
    ),
    ("rep-rb2", "rep", None, "2026-01-01 11:00:00", "production", "success", "rollback", None),
    ("rep-d3", "rep", None, "2026-01-01 12:00:00", "production", "success", "deploy", None),
    ("rep-hf", "rep", None, "2026-01-01 12:00:00", "production", "success", "hotfix", None),
    # a deployment named that is not stored
    ("nam-d1", "nam", None, "2026-01-01 10:00:00", "production", "success", "deploy", None),
    ("nam-rb", "nam", None, "2026-01-01 11:00:00", "production", "success", "rollback", "nam-gone"),
    ("nam-rb2", "nam", None, "2026-01-01 12:00:00", "production", "failure", "rollback", "nam-d1"),
    # staging, failed and release deployments
    (
        "stg-d1",
        "stg",
        "2026-01-01 08:00:00",
        "2026-01-01 08:10:00",
        "production",
        "success",
        "deploy",
        None,
    ),
    (
        "stg-rel",
        "stg",
        "2026-01-01 08:20:00",
        "2026-01-01 08:22:00",
        "production",
        "success",
        "release",
        None,
    ),
    (
        "stg-st",
        "stg",
        "2026-01-01 09:00:00",
        "2026-01-01 09:10:00",
        "staging",
        "success",
        "deploy",
        None,
    ),
    (
        "stg-f",
        "stg",
        "2026-01-01 10:00:00",
        "2026-01-01 10:10:00",
        "production",
        "failure",
        "deploy",
        None,
    ),
    (
        "stg-d2",
        "stg",
        "2026-01-01 11:00:00",
        "2026-01-01 11:10:00",
        "production",
        "success",
        "deploy",
        None,
    ),
    ("stg-rb", "stg", None, "2026-01-01 11:30:00", "production", "success", "rollback", None),
    ("stg-rbs", "stg", None, "2026-01-01 12:00:00", "staging", "success", "rollback", None),
    ("stg-rbf", "stg", None, "2026-01-01 12:30:00", "production", "failure", "rollback", None),
    # one deployment, after an incident
    ("ear-d1", "ear", None, "2026-01-01 08:00:00", "production", "success", "deploy", None),
]
# (id, service, merged, names)
CHANGES = [
    ("tie-c1", "tie", "2026-01-05 10:00:00", None),
    ("tie-c2", "tie", "2026-01-05 10:00:00.000001", None),
    ("tie-c3", "tie", "2026-01-05 13:00:00", None),
    ("tie-c4", "tie", "2026-01-05 11:00:00", "tie-d1"),
    ("tie-c5", "tie", "2026-01-05 15:00:00", None),
    ("tie-c6", "tie", None, None),
    ("nam-c1", "nam", "2026-01-01 09:00:00", "nam-gone"),
    ("stg-c1", "stg", "2026-01-01 08:30:00", None),
    ("stg-c2", "stg", "2026-01-01 08:15:00", None),
    ("ear-c1", "ear", "2026-01-03 00:00:00", None),
]
# (id, service, opened, names)
INCIDENTS = [
    ("tie-i1", "tie", "2026-01-05 10:05:00", None),
    ("tie-i2", "tie", "2026-01-05 12:25:00", None),
    ("nam-i1", "nam", "2026-01-01 10:30:00", "nam-gone"),
    ("nam-i2", "nam", "2026-01-01 09:00:00", "nam-d1"),
    ("stg-i1", "stg", "2026-01-01 10:20:00", None),
    ("stg-i2", "stg", "2026-01-01 08:15:00", None),
    ("ear-i1", "ear", "2026-01-01 07:00:00", None),
    ("ear-i2", "ear", "2026-01-02 08:00:01", None),
    ("ear-i3", "ear", "2026-01-02 08:00:00", None),
]

# Worked out by hand from the rules in headway/engines/links.py (the store's).
SHIPPED = {
    "tie-c1": "tie-d1",  # merged the instant tie-d1 started: the deployment sorts first
    "tie-c2": "tie-d2",  # a microsecond later: the next start, where d2 and d3 tie (the
    # smallest id stands for both)
    "tie-c3": "tie-d4",  # no start: tie-d4 ships at its finish, 14:00
    "tie-c4": "tie-d1",  # named, though tie-d2 starts first after its merge
    "tie-c5": None,  # merged after the service's last deployment
    "tie-c6": None,  # never merged
    "nam-c1": None,  # names a deployment not stored: no guess from time (nam-d1)
    "stg-c1": "stg-d2",  # staging (stg-st) and failed (stg-f) deployments ship nothing
    "stg-c2": "stg-d2",  # neither does a flag release (stg-rel)
    "ear-c1": None,  # other services deploy later (tie), its own never does
}
REPAIRS = {
    "rep-rb": "rep-d2",  # finished one microsecond after rep-d2
    "rep-rb2": "rep-d2",  # a rollback is never what a rollback repairs (rep-rb)
    "rep-hf": "rep-d2",  # rep-d3 finished at the same instant: not before it
    "nam-rb": None,  # names a deployment not stored
    "nam-rb2": "nam-d1",  # named, though the rollback failed
    "stg-rb": "stg-d2",  # the last good production deployment before it
    "stg-rbs": None,  # a rollback in staging repairs nothing in production
    "stg-rbf": None,  # a failed rollback repairs nothing
}
REPAIRS |= {d[0]: None for d in DEPLOYMENTS if d[0] not in REPAIRS}  # deployments
BLAMED = {
    "tie-i1": ("tie-d1", "window"),  # opened the instant tie-d1 finished
    "tie-i2": ("tie-d2", "window"),  # tie-d2 finished at 12:20, tie-d3 not until 12:30
    "nam-i1": (None, "none"),  # names a deployment not stored
    "nam-i2": ("nam-d1", "named"),  # named, though opened before it finished
    "stg-i1": ("stg-rel", "window"),  # a flag release is blamed, staging (stg-st) and failed
    # (stg-f) deployments are not
    "stg-i2": ("stg-d1", "window"),  # before the release finished
    "ear-i1": (None, "none"),  # before any deployment of its service
    "ear-i2": (None, "none"),  # 24 hours and a second after ear-d1
    "ear-i3": ("ear-d1", "window"),  # 24 hours after ear-d1: the window's end is inside
}


def _sql(value: Any) -> str:
    return "NULL" if value is None else f"'{value}'"


def _load(settings: Settings) -> None:
    store = open_store(settings)
    try:
        with store.transaction():
            for i, s, started, finished, env, status, kind, recovers in DEPLOYMENTS:
                store.execute(
                    "INSERT INTO deployments (id, source, source_id, service, started_at, "
                    "finished_at, environment, status, kind, recovers) VALUES "
                    f"('{i}', 'test', '{i}', '{s}', {_sql(started)}, '{finished}', '{env}', "
                    f"'{status}', '{kind}', {_sql(recovers)})"
                )
            for i, s, merged, ref in CHANGES:
                store.execute(
                    "INSERT INTO changes (id, source, source_id, service, merged_at, "
                    f"deployment_ref) VALUES ('{i}', 'test', '{i}', '{s}', {_sql(merged)}, "
                    f"{_sql(ref)})"
                )
            for i, s, opened, ref in INCIDENTS:
                store.execute(
                    "INSERT INTO incidents (id, source, source_id, service, opened_at, "
                    f"cause_ref) VALUES ('{i}', 'test', '{i}', '{s}', '{opened}', {_sql(ref)})"
                )
        link(store, settings)
    finally:
        store.close()


SETTINGS = {"production_environments": ["production"], "incident_window_hours": 24.0}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    folder = tmp_path_factory.mktemp("cases")
    settings = Settings(database=str(folder / "store.duckdb"), **SETTINGS)
    _load(settings)
    store = open_store(settings)
    try:
        export_store(store, settings, folder / "export")
    finally:
        store.close()
    return settings


@pytest.fixture(scope="module")
def postgres_cases(postgres_url: str) -> Iterator[Settings]:
    schema = f"cases_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in postgres_url else "?"
    settings = Settings(database=f"{postgres_url}{sep}options=-csearch_path%3D{schema}", **SETTINGS)
    _load(settings)
    yield settings
    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


def _read(settings: Settings, spark: Any = None) -> tuple[dict[str, Any], ...]:
    """The links the engine `settings` name reads, in one query: (changes, deployments,
    incidents)."""
    with connected(settings, spark=spark) as engine:
        rows = link_rows(engine)
    found: dict[str, dict[str, Any]] = {"changes": {}, "deployments": {}, "incidents": {}}
    for table, record, a, b in rows:
        found[table][record] = (a, b) if table == "incidents" else a
    return found["changes"], found["deployments"], found["incidents"]


@pytest.mark.parametrize("engine", ["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_the_store_links_the_cases_as_worked_out(
    request: pytest.FixtureRequest, engine: str
) -> None:
    settings = request.getfixturevalue("cases" if engine == "duckdb" else "postgres_cases")
    assert _read(settings.model_copy(update={"engine_links": "stored"})) == (
        SHIPPED,
        REPAIRS,
        BLAMED,
    )


@pytest.mark.parametrize(
    "engine",
    [
        "duckdb",
        "duckdb-parquet",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("spark", marks=pytest.mark.slow),
    ],
)
def test_every_engine_computes_the_cases_as_worked_out(
    request: pytest.FixtureRequest, cases: Settings, engine: str
) -> None:
    settings = cases.model_copy(update={"engine_links": "computed"})
    export = str(Path(cases.database).parent / "export")
    spark = None
    if engine == "duckdb-parquet":
        settings = settings.model_copy(update={"engine_parquet": export})
    elif engine == "postgres":
        pg = request.getfixturevalue("postgres_cases")
        settings = pg.model_copy(update={"engine_links": "computed"})
    elif engine == "spark":
        settings = settings.model_copy(update={"engine": "spark", "engine_parquet": export})
        spark = request.getfixturevalue("spark_session")
    assert _read(settings, spark) == (SHIPPED, REPAIRS, BLAMED)


def test_the_window_and_environments_come_from_the_settings(cases: Settings) -> None:
    # staging counted as production too: stg-st (started 09:00) ships stg-c1 and stg-c2, and
    # its rollback stg-rbs repairs stg-d2; a one-hour window leaves stg-i1 (70 minutes after
    # stg-st finished) and ear-i3 unblamed
    wider = cases.model_copy(
        update={
            "engine_links": "computed",
            "production_environments": ["production", "staging"],
            "incident_window_hours": 1.0,
        }
    )
    shipped, repairs, blamed = _read(wider)
    assert (shipped["stg-c1"], shipped["stg-c2"]) == ("stg-st", "stg-st")
    assert repairs["stg-rbs"] == "stg-d2"
    assert blamed["stg-i1"] == (None, "none")
    assert blamed["ear-i3"] == (None, "none")
    assert blamed["stg-i2"] == ("stg-d1", "window")


@pytest.mark.postgres
def test_an_export_holds_the_stored_links_whatever_the_engine_computes(
    postgres_cases: Settings, tmp_path: Path
) -> None:
    # a stored link the rules would not give (tie-c5 shipped by tie-d4) is exported as stored,
    # though the exporting process computes links on its engines
    with psycopg.connect(postgres_cases.database, autocommit=True) as con:
        con.execute("UPDATE changes SET deployment_id = 'tie-d4' WHERE id = 'tie-c5'")
        try:
            store = open_store(postgres_cases)
            try:
                computing = postgres_cases.model_copy(update={"engine_links": "computed"})
                export_store(store, computing, tmp_path / "export")
            finally:
                store.close()
        finally:
            con.execute("UPDATE changes SET deployment_id = NULL WHERE id = 'tie-c5'")
    changes = pq.read_table(tmp_path / "export" / "changes").to_pylist()
    assert {c["id"]: c["deployment_id"] for c in changes} == SHIPPED | {"tie-c5": "tie-d4"}
