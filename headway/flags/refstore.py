"""Code reference tables (migration 0015_flag_references.sql): the only SQL for them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from headway.flags.refs import Reference, Scan
from headway.store import Store

__all__ = ["StoredScan", "insert_scan", "latest_scan", "latest_scans", "scan_references"]


@dataclass(frozen=True, slots=True)
class StoredScan:
    id: str
    repository: str
    commit: str | None
    files: int
    scanned_at: datetime


def insert_scan(store: Store, repository: str, scan: Scan, actor: str, at: datetime) -> StoredScan:
    stored = StoredScan(uuid.uuid4().hex, repository, scan.commit, scan.files, at)
    store.execute(
        "INSERT INTO flag_ref_scans VALUES (?, ?, ?, ?, ?, ?)",
        [
            stored.id,
            repository,
            scan.commit,
            scan.files,
            actor,
            at.astimezone(UTC).replace(tzinfo=None),
        ],
    )
    for ref in scan.references:
        store.execute(
            "INSERT INTO flag_refs VALUES (?, ?, ?, ?, ?)",
            [stored.id, ref.flag, ref.path, ref.line, ref.pattern],
        )
    return stored


def _scan(row: tuple[Any, ...]) -> StoredScan:
    id_, repository, commit, files, at = row
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    return StoredScan(id_, repository, commit, int(files), at)


_COLUMNS = "id, repository, commit_sha, files, scanned_at"


def latest_scans(store: Store) -> list[StoredScan]:
    """The newest scan of each repository, by repository."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM flag_ref_scans s WHERE scanned_at = "
        "(SELECT MAX(scanned_at) FROM flag_ref_scans t WHERE t.repository = s.repository) "
        "ORDER BY repository, id"
    )
    newest: dict[str, StoredScan] = {}
    for row in rows:
        scan = _scan(row)
        newest.setdefault(scan.repository, scan)
    return list(newest.values())


def latest_scan(store: Store, repository: str) -> StoredScan | None:
    rows = store.query(
        f"SELECT {_COLUMNS} FROM flag_ref_scans WHERE repository = ? "
        "ORDER BY scanned_at DESC, id LIMIT 1",
        [repository],
    )
    return _scan(rows[0]) if rows else None


def scan_references(store: Store, scan_ids: list[str]) -> list[tuple[str, Reference]]:
    """(scan id, reference) for every reference of the given scans, by path and line."""
    if not scan_ids:
        return []
    marks = ", ".join("?" for _ in scan_ids)
    rows = store.query(
        f"SELECT scan, flag, path, line, pattern FROM flag_refs WHERE scan IN ({marks}) "
        "ORDER BY path, line, flag",
        scan_ids,
    )
    return [(str(s), Reference(str(f), str(p), int(n), str(pat))) for s, f, p, n, pat in rows]
