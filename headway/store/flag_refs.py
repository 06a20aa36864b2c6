"""The code reference tables' statements (migration 0015_flag_references.sql): each scan of a
repository, and the flag evaluations it found."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import cast

from sqlalchemy import bindparam, func, select

from headway.store.base import Store
from headway.store.schema import flag_ref_scans, flag_refs
from headway.store.statements import insert_into

__all__ = [
    "ReferenceRow",
    "ScanRow",
    "insert_reference",
    "insert_scan",
    "latest_scan",
    "latest_scans",
    "references",
]

#: (id, repository, commit, files, scanned_at)
ScanRow = tuple[str, str, str | None, int, datetime]
#: (scan, flag, path, line, pattern)
ReferenceRow = tuple[str, str, str, int, str]

_INSERT_SCAN = insert_into(
    flag_ref_scans, "id", "repository", "commit_sha", "files", "actor", "scanned_at"
)
_INSERT_REFERENCE = insert_into(flag_refs, "scan", "flag", "path", "line", "pattern")

_SCANS = select(
    flag_ref_scans.c.id,
    flag_ref_scans.c.repository,
    flag_ref_scans.c.commit_sha,
    flag_ref_scans.c.files,
    flag_ref_scans.c.scanned_at,
)
_same = flag_ref_scans.alias("same")
# Each repository's scans at its newest scan time (two scans at one instant are both there).
_LATEST_SCANS = _SCANS.where(
    flag_ref_scans.c.scanned_at
    == select(func.max(_same.c.scanned_at))
    .where(_same.c.repository == flag_ref_scans.c.repository)
    .scalar_subquery()
).order_by(flag_ref_scans.c.repository, flag_ref_scans.c.id)
_LATEST_SCAN = (
    _SCANS.where(flag_ref_scans.c.repository == bindparam("repository"))
    .order_by(flag_ref_scans.c.scanned_at.desc(), flag_ref_scans.c.id)
    .limit(1)
)


def insert_scan(
    store: Store,
    *,
    id: str,
    repository: str,
    commit: str | None,
    files: int,
    actor: str,
    at: datetime,
) -> None:
    store.run(
        _INSERT_SCAN,
        id=id,
        repository=repository,
        commit_sha=commit,
        files=files,
        actor=actor,
        scanned_at=at,
    )


def insert_reference(
    store: Store, *, scan: str, flag: str, path: str, line: int, pattern: str
) -> None:
    store.run(_INSERT_REFERENCE, scan=scan, flag=flag, path=path, line=line, pattern=pattern)


def latest_scans(store: Store) -> list[ScanRow]:
    """The newest scans of every repository, by repository and id."""
    return cast(list[ScanRow], store.rows(_LATEST_SCANS))


def latest_scan(store: Store, repository: str) -> ScanRow | None:
    found = cast(list[ScanRow], store.rows(_LATEST_SCAN, repository=repository))
    return found[0] if found else None


def references(store: Store, scans: Sequence[str]) -> list[ReferenceRow]:
    """Every reference of the given scans, by path, line and flag."""
    # An IN list is written out per call: one parameter per scan.
    statement = (
        select(
            flag_refs.c.scan,
            flag_refs.c.flag,
            flag_refs.c.path,
            flag_refs.c.line,
            flag_refs.c.pattern,
        )
        .where(flag_refs.c.scan.in_(scans))
        .order_by(flag_refs.c.path, flag_refs.c.line, flag_refs.c.flag)
    )
    return cast(list[ReferenceRow], store.rows(statement))
