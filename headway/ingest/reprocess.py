"""Deriving every stored webhook delivery again, under the current mapping (`headway
reprocess`): what earlier deliveries produced is removed, and each raw payload goes through
its adapter and the write path again (`deliveries.interpret`, `deliveries.apply`)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC

import orjson

from headway.config import Settings
from headway.ingest.deliveries import apply, in_order, interpret, parsers, raw_event
from headway.ingest.reconcile import Delivery
from headway.ingest.stored import in_lists
from headway.model import RECORD_TYPES
from headway.sources.mapping import Mapping, Parsed, PayloadError
from headway.store import Store

RECORD_TABLES = frozenset(t.table for t in RECORD_TYPES.values()) - {"services"}


@dataclass
class ReprocessResult:
    deliveries: int = 0
    outcomes: dict[str, int] = dataclasses.field(default_factory=dict)
    removed: int = 0


def reprocess(
    store: Store,
    settings: Settings,
    *,
    chunk: int = 2000,
    progress: Callable[[int], None] | None = None,
) -> ReprocessResult:
    """Re-derive everything webhooks produced from the raw payloads, under the current mapping.

    Records earlier deliveries produced are removed first, so a mapping change (a repository
    moved to another service, an environment no longer production) leaves nothing stale. One
    transaction: readers see the old or the new derivation, never half of each.
    """
    mapping = Mapping.from_settings(settings)
    by_source = parsers()
    result = ReprocessResult()
    with store.transaction():
        for (table,) in store.query("SELECT DISTINCT record_table FROM derived_records"):
            if table not in RECORD_TABLES:
                continue
            result.removed += store.count(table)
            # Direct commits carry the id `headway import git` gives them (`git:…`), and pull
            # requests it imported name the release that shipped them (`deployment_ref`
            # `git:…`); that import adds what no webhook says (the release, the size, the first
            # commit). Those are re-derived over themselves, which moves them under a new
            # mapping without dropping what the import knew.
            imported = (
                " AND (deployment_ref IS NULL OR deployment_ref NOT LIKE 'git:%')"
                if table == "changes"
                else ""
            )
            store.execute(
                f"DELETE FROM {table} WHERE id IN "
                "(SELECT record_id FROM derived_records WHERE record_table = ?) "
                f"AND id NOT LIKE 'git:%'{imported}",
                [table],
            )
            result.removed -= store.count(table)
        store.execute("DELETE FROM derived_records")
        store.execute("DELETE FROM seen_commits")
        store.execute("DELETE FROM event_order")
        offset = 0
        while True:
            rows = store.query(
                "SELECT source, source_id, kind, received_at, payload, default_service "
                "FROM raw_events ORDER BY received_at, id LIMIT ? OFFSET ?",
                [chunk, offset],
            )
            if not rows:
                break
            offset += len(rows)
            group = []
            for source, source_id, kind, received_at, payload, service in rows:
                parse = by_source.get(source)
                if parse is None:
                    continue  # kept by another importer (git, files): not derived here
                received = received_at.replace(tzinfo=UTC)
                try:
                    parsed: Parsed | None = interpret(
                        source,
                        kind,
                        orjson.loads(payload),
                        dataclasses.replace(mapping, default_service=service),
                        received,
                        settings.webhook_max_skew_s,
                        parse,
                    )
                    rejected = None
                except (PayloadError, orjson.JSONDecodeError) as error:
                    parsed, rejected = None, str(error)
                raw = raw_event(
                    source, source_id, kind, payload, received, parsed, rejected, service
                )
                group.append(Delivery(raw, parsed or Parsed()))
            # The raw rows exist; rewriting them only refreshes status and note.
            if group:
                marks, ids = next(in_lists({d.raw.id for d in group}, len(group)))
                store.execute(f"DELETE FROM raw_events WHERE id IN ({marks})", ids)
            group, orders = in_order(store, group)
            for delivery in group:
                status = delivery.raw.status
                result.outcomes[status] = result.outcomes.get(status, 0) + 1
            apply(store, settings, group, orders=orders)
            result.deliveries += len(group)
            if progress:
                progress(result.deliveries)
    return result


__all__ = ["ReprocessResult", "reprocess"]
