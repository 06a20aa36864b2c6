"""Choose and connect an analytics engine from the settings: HEADWAY_ENGINE and friends.

`duckdb` reads the DuckDB store file (read-only) or a Parquet export; `postgres` reads the
PostgreSQL store; `spark` reads a Parquet export (HEADWAY_ENGINE_PARQUET) in a local session
or on a cluster through Spark Connect (HEADWAY_SPARK_URL=sc://host:15002).
"""

from __future__ import annotations

import gc
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis
import ibis.expr.types as ir

from headway.config import Settings
from headway.engines import links
from headway.engines.layout import TABLES, table_folder
from headway.engines.relations import Tables
from headway.store import Store
from headway.store.duck import DuckStore

ENGINES = ("duckdb", "postgres", "spark")


class EngineError(ValueError):
    """The settings name an engine that cannot run here; the message says which and why."""


@dataclass
class Engine:
    """A connected engine: its name, the Ibis backend, and the canonical tables on it."""

    name: str
    backend: Any
    tables: dict[str, ir.Table] = field(default_factory=dict)
    source: str = "store"  # or "parquet": where the tables are read from
    owns_session: bool = False
    links: str = "stored"  # or "computed": where the links between records come from
    kept: list[Any] = field(default_factory=list)  # tables the session keeps (`links`)

    def table(self, name: str) -> ir.Table:
        return self.tables[name]

    def rows(self, expr: ir.Table) -> list[dict[str, Any]]:
        """The rows of an expression, through Arrow: NULL stays None on every engine."""
        if self.name != "spark":
            return list(expr.to_pyarrow().to_pylist())
        # PySpark leaves the socket it streamed the Arrow batches through for the garbage
        # collector, which warns; collect it here, where that is known and harmless.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            rows = list(expr.to_pyarrow().to_pylist())
            gc.collect()
        return rows

    @contextmanager
    def keeping(self) -> Iterator[Callable[[ir.Table], ir.Table]]:
        """A `keep` for one computation: each table given to it is computed once and held
        by the engine's session (a temporary table, or Spark's cache) until the computation
        ends, so the figures that read it do not compute it again."""
        held: list[Any] = []

        def keep(table: ir.Table) -> ir.Table:
            kept = table.cache()
            held.append(kept)
            return kept

        try:
            yield keep
        finally:
            for table in held:
                table.release()

    def sql(self, expr: ir.Expr) -> str:
        """The SQL this engine receives for `expr` (what the snapshot tests keep)."""
        return str(ibis.to_sql(expr))

    def close(self) -> None:
        """Disconnect; a Spark session is stopped only if `connect` made it (one handed in
        is the caller's, shared by everything in its process). The tables it kept go first,
        while the connection that holds them is open."""
        for table in self.kept:
            table.release()
        self.kept.clear()
        if self.name != "spark":
            self.backend.disconnect()
        elif self.owns_session:
            self.session.stop()

    @property
    def session(self) -> Any:
        return self.backend._session


def engine_name(settings: Settings) -> str:
    """The engine the settings choose: HEADWAY_ENGINE, or the store's own engine."""
    if settings.engine is not None:
        return settings.engine
    return "postgres" if settings.is_postgres else "duckdb"


def connect(settings: Settings, *, spark: Any = None, store: Store | None = None) -> Engine:
    """Connect the engine the settings name, with the canonical tables registered and their
    links stored or computed as HEADWAY_ENGINE_LINKS says (`links`).

    `spark`: a SparkSession to use instead of making one (tests share one per run).
    `store`: the store this process already has open; DuckDB then reads through it, since
    one process cannot open a DuckDB file twice."""
    engine = _connect(settings, spark, store)
    try:
        return _with_links(engine, settings)
    except EngineError:
        engine.close()
        raise


def _connect(settings: Settings, spark: Any, store: Store | None) -> Engine:
    name = engine_name(settings)
    parquet = Path(settings.engine_parquet) if settings.engine_parquet else None
    if name == "spark":
        if parquet is None:
            raise EngineError(
                "HEADWAY_ENGINE=spark reads a Parquet export: set HEADWAY_ENGINE_PARQUET to "
                "the folder `headway export parquet DIR` wrote"
            )
        from headway.engines.spark import session

        backend = ibis.pyspark.connect(spark or session(settings.spark_url))
        tables = _read_parquet(backend, parquet, spark=True)
        return Engine(name, backend, tables, "parquet", owns_session=spark is None)
    if name == "postgres":
        if not settings.is_postgres:
            raise EngineError(
                "HEADWAY_ENGINE=postgres reads the PostgreSQL store: set HEADWAY_DATABASE to "
                "a postgresql:// URL, or choose HEADWAY_ENGINE=duckdb"
            )
        import psycopg

        backend = ibis.postgres.from_connection(psycopg.connect(settings.database, autocommit=True))
        return Engine(name, backend, {t: backend.table(t) for t in TABLES})
    if parquet is not None:
        backend = ibis.duckdb.connect()
        return Engine(name, backend, _read_parquet(backend, parquet), "parquet")
    if settings.is_postgres:
        raise EngineError(
            "HEADWAY_ENGINE=duckdb reads a DuckDB store or a Parquet export: set "
            "HEADWAY_ENGINE_PARQUET to a `headway export parquet` folder, or choose "
            "HEADWAY_ENGINE=postgres"
        )
    if isinstance(store, DuckStore):
        backend = ibis.duckdb.from_connection(store.reader())
        return Engine(name, backend, {t: backend.table(t) for t in TABLES})
    path = Path(settings.database)
    if not path.exists():
        raise EngineError(f"HEADWAY_DATABASE={path}: no such DuckDB store")
    backend = ibis.duckdb.connect(str(path), read_only=True)
    return Engine(name, backend, {t: backend.table(t) for t in TABLES})


def _with_links(engine: Engine, settings: Settings) -> Engine:
    """The engine with its tables' links as HEADWAY_ENGINE_LINKS says: the stored ones, or
    (`computed`, or `auto` over an export lacking them) computed by `links`."""
    mode = settings.engine_links
    t = Tables.of(engine.tables)
    if mode == "auto":
        lacking = (
            links.parquet_lacks_links(Path(str(settings.engine_parquet)))
            if engine.source == "parquet"
            else []
        )
        mode = "computed" if lacking else "stored"
    if mode == "stored":
        missing = links.stored_lacking(t)
        if missing:
            raise EngineError(
                f"HEADWAY_ENGINE_LINKS=stored, but the tables have no {', '.join(missing)}: "
                "set HEADWAY_ENGINE_LINKS=computed (or auto) to compute the links"
            )
        return engine
    # Over an export the engine's own session may keep tables: the links are computed once
    # there. A store is read through a read-only connection, so each query computes them.
    keep = _keeper(engine) if engine.source == "parquet" else None
    envs, window = settings.production_environments, settings.incident_window_hours
    computed = links.linked(t, envs, window, keep)
    engine.tables = {name: getattr(computed, name) for name in TABLES}
    engine.links = "computed"
    return engine


def _keeper(engine: Engine) -> Callable[[ir.Table], ir.Table]:
    def keep(table: ir.Table) -> ir.Table:
        kept = table.cache()
        engine.kept.append(kept)
        return kept

    return keep


def _read_parquet(backend: Any, folder: Path, *, spark: bool = False) -> dict[str, ir.Table]:
    tables = {}
    for name in TABLES:
        where = table_folder(folder, name)
        if not where.is_dir():
            raise EngineError(
                f"HEADWAY_ENGINE_PARQUET={folder}: no {name}/ folder; write the export with "
                "`headway export parquet DIR`"
            )
        # Spark reads a folder as a table; DuckDB wants its parts named.
        source = str(where) if spark else str(where / "*.parquet")
        tables[name] = backend.read_parquet(source, table_name=f"headway_{name}")
    return tables


@contextmanager
def connected(
    settings: Settings, *, spark: Any = None, store: Store | None = None
) -> Iterator[Engine]:
    engine = connect(settings, spark=spark, store=store)
    try:
        yield engine
    finally:
        engine.close()
