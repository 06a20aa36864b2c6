"""`headway export parquet DIR`: the canonical tables as Parquet, in the layout of `layout`.

The export reads the store through its own engine in one snapshot (one read-only DuckDB
connection, or one REPEATABLE READ transaction on PostgreSQL), so the tables agree with each
other: a change never names a deployment the export lacks. It streams each table through
Arrow in batches, so memory stays flat whatever the table's size.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from headway.engines.connect import Engine, EngineError
from headway.engines.layout import FORMAT, MANIFEST, TABLES, first_part, table_folder


@dataclass(frozen=True)
class Exported:
    folder: Path
    rows: dict[str, int]


def export_parquet(engine: Engine, folder: Path) -> Exported:
    """Write every canonical table under `folder` and the manifest beside them.

    A folder holding anything but an earlier export is refused, so an export never deletes
    files it did not write; an earlier export's tables are replaced."""
    _check_target(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    with _snapshot(engine):
        for name in TABLES:
            rows[name] = _write_table(engine, name, folder)
    manifest = {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "engine": engine.name,
        "tables": {name: {"path": f"{name}/", "rows": n} for name, n in rows.items()},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return Exported(folder, rows)


def _check_target(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise EngineError(f"{folder} is a file; give a folder to export into")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MANIFEST).exists():
        raise EngineError(
            f"{folder} is not empty and holds no earlier export ({MANIFEST}); give an empty "
            "or new folder"
        )


def _write_table(engine: Engine, name: str, folder: Path) -> int:
    where = table_folder(folder, name)
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    target = first_part(folder, name)
    if engine.name == "duckdb":
        # DuckDB writes Parquet itself, in parallel, without a round trip through Python.
        quoted = str(target).replace("'", "''")
        done = engine.backend.con.execute(
            f"COPY (SELECT * FROM {name}) TO '{quoted}' (FORMAT parquet)"
        )
        return int(done.fetchone()[0])
    reader = engine.table(name).to_pyarrow_batches(chunk_size=100_000)
    n = 0
    with pq.ParquetWriter(target, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
            n += batch.num_rows
    return n


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Any]:
    """Every table read in one snapshot: a REPEATABLE READ transaction on PostgreSQL; the
    embedded store is read through one read-only connection no writer can share."""
    if engine.name != "postgres":
        with nullcontext():
            yield
        return
    import psycopg

    con = engine.backend.con
    con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with con.transaction():
        yield
