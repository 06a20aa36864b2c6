"""What the store holds that reconciling needs, read as plain values (`ingest.reconcile`).

Times come back aware (UTC) and lists as tuples, so the pure functions compare them with the
records as adapters made them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from headway.ingest.reconcile import LISTS
from headway.model import Change, columns
from headway.ordering import Order
from headway.store import Store

CHUNK = 500  # ids per `IN (…)` list


def in_lists(values: Iterable[str], size: int = CHUNK) -> Iterator[tuple[str, list[str]]]:
    """`values`, sorted and in parts small enough for one query, each with its `?, …` marks."""
    ordered = sorted(values)
    for i in range(0, len(ordered), size):
        part = ordered[i : i + size]
        yield ", ".join("?" * len(part)), part


def aware(value: Any) -> Any:
    """A stored time as an aware UTC one (stores keep naive UTC); anything else as it is."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def raw_ids(store: Store, ids: Collection[str]) -> set[str]:
    """Those of the delivery ids `ids` already stored (`raw_events`)."""
    if not ids:
        return set()
    marks, params = next(in_lists(ids, len(ids)))
    return {r[0] for r in store.query(f"SELECT id FROM raw_events WHERE id IN ({marks})", params)}


def event_orders(store: Store, keys: Collection[str]) -> dict[str, Order]:
    """The newest event applied to each of these records (`ordering.record_key`)."""
    if not keys:
        return {}
    marks, params = next(in_lists(keys, len(keys)))
    return {
        str(key): Order(str(event), at.replace(tzinfo=UTC))
        for key, event, at in store.query(
            f"SELECT id, event, occurred_at FROM event_order WHERE id IN ({marks})", params
        )
    }


def moments(
    store: Store, wanted: Mapping[str, tuple[tuple[str, ...], list[str]]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored columns `reconcile.moment_columns` names, by (table, id): times aware, lists
    (JSON text in the store) as tuples."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for table, (names, ids) in wanted.items():
        lists = LISTS.get(table, ())
        marks, params = next(in_lists(ids, len(ids)))
        for row in store.query(
            f"SELECT id, {', '.join(names)} FROM {table} WHERE id IN ({marks})", params
        ):
            values = dict(zip(names, row[1:], strict=True))
            found[(table, row[0])] = {
                name: tuple(json.loads(v or "[]")) if name in lists else aware(v)
                for name, v in values.items()
            }
    return found


def service_names(store: Store, names: Collection[str]) -> set[str]:
    """Those of `names` the store holds a service for."""
    if not names:
        return set()
    marks, params = next(in_lists(names, len(names)))
    return {r[0] for r in store.query(f"SELECT name FROM services WHERE name IN ({marks})", params)}


def changes(store: Store, ids: Collection[str]) -> dict[str, Change]:
    """The stored changes among `ids`."""
    found: dict[str, Change] = {}
    names = columns(Change)
    for marks, chunk in in_lists(ids):
        for row in store.query(
            f"SELECT {', '.join(names)} FROM changes WHERE id IN ({marks})", chunk
        ):
            found[row[0]] = change(dict(zip(names[1:], row[1:], strict=True)))
    return found


def change(row: dict[str, Any]) -> Change:
    """A `changes` row (its columns by name, without the id) as the record."""
    for name, value in row.items():
        row[name] = aware(value)
    row["labels"] = tuple(json.loads(row["labels"])) if row["labels"] else ()
    row["is_revert"] = bool(row["is_revert"])
    return Change(**row)


__all__ = [
    "CHUNK",
    "aware",
    "change",
    "changes",
    "event_orders",
    "in_lists",
    "moments",
    "raw_ids",
    "service_names",
]
