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
from headway.model import RECORD_TYPES
from headway.sources.mapping import GIT, Mapping, Parsed, PayloadError
from headway.store import Store
from headway.store import ingest as statements

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
        for table in statements.derived_tables(store):
            if table not in RECORD_TABLES:
                continue
            result.removed += statements.count(store, table)
            # Direct commits carry the id `headway import git` gives them (`git:…`), and pull
            # requests it imported name the release that shipped them (`deployment_ref`
            # `git:…`); that import adds what no webhook says (the release, the size, the first
            # commit). Those are re-derived over themselves, which moves them under a new
            # mapping without dropping what the import knew.
            statements.drop_derived(store, table, f"{GIT}:%")
            result.removed -= statements.count(store, table)
        statements.forget_derivations(store)
        offset = 0
        while True:
            rows = statements.raw_page(store, chunk, offset)
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
            statements.drop_raw(store, {d.raw.id for d in group})
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
