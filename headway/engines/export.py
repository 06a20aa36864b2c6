"""`headway export parquet DIR`: the canonical tables as Parquet, in the layout of `layout`.

The export reads every table in one snapshot (one transaction of the embedded store's own
connection, or one REPEATABLE READ transaction on PostgreSQL), so the tables agree with each
other: a change never names a deployment the export lacks. DuckDB writes each file itself;
other engines stream each table through Arrow in batches, so memory stays flat whatever the
table's size.
"""

from __future__ import annotations

import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from headway.config import Settings
from headway.engines.connect import Engine, EngineError, connect
from headway.engines.layout import FORMAT, MANIFEST, TABLES, first_part, table_folder
from headway.store import Store
from headway.store.duck import DuckStore

_PART = re.compile(r"[a-z_]+/part-\d{5}\.parquet")


@dataclass(frozen=True)
class Exported:
    folder: Path
    rows: dict[str, int]


def export_store(store: Store, settings: Settings, folder: Path) -> Exported:
    """Export the store `store` is open on: what `headway export parquet` and
    `GET /api/export/parquet` run.

    The embedded store copies its tables through its own connection, in one transaction (so
    the server exports the file it holds open); PostgreSQL is read through its engine."""
    if store.dialect != "duckdb":
        # (the links as stored, whatever HEADWAY_ENGINE_LINKS says: an export is the store's)
        store_only = {"engine": None, "engine_parquet": None, "engine_links": "stored"}
        engine = connect(settings.model_copy(update=store_only))
        try:
            return export_parquet(engine, folder)
        finally:
            engine.close()
    check_target(folder)
    folder.mkdir(parents=True, exist_ok=True)
    assert isinstance(store, DuckStore)
    with store.transaction():
        rows = {name: store.copy_to_parquet(name, _fresh_part(folder, name)) for name in TABLES}
    return _finish(folder, rows, "duckdb")


def export_parquet(engine: Engine, folder: Path) -> Exported:
    """Write every canonical table a PostgreSQL engine reads under `folder`, and the manifest
    beside them. (The embedded store exports through its own connection: `export_store`.)

    A folder holding anything but an earlier export is refused, so an export never deletes
    files it did not write; an earlier export's tables are replaced."""
    check_target(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with _snapshot(engine):
        rows = {name: _write_table(engine, name, folder) for name in TABLES}
    return _finish(folder, rows, engine.name)


def _finish(folder: Path, rows: dict[str, int], engine: str) -> Exported:
    manifest = {
        "format": FORMAT,
        "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "engine": engine,
        "tables": {name: {"path": f"{name}/", "rows": n} for name, n in rows.items()},
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return Exported(folder, rows)


def unpack_export(archive: Path, folder: Path) -> Exported:
    """Unpack a zipped export (`GET /api/export/parquet`) into `folder`, as `export_parquet`
    would have written it there: the same refusals, an earlier export's tables replaced.

    Only the layout's own files are accepted, so a member can never land outside `folder`."""
    check_target(folder)
    try:
        with zipfile.ZipFile(archive) as packed:
            members = _layout_members(packed)
            manifest = json.loads(packed.read(MANIFEST))
            rows = {name: int(manifest["tables"][name]["rows"]) for name in TABLES}
            folder.mkdir(parents=True, exist_ok=True)
            for name in TABLES:
                _fresh_part(folder, name)
            for member in members:
                (folder / member).write_bytes(packed.read(member))
    except (zipfile.BadZipFile, KeyError, TypeError, ValueError) as error:
        raise EngineError(f"the server's export is not one Headway can read ({error})") from None
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return Exported(folder, rows)


def _layout_members(packed: zipfile.ZipFile) -> list[str]:
    """The archive's table parts; refuses any member that is not the manifest or a part."""
    names = packed.namelist()
    parts = [n for n in names if _PART.fullmatch(n) and n.split("/")[0] in TABLES]
    strays = sorted(set(names) - set(parts) - {MANIFEST})
    if strays or MANIFEST not in names:
        raise ValueError(f"unexpected members {strays[:3]}" if strays else f"no {MANIFEST}")
    return parts


def check_target(folder: Path) -> None:
    if folder.exists() and not folder.is_dir():
        raise EngineError(f"{folder} is a file; give a folder to export into")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MANIFEST).exists():
        raise EngineError(
            f"{folder} is not empty and holds no earlier export ({MANIFEST}); give an empty "
            "or new folder"
        )


def _fresh_part(folder: Path, name: str) -> Path:
    """Where table `name`'s one part goes, its folder emptied of an earlier export's parts."""
    where = table_folder(folder, name)
    if where.exists():
        shutil.rmtree(where)
    where.mkdir(parents=True)
    return first_part(folder, name)


def _write_table(engine: Engine, name: str, folder: Path) -> int:
    target = _fresh_part(folder, name)
    reader = engine.table(name).to_pyarrow_batches(chunk_size=100_000)
    n = 0
    with pq.ParquetWriter(target, reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
            n += batch.num_rows
    return n


@contextmanager
def _snapshot(engine: Engine) -> Iterator[Any]:
    """Every table read in one snapshot: a REPEATABLE READ transaction on PostgreSQL; any
    other engine reads files or a read-only connection no writer can share."""
    if engine.name != "postgres":
        with nullcontext():
            yield
        return
    import psycopg

    con = engine.backend.con
    con.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    with con.transaction():
        yield
