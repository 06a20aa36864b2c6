"""Store: connections, migrations and the single write path, for DuckDB and PostgreSQL."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import numpy as np
import pyarrow as pa
from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as upsert
from sqlalchemy.sql.expression import ClauseElement, FromClause, Select

from headway.model import as_row, columns
from headway.store.schema import metadata, schema_migrations
from headway.store.statements import Compiler, insert_into

MIGRATIONS = "headway.store.migrations"

_PING: Select[Any] = select(literal_column("1"))
_MIGRATED = select(schema_migrations.c.name)
_MIGRATION = insert_into(schema_migrations, "name", "applied_at")
# `count(table)` of each table asked, built once: the write path counts around each upsert.
_COUNTS: dict[str, Select[int]] = {}
_ANY: dict[str, Select[Any]] = {}  # `is_empty(table)` of each table asked


class StoreError(Exception):
    """A problem a person can act on (bad address, store in use, …)."""


class StoreBusyError(StoreError):
    pass


class StoreUnavailable(StoreError):
    """The store cannot be reached now (a database server stopped, restarting or cut off).

    Nothing was written by the operation that raised it; the same operation can be tried again
    after `retry_after` seconds, by which time the store may have reconnected by itself."""

    retry_after = 5


@dataclass
class WriteResult:
    """What a write did, per table: rows new to the store and rows already there."""

    new: dict[str, int] = field(default_factory=dict)
    seen: dict[str, int] = field(default_factory=dict)

    @property
    def total_new(self) -> int:
        return sum(self.new.values())

    def add(self, table: str, new: int, seen: int) -> None:
        self.new[table] = self.new.get(table, 0) + new
        self.seen[table] = self.seen.get(table, 0) + seen


def utc_naive(value: datetime | None) -> datetime | None:
    """Timestamps are stored as naive UTC; aware values are converted, naive ones trusted."""
    if value is None or value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def _migration_files() -> list[tuple[str, str]]:
    folder = resources.files(MIGRATIONS)
    names = sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))
    return [(n, folder.joinpath(n).read_text()) for n in names]


def _statements(sql: str) -> list[str]:
    without_comments = re.sub(r"--[^\n]*", "", sql)
    return [s.strip() for s in without_comments.split(";") if s.strip()]


class Store:
    """A connection to the canonical store. Use `open_store()` to get one."""

    dialect: str

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._committed: list[Callable[[], object]] = []  # called when the transaction commits
        self._compile = Compiler(self.dialect)

    # -- backend primitives -------------------------------------------------------------
    def _cursor(self) -> Any:
        raise NotImplementedError

    def _begin(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    def _bulk_upsert(self, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        """Upsert rows; return how many were new to the table."""
        raise NotImplementedError

    def _bulk_upserts(
        self, parts: Sequence[tuple[str, Sequence[str], list[tuple[Any, ...]]]]
    ) -> list[int]:
        """`_bulk_upsert` of each (table, columns, rows); how many were new to each."""
        return [self._bulk_upsert(table, cols, rows) for table, cols, rows in parts]

    def _arrow_upsert(self, table: str, rows: pa.Table) -> int:
        """Upsert an Arrow table of rows; return how many were new to the table."""
        raise NotImplementedError

    def _arrow_insert(self, table: str, rows: pa.Table) -> None:
        """Insert an Arrow table of rows none of whose keys is stored."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def read_only(self) -> Store:
        """A store for long reads (the metrics, their records) that neither waits for this
        one's writes nor holds them up: on a database server, a read-only connection of its
        own, which the caller closes. An embedded store has one connection: itself."""
        return self

    @contextmanager
    def _reaching(self, *, reconnect: bool = True) -> Iterator[None]:
        """Around every statement: a backend whose connection can be lost makes sure it has
        one (when `reconnect` and outside a transaction), and turns a lost one into
        `StoreUnavailable`. An embedded store has nothing to reach."""
        yield

    # -- queries ------------------------------------------------------------------------
    def rows(self, statement: ClauseElement, **values: Any) -> list[tuple[Any, ...]]:
        """The rows `statement` (built with SQLAlchemy Core from `store.schema`) answers,
        its `bindparam`s taking `values`."""
        sql, params = self._compile(statement, values)
        with self._lock, self._reaching():
            cur = self._cursor()
            cur.execute(sql, params)
            return list(cur.fetchall())

    def rows_each(
        self, asked: Sequence[tuple[ClauseElement, Mapping[str, Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        """`rows` of each (statement, values) in `asked`, in order: reads that do not depend
        on one another. A database server is sent them together, in one round trip."""
        return [self.rows(statement, **values) for statement, values in asked]

    def dicts(self, statement: ClauseElement, **values: Any) -> list[dict[str, Any]]:
        """As `rows`, each row a dict by column name."""
        sql, params = self._compile(statement, values)
        with self._lock, self._reaching():
            cur = self._cursor()
            cur.execute(sql, params)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def columns(self, statement: ClauseElement, **values: Any) -> list[np.ndarray]:
        """As `rows`, one array per selected column, in order: for reads of many rows that
        numpy works on. NULL is None here; a store whose engine answers typed arrays (the
        embedded one) gives NaT and NaN instead, so a caller converts each column to the
        type it needs (`np.asarray(column, "datetime64[us]")` reads either)."""
        sql, params = self._compile(statement, values)
        with self._lock, self._reaching():
            cur = self._cursor()
            cur.execute(sql, params)
            width = len(cur.description)
            rows = cur.fetchall()
        out = []
        for i in range(width):
            column = np.empty(len(rows), dtype=object)
            column[:] = [row[i] for row in rows]
            out.append(column)
        return out

    def run(self, statement: ClauseElement, **values: Any) -> None:
        """Run a statement that answers no rows (an insert, update or delete)."""
        sql, params = self._compile(statement, values)
        with self._lock, self._reaching():
            self._cursor().execute(sql, params)

    # SQL text as written, with no parameters: schema statements (the migrations) and
    # reads by hand (tests, a person at a prompt). Every value goes through a Core statement,
    # so nothing here parses or rewrites placeholders; neither engine reads `?` or `%s` in a
    # statement run without parameters.
    def query(self, sql: str) -> list[tuple[Any, ...]]:
        """The rows of `sql`, run as written."""
        with self._lock, self._reaching():
            cur = self._cursor()
            cur.execute(sql)
            return list(cur.fetchall())

    def ping(self, wait: float) -> bool:
        """Run `SELECT 1` if the store is free within `wait` seconds; False if it stayed busy.
        Raises StoreUnavailable when it cannot be reached."""
        if not self._lock.acquire(timeout=wait):
            return False
        try:
            with self._reaching():
                cur = self._cursor()
                cur.execute(*self._compile(_PING, {}))
                cur.fetchall()
            return True
        finally:
            self._lock.release()

    def query_dicts(self, sql: str) -> list[dict[str, Any]]:
        """As `query`, each row a dict by column name."""
        with self._lock, self._reaching():
            cur = self._cursor()
            cur.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def execute(self, sql: str) -> None:
        """Run `sql` as written (a schema statement)."""
        with self._lock, self._reaching():
            self._cursor().execute(sql)

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All or nothing: everything written inside commits together or not at all."""
        with self._lock:
            if self._depth:  # inside an outer transaction: it decides
                self._depth += 1
                try:
                    yield self
                finally:
                    self._depth -= 1
                return
            with self._reaching():
                self._begin()
            self._depth = 1
            self._committed = []
            try:
                with self._reaching(reconnect=False):
                    yield self
            except BaseException:
                self._committed = []
                self._rollback()
                raise
            finally:
                self._depth = 0
            try:
                # Never on a new connection: COMMIT there would end no transaction and
                # succeed, acknowledging writes that were lost with the old one.
                with self._reaching(reconnect=False):
                    self._commit()
            finally:
                announce, self._committed = self._committed, []
        for callback in announce:  # committed: outside the lock, as after any transaction
            callback()

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Call `callback` once the outermost transaction commits, or now outside one.

        Nothing is called when the transaction rolls back, and a callback equal to one already
        waiting is called once: a change made inside a larger transaction (a scheduled change
        and its schedule's outcome, a thousand flags imported) is announced after it commits,
        never while it could still be undone."""
        with self._lock:
            if self._depth:
                if callback not in self._committed:
                    self._committed.append(callback)
                return
        callback()

    # -- schema -------------------------------------------------------------------------
    def migrate(self) -> list[str]:
        """Apply every migration this store has not seen yet; return their names."""
        with self._lock:
            self._ddl(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(name TEXT PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
            )
            done = {r[0] for r in self.rows(_MIGRATED)}
            applied = []
            for name, sql in _migration_files():
                if name in done:
                    continue
                with self.transaction():
                    for statement in _statements(sql):
                        if (
                            statement.upper().startswith("CREATE INDEX")
                            and self.dialect == "duckdb"
                        ):
                            # DuckDB scans columnar data without them, and ART indexes slow
                            # bulk loads and updates; PostgreSQL needs them.
                            continue
                        self._ddl(statement)
                    self.run(
                        _MIGRATION, name=name, applied_at=datetime.now(UTC).replace(tzinfo=None)
                    )
                applied.append(name)
            return applied

    # -- the write path -----------------------------------------------------------------
    def write(self, records: Iterable[Any]) -> WriteResult:
        """Upsert canonical records in one transaction. Same record twice changes nothing.

        A field the new record leaves empty keeps its stored value, so a later, partial
        delivery (a pull request's `closed` event) never erases what an earlier one said.
        """
        by_table: dict[str, dict[str, tuple[Any, ...]]] = {}
        kinds: dict[str, type[Any]] = {}
        for record in records:
            table = record.table
            kinds[table] = type(record)
            row = as_row(record)
            rows = by_table.setdefault(table, {})
            earlier = rows.get(row[0])
            # several deliveries of one id in a batch merge as they would one after another
            rows[row[0]] = (
                row
                if earlier is None
                else tuple(
                    old if new is None else new for old, new in zip(earlier, row, strict=True)
                )
            )
        result = WriteResult()
        parts = [(t, columns(kinds[t]), list(kept.values())) for t, kept in by_table.items()]
        with self.transaction():
            for (table, _, given), new in zip(parts, self._bulk_upserts(parts), strict=True):
                result.add(table, new, len(given) - new)
        return result

    def write_rows(self, table: str, rows: pa.Table, *, new: bool = False) -> WriteResult:
        """Upsert rows already in the store's form (an Arrow table with the columns of
        `model.columns`, `id` first; times naive UTC, lists as JSON text), as `write` does:
        each column a row leaves empty keeps its stored value. No id may repeat in `rows`.

        `new` says the caller knows no row's id is stored (the table was empty when the file
        they come from began, and a file gives each id once): they are inserted, with no
        look-up of each key, about twice as fast; a stored id would fail the transaction."""
        result = WriteResult()
        if rows.num_rows:
            with self.transaction():
                if new:
                    self._arrow_insert(table, rows)
                    added = rows.num_rows
                else:
                    added = self._arrow_upsert(table, rows)
            result.add(table, added, rows.num_rows - added)
        return result

    def is_empty(self, table: str) -> bool:
        """Whether the table declared as `table` holds no row (one row read at most: a count
        is a scan on PostgreSQL)."""
        statement = _ANY.get(table)
        if statement is None:
            target = metadata.tables[table]
            statement = _ANY[table] = select(literal_column("1")).select_from(target).limit(1)
        return not self.rows(statement)

    def count(self, table: str) -> int:
        """How many rows the table declared as `table` holds."""
        statement = _COUNTS.get(table)
        if statement is None:
            statement = select(func.count()).select_from(metadata.tables[table])
            _COUNTS[table] = statement
        return int(self.rows(statement)[0][0])

    def _ddl(self, sql: str) -> None:
        """Run schema text (a migration's statement) as it is written, without parameters."""
        with self._lock, self._reaching():
            self._cursor().execute(sql)


def upsert_statement(table: str, cols: Sequence[str], source: FromClause) -> Insert:
    """Insert `source`'s rows (its columns named as `cols`) into `table`; a row whose key
    (`cols[0]`) is stored already updates it, each column the new row leaves empty keeping its
    stored value."""
    target = metadata.tables[table]
    statement = upsert(target).from_select(list(cols), select(*(source.c[c] for c in cols)))
    return statement.on_conflict_do_update(
        index_elements=[target.c[cols[0]]],
        set_={c: func.coalesce(statement.excluded[c], target.c[c]) for c in cols[1:]},
    )
