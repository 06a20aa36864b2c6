"""The PostgreSQL backend, for teams that run Headway as a shared service."""

from __future__ import annotations

import io
import logging
import re
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
import pyarrow as pa
from psycopg.conninfo import conninfo_to_dict
from pyarrow import csv
from sqlalchemy import bindparam, cast, column, delete, func, literal_column
from sqlalchemy import table as table_clause
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.expression import ClauseElement

from headway.store.base import Store, StoreError, StoreUnavailable, upsert_statement, utc_naive
from headway.store.schema import metadata

log = logging.getLogger("headway.store")

# A server that does not answer a connection attempt is down for this long at most; the lock
# every request shares is held meanwhile, so it is short. A URL's own connect_timeout wins.
CONNECT_TIMEOUT_S = 5
# While the server is down, requests are answered 503 at once between attempts to reach it
# rather than each waiting for an attempt of its own.
RECONNECT_EVERY_S = 0.5
_CSV = csv.WriteOptions(include_header=False, quoting_style="all_valid")
# Up to this many rows a write is one statement whose values are arrays, one per column (a
# webhook group's rows): no staging table, so one round trip, and nothing for COMMIT to
# empty. More rows (an import) are staged by COPY, faster per row.
ARRAY_ROWS = 2000


class PostgresStore(Store):
    dialect = "postgres"

    def __init__(self, url: str, *, read_only: bool = False) -> None:
        super().__init__()
        self.url = url
        self._read_only = read_only
        self._batch_tables: set[str] = set()
        self._upserts: dict[tuple[str, tuple[str, ...]], tuple[str, ClauseElement]] = {}
        self._array_upserts: dict[tuple[str, tuple[str, ...]], ArrayUpsert] = {}
        self._closed = False
        self._lost_since: float | None = None  # when the connection was lost, while it is
        self._tried_at = 0.0  # the last attempt to reconnect
        try:
            self._con = self._connect()
        except psycopg.OperationalError as error:
            raise StoreError(
                f"Cannot connect to PostgreSQL at {_redact(url)}: {_first_line(error)}. "
                "Check HEADWAY_DATABASE and that the server is running."
            ) from None

    def _connect(self) -> psycopg.Connection[Any]:
        given = "connect_timeout" in conninfo_to_dict(self.url)
        timeout = None if given else CONNECT_TIMEOUT_S
        con = psycopg.connect(self.url, autocommit=True, connect_timeout=timeout)
        con.execute("SET TIME ZONE 'UTC'")
        if self._read_only:  # a write through a reader is a mistake, refused by the server
            con.execute("SET default_transaction_read_only = on")
        self._batch_tables.clear()  # temporary tables lived in the old session
        return con

    def _unavailable(self, error: BaseException) -> StoreUnavailable:
        """The error callers see. Where the server is and why it failed go to the log only:
        the answer reaches clients, `/healthz`'s anyone."""
        if self._lost_since is None:
            self._lost_since = time.monotonic()
            log.warning(
                "lost the connection to PostgreSQL at %s: %s; reconnecting",
                _redact(self.url),
                _first_line(error),
            )
        return StoreUnavailable(
            "The store (PostgreSQL) cannot be reached. Nothing was written; Headway "
            f"reconnects by itself, so try again in {StoreUnavailable.retry_after} s."
        )

    @contextmanager
    def _reaching(self, *, reconnect: bool = True) -> Iterator[None]:
        """A lost connection (the server stopped or restarted, the network cut) is replaced
        before the next statement outside a transaction; inside one it cannot be, as what the
        transaction wrote went with it. Either way the caller gets StoreUnavailable, never
        psycopg's own error."""
        lost = self._con.closed or self._con.broken
        if lost and reconnect and self._depth == 0 and not self._closed:
            self._reconnect()
        try:
            yield
        except psycopg.Error as error:
            if self._con.closed or self._con.broken:
                raise self._unavailable(error) from None
            raise

    def _reconnect(self) -> None:
        if time.monotonic() - self._tried_at < RECONNECT_EVERY_S:
            raise self._unavailable(ConnectionError("not reconnected yet"))
        self._tried_at = time.monotonic()
        try:
            con = self._connect()
        except psycopg.Error as error:
            raise self._unavailable(error) from None
        self._con.close()
        self._con = con
        if self._lost_since is not None:
            log.warning(
                "reconnected to PostgreSQL after %.1f s", time.monotonic() - self._lost_since
            )
        self._lost_since = None

    def read_only(self) -> Store:
        try:
            return PostgresStore(self.url, read_only=True)
        except StoreError as error:
            raise StoreUnavailable(str(error)) from None

    def _cursor(self) -> Any:
        return self._con.cursor()

    def _begin(self) -> None:
        self._con.execute("BEGIN")

    def _commit(self) -> None:
        self._con.execute("COMMIT")

    def _bulk_upsert(self, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        if len(rows) <= ARRAY_ROWS:
            return int(self._array_upsert(table, tuple(cols), rows))
        copy_sql, statement = self._upsert(table, tuple(cols))
        cur = self._con.cursor()
        self._batch_table(table)
        with cur.copy(copy_sql) as copy:
            for row in rows:
                # a `timestamp` column would drop an offset; store the UTC wall time instead
                copy.write_row([utc_naive(v) if isinstance(v, datetime) else v for v in row])
        cur.execute(*self._compile(statement, {}))
        return sum(1 for (inserted,) in cur.fetchall() if inserted)

    def rows_each(
        self, asked: Sequence[tuple[ClauseElement, Mapping[str, Any]]]
    ) -> list[list[tuple[Any, ...]]]:
        if len(asked) < 2:
            return super().rows_each(asked)
        compiled = [self._compile(statement, dict(values)) for statement, values in asked]
        # sent together and answered together (psycopg's pipeline mode): one round trip
        with self._lock, self._reaching():
            with self._con.pipeline():
                cursors = [self._con.cursor() for _ in compiled]
                for cur, (sql, params) in zip(cursors, compiled, strict=True):
                    cur.execute(sql, params)
            return [list(cur.fetchall()) for cur in cursors]

    def _bulk_upserts(
        self, parts: Sequence[tuple[str, Sequence[str], list[tuple[Any, ...]]]]
    ) -> list[int]:
        if len(parts) < 2 or any(len(rows) > ARRAY_ROWS for _, _, rows in parts):
            return super()._bulk_upserts(parts)
        # A webhook group writes to several tables: their statements are sent together, in
        # one round trip, and their answers read after (psycopg's pipeline mode).
        with self._con.pipeline():
            sent = [self._array_upsert(t, tuple(cols), rows, read=False) for t, cols, rows in parts]
        return [sum(1 for (inserted,) in cur.fetchall() if inserted) for cur in sent]

    def _array_upsert(
        self, table: str, cols: tuple[str, ...], rows: list[tuple[Any, ...]], *, read: bool = True
    ) -> Any:
        """The upsert of `rows` as one statement of arrays: how many rows were new, or (not
        `read`) the cursor whose rows say so."""
        upsert = self._array_upserts.get((table, cols))
        if upsert is None:
            upsert = self._array_upserts[table, cols] = ArrayUpsert(table, cols)
        sql, params = self._compile(upsert.statement, upsert.values(rows))
        cur = self._con.cursor()
        # the arrays go in PostgreSQL's binary form (`%b`): no element is quoted or escaped
        cur.execute(sql.replace("%s", "%b"), params)
        return sum(1 for (inserted,) in cur.fetchall() if inserted) if read else cur

    def _arrow_upsert(self, table: str, rows: pa.Table) -> int:
        # The rows go to the staging table as CSV that Arrow writes in C: every value quoted,
        # so an empty text stays one and only a missing value is NULL.
        copy_sql, statement = self._upsert(table, tuple(rows.column_names))
        text = io.BytesIO()
        csv.write_csv(rows, text, write_options=_CSV)
        cur = self._con.cursor()
        self._batch_table(table)
        with cur.copy(f"{copy_sql} (FORMAT csv)") as copy:
            copy.write(text.getbuffer())
        cur.execute(*self._compile(statement, {}))
        return sum(1 for (inserted,) in cur.fetchall() if inserted)

    def _arrow_insert(self, table: str, rows: pa.Table) -> None:
        # No key is stored: the rows are copied into the table itself, with no staging.
        quoted = ", ".join(f'"{c}"' for c in rows.column_names)
        text = io.BytesIO()
        csv.write_csv(rows, text, write_options=_CSV)
        with self._con.cursor().copy(f"COPY {table} ({quoted}) FROM STDIN (FORMAT csv)") as copy:
            copy.write(text.getbuffer())

    def _upsert(self, name: str, cols: tuple[str, ...]) -> tuple[str, ClauseElement]:
        """The COPY that stages a write's rows for `name` and the upsert that takes them out of
        the staging table, built once per table and columns (and so compiled once)."""
        kept = self._upserts.get((name, cols))
        if kept is None:
            batch = _batch_name(name)
            # COPY has no Core form; the names in it are the declared table's own.
            quoted = ", ".join(f'"{c}"' for c in cols)
            copy_sql = f"COPY {batch} ({quoted}) FROM STDIN"
            # The staged rows are taken out of the staging table by the statement that upserts
            # them. xmax is 0 on a row version this statement inserted and set on one it
            # updated, so the new rows are counted without scanning the table.
            staging = table_clause(batch, *(column(c) for c in cols))
            staged = delete(staging).returning(*staging.c).cte("staged")
            statement = upsert_statement(name, cols, staged).returning(
                literal_column("xmax") == literal_column("0")
            )
            kept = self._upserts[name, cols] = (copy_sql, statement)
        return kept

    def _batch_table(self, table: str) -> str:
        """A session's staging table for `table`, created once rather than per write: creating
        and dropping one per write and table cost more catalog work than small batches' rows.
        Writes run in a transaction, whose end empties it (ON COMMIT DELETE ROWS)."""
        name = _batch_name(table)
        if table not in self._batch_tables:
            self._con.execute(
                f"CREATE TEMP TABLE IF NOT EXISTS {name} (LIKE {table}) ON COMMIT DELETE ROWS"
            )
            self._batch_tables.add(table)
        return name

    def _rollback(self) -> None:
        self._batch_tables.clear()  # created in the rolled-back transaction: gone with it
        if self._con.closed or self._con.broken:
            return  # the server ended the transaction with the connection
        try:
            self._con.execute("ROLLBACK")
        except psycopg.Error:
            if not (self._con.closed or self._con.broken):
                raise

    def close(self) -> None:
        self._closed = True  # and stays closed: no statement reconnects it
        self._con.close()


class ArrayUpsert:
    """The upsert of rows given as one array per column (bindparams `v0`, `v1`, …, in the
    order of `cols`), counting the new rows as the staged upsert does. A record's values have
    their fields' types (`values.problem` checks each at the boundary), so an array holds one
    type; a time is stored as its UTC wall time."""

    def __init__(self, table: str, cols: tuple[str, ...]) -> None:
        target = metadata.tables[table]
        types = [target.c[c].type for c in cols]
        arrays = [cast(bindparam(f"v{i}"), ARRAY(t)) for i, t in enumerate(types)]
        given = func.unnest(*arrays).table_valued(*cols).render_derived(name="given")
        self.statement = upsert_statement(table, cols, given).returning(
            literal_column("xmax") == literal_column("0")
        )
        self._times = {i for i, t in enumerate(types) if t.python_type is datetime}

    def values(self, rows: list[tuple[Any, ...]]) -> dict[str, list[Any]]:
        return {
            f"v{i}": [utc_naive(v) for v in column] if i in self._times else list(column)
            for i, column in enumerate(zip(*rows, strict=True))
        }


def _batch_name(table: str) -> str:
    return f"_headway_batch_{table}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else repr(error)


def _redact(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)
