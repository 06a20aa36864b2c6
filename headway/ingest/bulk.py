"""Canonical JSONL files into the store in blocks through Arrow (`headway import jsonl`).

The same outcome as `records.ingest` over `files.read_jsonl`, at the speed of the engine:
each block of lines (`sources.bulk`) arrives as Arrow tables of rows in the store's form, and
the store upserts each table in one statement. Everything runs in one transaction, so a bad
line anywhere, in the first block or the last, leaves the store as it was; the services the
files touched are re-linked before it commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from headway import linking
from headway.config import Settings
from headway.ingest.records import audited
from headway.sources.bulk import BLOCK, read_blocks
from headway.sources.screen import KINDS
from headway.store import Store, WriteResult

__all__ = ["ingest_jsonl"]

# Every table a canonical JSONL file writes to.
TABLES = tuple(spec.table for spec in KINDS.values())


def ingest_jsonl(
    store: Store,
    settings: Settings,
    paths: Iterable[Path],
    *,
    actor: str | None = None,
    block: int | None = None,
) -> WriteResult:
    """Import canonical JSONL files, all or nothing, and re-link the services they touch;
    an import a person asked for (`actor`) is audited in the same transaction."""
    result = WriteResult()
    touched: set[str] = set()
    with store.transaction():
        for path in paths:
            # A table empty as the file begins holds none of its ids at any block: a file
            # gives each id once. Its rows are inserted, with no key looked up.
            empty = {t for t in TABLES if store.is_empty(t)}
            for found in read_blocks(path, block or BLOCK):
                for table in found.order:  # tables reported in the order the file names them
                    result.add(table, 0, 0)
                for table, rows in found.tables.items():
                    _add(result, store.write_rows(table, rows, new=table in empty))
                if found.records:
                    _add(result, store.write(found.records))
                touched |= found.services
        linking.link(store, settings, touched)
        if actor is not None:
            audited(store, actor, result)
    return result


def _add(result: WriteResult, written: WriteResult) -> None:
    for table, new in written.new.items():
        result.add(table, new, written.seen[table])
