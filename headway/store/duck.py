"""The embedded DuckDB backend: one file, one writing process."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
from sqlalchemy import column, insert, select
from sqlalchemy import table as table_clause
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.sql.expression import ClauseElement

from headway.store.base import Store, StoreBusyError, StoreError, upsert_statement
from headway.store.schema import metadata

# The name a write's Arrow batch is registered under while its upsert reads it.
_BATCH = "_headway_batch"


def _busy_message(path: Path, error: Exception) -> str:
    match = re.search(r"PID (\d+)", str(error))
    pid = int(match.group(1)) if match else None
    holder = process_description(pid) if pid else "another process"
    url = serve_url(pid) if pid else None
    if url is not None:
        instead = (
            "That is `headway serve`: run this command against it instead, with "
            f"export HEADWAY_URL={url} (and HEADWAY_TOKEN=<an admin token> to change "
            "anything), or stop it, or use another store (HEADWAY_DATABASE=…)."
        )
    else:
        instead = (
            "If that is `headway serve`, run this command against the server instead "
            "(export HEADWAY_URL=http://HOST:PORT); otherwise wait for it to finish or stop it, "
            "or use another store (HEADWAY_DATABASE=…)."
        )
    return (
        f"The store {path} is in use by {holder}. DuckDB lets one process write to it at a "
        f"time. {instead}"
    )


def _unmasked(column: np.ndarray) -> np.ndarray:
    """A column of `fetchnumpy` with its NULLs as NaT (times), NaN (floats) or None."""
    if not isinstance(column, np.ma.MaskedArray):
        return column
    if column.dtype.kind == "M":
        return column.filled(np.datetime64("NaT"))
    if column.dtype.kind == "f":
        return column.filled(np.nan)
    out = column.data.astype(object)
    out[np.ma.getmaskarray(column)] = None
    return out


class DuckStore(Store):
    dialect = "duckdb"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as error:
            if "lock" in str(error).lower():
                raise StoreBusyError(_busy_message(path, error)) from None
            raise StoreError(f"Cannot open the store {path}: {error}") from None
        except duckdb.Error as error:
            raise StoreError(
                f"{path} is not a Headway store DuckDB can open ({error}). "
                "Point HEADWAY_DATABASE at another file."
            ) from None
        self._con.execute("SET TimeZone = 'UTC'")
        self._upserts: dict[tuple[str, tuple[str, ...]], Insert] = {}
        self._inserts: dict[tuple[str, tuple[str, ...]], ClauseElement] = {}

    def _cursor(self) -> Any:
        return self._con

    def columns(self, statement: ClauseElement, **values: Any) -> list[np.ndarray]:
        # DuckDB hands numpy its columns as they are stored, with no Python object a value;
        # a masked (NULL) entry becomes NaT, NaN or None (`Store.columns`).
        sql, params = self._compile(statement, values)
        with self._lock, self._reaching():
            found = self._con.execute(sql, params).fetchnumpy()
        return [_unmasked(column) for column in found.values()]

    def _begin(self) -> None:
        self._con.execute("BEGIN TRANSACTION")

    def _commit(self) -> None:
        self._con.execute("COMMIT")

    def _rollback(self) -> None:
        self._con.execute("ROLLBACK")

    def _bulk_upsert(self, table: str, cols: Sequence[str], rows: list[tuple[Any, ...]]) -> int:
        columns = zip(*rows, strict=True)
        return self._arrow_upsert(
            table, pa.table({c: list(col) for c, col in zip(cols, columns, strict=True)})
        )

    def _arrow_upsert(self, table: str, rows: pa.Table) -> int:
        before = self.count(table)  # a metadata lookup in DuckDB, not a scan
        with self._registered(rows):
            self.run(self._upsert(table, tuple(rows.column_names)))
        return self.count(table) - before

    def _arrow_insert(self, table: str, rows: pa.Table) -> None:
        with self._registered(rows):
            self.run(self._insert(table, tuple(rows.column_names)))

    @contextmanager
    def _registered(self, rows: pa.Table) -> Iterator[None]:
        """`rows` readable as the batch table meanwhile. A statement that failed aborted the
        transaction, and the batch goes with it: its error is the one the caller gets, not
        the aborted transaction's refusal to unregister it."""
        self._con.register(_BATCH, rows)
        try:
            yield
        except BaseException:
            with suppress(duckdb.Error):
                self._con.unregister(_BATCH)
            raise
        self._con.unregister(_BATCH)

    def _insert(self, name: str, cols: tuple[str, ...]) -> ClauseElement:
        """The insert of the registered batch into `name`, built once per table and columns."""
        statement = self._inserts.get((name, cols))
        if statement is None:
            batch = table_clause(_BATCH, *(column(c) for c in cols))
            target = metadata.tables[name]
            statement = self._inserts[name, cols] = insert(target).from_select(
                list(cols), select(*(batch.c[c] for c in cols))
            )
        return statement

    def _upsert(self, name: str, cols: tuple[str, ...]) -> Insert:
        """The upsert from the registered batch into `name`, built once per table and columns
        (and so compiled once)."""
        statement = self._upserts.get((name, cols))
        if statement is None:
            batch = table_clause(_BATCH, *(column(c) for c in cols))
            statement = self._upserts[name, cols] = upsert_statement(name, cols, batch)
        return statement

    def copy_to_parquet(self, table: str, target: Path) -> int:
        """Write every row of `table` to the Parquet file `target` and return how many: DuckDB
        writes the file itself, in parallel, without a round trip through Python. Inside a
        transaction it reads that transaction's snapshot."""
        if table not in metadata.tables:
            raise StoreError(f"{table} is not one of the store's tables")
        quoted = str(target).replace("'", "''")
        copied = self.query(f"COPY (SELECT * FROM {table}) TO '{quoted}' (FORMAT parquet)")
        return int(copied[0][0])

    def reader(self) -> Any:
        """A second connection to this store's database, for an analytics engine in the same
        process: DuckDB refuses a second open of the file, but a cursor shares it (and sees
        what has been committed). Its session runs at UTC, as the store's does."""
        cursor = self._con.cursor()
        cursor.execute("SET TimeZone = 'UTC'")
        return cursor

    def close(self) -> None:
        self._con.close()


def process_description(pid: int) -> str:
    args = _command_line(pid)
    return f"process {pid} ({' '.join(args)})" if args else f"process {pid}"


def serve_url(pid: int) -> str | None:
    """The URL a `headway serve` process listens on; None if the process is not one."""
    return serve_url_of(_command_line(pid))


def serve_url_of(args: list[str]) -> str | None:
    """The URL `headway serve` listens on when started with the command line `args`."""
    # `headway serve …`, `python …/headway serve …` or `python -m headway serve …`
    program = next((i for i, a in enumerate(args) if Path(a).name.startswith("headway")), None)
    if program is None or args[program + 1 : program + 2] != ["serve"]:
        return None
    options = {"--host": "127.0.0.1", "--port": "8000"}
    for i, arg in enumerate(args):
        name, eq, value = arg.partition("=")
        if name in options:
            options[name] = value if eq else (args[i + 1] if i + 1 < len(args) else "")
    host = options["--host"]
    if host in ("0.0.0.0", "::", ""):  # listening everywhere: this machine reaches it on loopback
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{options['--port']}"


def _command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]
