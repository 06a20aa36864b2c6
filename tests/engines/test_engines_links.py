"""The links computed as Ibis expressions (`engines/links.py`) equal the links the store
computed and stored, row by row, on every engine; and an export without link columns gives
the store's figures.

Two histories: the simulated organisation the other engine tests read (every change,
rollback and most incidents name their deployment), and a copy of it with about half of
those names removed and the store's links computed again, so the timeline walks decide half
of the links.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ibis
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.engines import Engine, EngineError
from headway.engines import run as figures
from headway.engines.connect import connect, connected
from headway.engines.dora import FIGURES
from headway.engines.export import export_store
from headway.engines.flow import moments
from headway.engines.layout import TABLES
from headway.engines.links import LINK_COLUMNS, parquet_lacks_links
from headway.engines.record_facts import EngineRecords
from headway.engines.signal_rows import EngineSignals
from headway.linking import link
from headway.metrics import dora
from headway.store import open_store
from tests.engines.conftest import CUSTOM, Organisation

# About half of each kind of name, the same half on every engine (md5 is on both stores).
HALVE = (
    "UPDATE changes SET deployment_ref = NULL WHERE md5(id) < '8'",
    "UPDATE deployments SET recovers = NULL WHERE md5(id) < '8'",
    "UPDATE incidents SET cause_ref = NULL WHERE md5(id) < '8'",
)
ENGINES = [
    "duckdb",
    "duckdb-parquet",
    pytest.param("postgres", marks=pytest.mark.postgres),
    pytest.param("spark", marks=pytest.mark.slow),
]


@dataclass(frozen=True)
class History:
    duckdb: Path
    parquet: Path


def _halve_and_relink(settings: Settings) -> None:
    store = open_store(settings)
    try:
        with store.transaction():
            for statement in HALVE:
                store.execute(statement)
        link(store, settings)
    finally:
        store.close()


@pytest.fixture(scope="module")
def halved(organisation: Organisation, tmp_path_factory: pytest.TempPathFactory) -> History:
    folder = tmp_path_factory.mktemp("halved")
    database = folder / "store.duckdb"
    shutil.copy(organisation.duckdb, database)
    settings = Settings(database=str(database))
    _halve_and_relink(settings)
    store = open_store(settings)
    try:
        export_store(store, settings, folder / "export")
    finally:
        store.close()
    return History(database, folder / "export")


@pytest.fixture(scope="module")
def postgres_halved(postgres_organisation: str) -> Iterator[str]:
    """The organisation's PostgreSQL tables copied into a schema of their own, halved and
    linked again there."""
    with psycopg.connect(postgres_organisation, autocommit=True) as con:
        [(source,)] = con.execute("SELECT current_schema()").fetchall()
        schema = f"halved_{uuid.uuid4().hex[:10]}"
        con.execute(f"CREATE SCHEMA {schema}")
    url = postgres_organisation.replace(source, schema)
    open_store(Settings(database=url)).close()  # the tables, by the migrations
    with psycopg.connect(url, autocommit=True) as con:
        for table in TABLES:
            con.execute(f"INSERT INTO {table} SELECT * FROM {source}.{table}")
    _halve_and_relink(Settings(database=url))
    yield url
    with psycopg.connect(postgres_organisation, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


def _settings(request: pytest.FixtureRequest, name: str, history: History, pg: str) -> Settings:
    store = str(history.duckdb)
    if name == "duckdb":
        return Settings(database=store)
    if name == "duckdb-parquet":
        return Settings(database=store, engine_parquet=str(history.parquet))
    if name == "postgres":
        return Settings(database=request.getfixturevalue(pg))
    return Settings(database=store, engine="spark", engine_parquet=str(history.parquet))


def link_rows(engine: Engine) -> list[tuple[Any, ...]]:
    """Every link of the engine's tables, as (table, id, link…) rows in one read."""
    parts = []
    for name, columns in LINK_COLUMNS.items():
        t = engine.tables[name]
        values = [t[c] for c in columns] + [ibis.null("string")] * (2 - len(columns))
        parts.append(t.select(table=ibis.literal(name), id=t.id, a=values[0], b=values[1]))
    union = parts[0].union(parts[1]).union(parts[2])
    rows = engine.rows(union.order_by(["table", "id"]))
    return [tuple(row.values()) for row in rows]


def _both(request: pytest.FixtureRequest, settings: Settings) -> tuple[list[Any], list[Any]]:
    spark = request.getfixturevalue("spark_session") if settings.engine == "spark" else None
    found = []
    for mode in ("stored", "computed"):
        with connected(settings.model_copy(update={"engine_links": mode}), spark=spark) as e:
            assert e.links == mode
            found.append(link_rows(e))
    return found[0], found[1]


@pytest.mark.parametrize("name", ENGINES)
def test_computed_links_equal_the_stored_row_by_row(
    request: pytest.FixtureRequest, organisation: Organisation, name: str
) -> None:
    history = History(organisation.duckdb, organisation.parquet)
    stored, computed = _both(request, _settings(request, name, history, "postgres_organisation"))
    assert len(stored) == 1701 + 1159 + 71  # changes, deployments, incidents
    assert computed == stored


@pytest.mark.parametrize("name", ENGINES)
def test_computed_links_equal_the_stored_where_the_walks_decide(
    request: pytest.FixtureRequest, halved: History, name: str
) -> None:
    stored, computed = _both(request, _settings(request, name, halved, "postgres_halved"))
    # the walks decided: a window attribution for a third of the incidents or more, and a
    # rollback or hotfix repairing what it does not name
    attributions = [row[3] for row in stored if row[0] == "incidents"]
    assert attributions.count("window") > 40
    assert attributions.count("named") > 5
    assert computed == stored


def test_the_halved_history_left_half_of_the_names(halved: History) -> None:
    store = open_store(Settings(database=str(halved.duckdb)))
    try:
        [(named, walked, unshipped)] = store.query(
            "SELECT count(deployment_ref), count(*) - count(deployment_ref), "
            "count(*) - count(deployment_id) FROM changes"
        )
        [(recovers, repairs)] = store.query(
            "SELECT count(recovers), count(recovers_id) FROM deployments"
        )
    finally:
        store.close()
    assert 700 < named < 1000  # of 1701
    assert 700 < walked < 1000
    assert unshipped < 20  # the changes merged after their service's last deployment
    assert 0 < recovers < repairs <= 27


# -- an export without its links ------------------------------------------------------------


def _rewrite(folder: Path, empty: bool) -> None:
    """Drop the link columns from the export in `folder` (or leave them all null)."""
    for table, columns in LINK_COLUMNS.items():
        for part in (folder / table).glob("*.parquet"):
            data = pq.read_table(part)
            for column in columns:
                i = data.schema.get_field_index(column)
                if empty:
                    field = data.schema.field(i).with_nullable(True)
                    data = data.set_column(i, field, pa.nulls(data.num_rows, field.type))
                else:
                    data = data.remove_column(i)
            pq.write_table(data, part)


@pytest.fixture(scope="module")
def linkless(organisation: Organisation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("linkless") / "export"
    shutil.copytree(organisation.parquet, folder)
    _rewrite(folder, empty=False)
    return folder


@pytest.fixture(scope="module")
def emptied(organisation: Organisation, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("emptied") / "export"
    shutil.copytree(organisation.parquet, folder)
    _rewrite(folder, empty=True)
    return folder


def test_auto_decides_from_the_footers(
    organisation: Organisation, linkless: Path, emptied: Path
) -> None:
    assert parquet_lacks_links(organisation.parquet) == []
    assert parquet_lacks_links(linkless) == [
        "changes/ (no deployment_id column)",
        "deployments/ (no recovers_id column)",
    ]
    assert parquet_lacks_links(emptied) == [
        "changes/ (deployment_id empty)",
        "deployments/ (recovers_id empty)",
    ]


def _five(metric_set: dict[str, Any]) -> dict[str, Any]:
    return {name: metric_set[name] for name in FIGURES}


def test_the_five_figures_over_an_export_without_links_are_the_stores(
    organisation: Organisation, linkless: Path
) -> None:
    settings = Settings(database=str(organisation.duckdb), engine_parquet=str(linkless))
    with connected(settings) as engine:
        assert engine.links == "computed"
        for preset, defn in {**PRESETS, **CUSTOM}.items():
            got = figures.compute(engine, defn, dora.Scope(), organisation.period)
            assert got == _five(organisation.oracle[preset]), preset
        each = figures.compute_each(engine, PRESETS["dora"], "service", organisation.period)
    assert each == {k: _five(v) for k, v in organisation.oracle["each service"].items()}


def test_the_five_figures_over_an_export_with_empty_links_are_the_stores(
    organisation: Organisation, emptied: Path
) -> None:
    settings = Settings(database=str(organisation.duckdb), engine_parquet=str(emptied))
    with connected(settings) as engine:
        assert engine.links == "computed"
        got = figures.compute(engine, PRESETS["dora"], dora.Scope(), organisation.period)
    assert got == _five(organisation.oracle["dora"])


def test_flow_signals_and_records_read_the_computed_links(
    organisation: Organisation, linkless: Path
) -> None:
    defn, period = PRESETS["dora"], organisation.period
    store = Settings(database=str(organisation.duckdb))
    with (
        connected(store) as a,
        connected(store.model_copy(update={"engine_parquet": str(linkless)})) as b,
    ):
        assert (a.links, b.links) == ("stored", "computed")
        names = sorted(s for s, _ in figures.scope_services(a, dora.Scope()))
        shipped = moments(a, defn, names, period)
        assert len(shipped) > 1000
        assert moments(b, defn, names, period) == shipped
        rows = EngineSignals(a).rows(defn, names, period)
        assert EngineSignals(b).rows(defn, names, period) == rows
        for kind in ("changes", "deployments", "incidents"):
            every = (kind, defn, names, period.since, period.until, (None, 0), None)
            listed = EngineRecords(a).rows(*every)
            assert len(listed) > 50, kind
            assert EngineRecords(b).rows(*every) == listed, kind


def test_stored_links_are_refused_where_the_export_has_none(
    organisation: Organisation, linkless: Path
) -> None:
    settings = Settings(
        database=str(organisation.duckdb), engine_parquet=str(linkless), engine_links="stored"
    )
    with pytest.raises(EngineError, match="HEADWAY_ENGINE_LINKS=stored") as refused:
        connect(settings)
    assert "changes.deployment_id" in str(refused.value)
    assert "HEADWAY_ENGINE_LINKS=computed" in str(refused.value)


def test_engine_links_names_its_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWAY_ENGINE_LINKS", "always")
    with pytest.raises(
        ValueError, match="HEADWAY_ENGINE_LINKS='always': use auto, stored or computed"
    ):
        Settings()
    monkeypatch.setenv("HEADWAY_ENGINE_LINKS", "computed")
    assert Settings().engine_links == "computed"
    monkeypatch.delenv("HEADWAY_ENGINE_LINKS")
    assert Settings().engine_links == "auto"


def test_the_footers_are_read_per_row_group_and_part(tmp_path: Path) -> None:
    def part(table: str, name: str, values: list[Any], **options: Any) -> None:
        column = "deployment_id" if table == "changes" else "recovers_id"
        (tmp_path / table).mkdir(exist_ok=True)
        data = pa.table({"id": [str(i) for i in range(len(values))], column: values})
        pq.write_table(data, tmp_path / table / name, **options)

    # changes: an empty first row group, a link in the second (the footer's null counts)
    part("changes", "part-00000.parquet", [None, None, None, "d1"], row_group_size=2)
    # deployments: a part without rows, and one whose footer keeps no statistics
    part("deployments", "part-00000.parquet", pa.nulls(0, pa.string()))
    part("deployments", "part-00001.parquet", ["d1", None], write_statistics=False)
    assert parquet_lacks_links(tmp_path) == ["deployments/ (recovers_id empty)"]
    # a part with a value makes the table's links stored, though another part has none
    part("deployments", "part-00002.parquet", [None, "d2"])
    assert parquet_lacks_links(tmp_path) == []
