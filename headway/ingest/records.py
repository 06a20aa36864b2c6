"""Accepting records: write them and refresh the links they affect, all or nothing."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from headway import linking
from headway.config import Settings
from headway.store import Store, WriteResult, audit


def ingest(
    store: Store,
    settings: Settings,
    records: Iterable[Any],
    chunk: int = 200_000,
    *,
    actor: str | None = None,
) -> WriteResult:
    """Write canonical records in one transaction and re-link the services they touch.

    Records are consumed lazily and written in chunks, so a large file never has to sit in
    memory twice; a bad record anywhere rolls back everything written before it. An import a
    person asked for (`actor`) is recorded in the audit log, with what it added, in the same
    transaction.
    """
    result = WriteResult()
    touched: set[str] = set()
    batch: list[Any] = []
    with store.transaction():
        for record in records:
            batch.append(record)
            if len(batch) >= chunk:
                _flush(store, batch, result, touched)
        _flush(store, batch, result, touched)
        linking.link(store, settings, touched)
        if actor is not None:
            audited(store, actor, result)
    return result


def audited(store: Store, actor: str, result: WriteResult) -> None:
    """Record in the audit log that `actor` imported what `result` says."""
    now = datetime.now(UTC)
    audit.append(
        store,
        actor=actor,
        entity="import",
        entity_id=now.strftime("%Y%m%dT%H%M%S.%fZ"),
        action="import",
        before=None,
        after={"new": dict(result.new), "seen": dict(result.seen)},
        at=now,
    )


def _flush(store: Store, batch: list[Any], result: WriteResult, touched: set[str]) -> None:
    if not batch:
        return
    for record in batch:
        service = getattr(record, "service", None) or getattr(record, "name", None)
        if service:
            touched.add(service)
    written = store.write(batch)
    for table in written.new:
        result.add(table, written.new[table], written.seen[table])
    batch.clear()
