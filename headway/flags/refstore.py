"""Code reference scans read and written as `refs` models, through the statements of
`headway.store.flag_refs`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from headway.flags.refs import Reference, Scan
from headway.store import Store
from headway.store import flag_refs as statements

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
    statements.insert_scan(
        store,
        id=stored.id,
        repository=repository,
        commit=scan.commit,
        files=scan.files,
        actor=actor,
        at=at.astimezone(UTC).replace(tzinfo=None),
    )
    for ref in scan.references:
        statements.insert_reference(
            store, scan=stored.id, flag=ref.flag, path=ref.path, line=ref.line, pattern=ref.pattern
        )
    return stored


def _scan(row: statements.ScanRow) -> StoredScan:
    id_, repository, commit, files, at = row
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at
    return StoredScan(id_, repository, commit, int(files), at)


def latest_scans(store: Store) -> list[StoredScan]:
    """The newest scan of each repository, by repository."""
    newest: dict[str, StoredScan] = {}
    for row in statements.latest_scans(store):
        scan = _scan(row)
        newest.setdefault(scan.repository, scan)
    return list(newest.values())


def latest_scan(store: Store, repository: str) -> StoredScan | None:
    row = statements.latest_scan(store, repository)
    return _scan(row) if row else None


def scan_references(store: Store, scan_ids: list[str]) -> list[tuple[str, Reference]]:
    """(scan id, reference) for every reference of the given scans, by path and line."""
    if not scan_ids:
        return []
    rows = statements.references(store, scan_ids)
    return [(str(s), Reference(str(f), str(p), int(n), str(pat))) for s, f, p, n, pat in rows]
