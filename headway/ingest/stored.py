"""What the store holds that reconciling needs, read as plain values (`ingest.reconcile`).

Times come back aware (UTC) and lists as tuples, so the pure functions compare them with the
records as adapters made them.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from headway.ingest.reconcile import LISTS
from headway.model import Change
from headway.ordering import Order
from headway.store import Store
from headway.store import ingest as statements
from headway.store.ingest import CHANGE_COLUMNS


def aware(value: Any) -> Any:
    """A stored time as an aware UTC one (stores keep naive UTC); anything else as it is."""
    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def raw_ids_and_orders(
    store: Store, ids: Collection[str], keys: Collection[str]
) -> tuple[set[str], dict[str, Order]]:
    """Those of the delivery ids `ids` already stored (`raw_events`), and the newest event
    applied to each of the records `keys` (`ordering.record_key`): one round trip."""
    known, orders = statements.raw_ids_and_orders(store, ids, keys)
    return known, {key: Order(event, at.replace(tzinfo=UTC)) for key, event, at in orders}


def event_orders(store: Store, keys: Collection[str]) -> dict[str, Order]:
    """The newest event applied to each of these records (`ordering.record_key`)."""
    return {
        key: Order(event, at.replace(tzinfo=UTC))
        for key, event, at in statements.event_orders(store, keys)
    }


def moments(
    store: Store, wanted: Mapping[str, tuple[tuple[str, ...], list[str]]]
) -> dict[tuple[str, str], dict[str, Any]]:
    """The stored columns `reconcile.moment_columns` names, by (table, id): times aware, lists
    (JSON text in the store) as tuples. Every table in one round trip."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for table, rows in statements.moments(store, wanted).items():
        names = wanted[table][0]
        lists = LISTS.get(table, ())
        for row in rows:
            values = dict(zip(names, row[1:], strict=True))
            found[(table, row[0])] = {
                name: tuple(json.loads(v or "[]")) if name in lists else aware(v)
                for name, v in values.items()
            }
    return found


def changes(store: Store, ids: Collection[str]) -> dict[str, Change]:
    """The stored changes among `ids`."""
    return {row[0]: row_change(row) for row in statements.change_rows(store, ids)}


def changes_and_services(
    store: Store, ids: Collection[str], names: Collection[str]
) -> tuple[dict[str, Change], set[str]]:
    """The stored changes among `ids`, and those of the service `names` the store holds a
    service for: one round trip."""
    rows, found = statements.changes_and_services(store, ids, names)
    return {row[0]: row_change(row) for row in rows}, found


def row_change(row: tuple[Any, ...]) -> Change:
    """A `changes` row, its columns as `store.ingest.CHANGE_COLUMNS`, as the record."""
    return change(dict(zip(CHANGE_COLUMNS[1:], row[1:], strict=True)))


def change(row: dict[str, Any]) -> Change:
    """A `changes` row (its columns by name, without the id) as the record."""
    for name, value in row.items():
        row[name] = aware(value)
    row["labels"] = tuple(json.loads(row["labels"])) if row["labels"] else ()
    row["is_revert"] = bool(row["is_revert"])
    return Change(**row)


__all__ = [
    "aware",
    "change",
    "changes",
    "changes_and_services",
    "event_orders",
    "moments",
    "raw_ids_and_orders",
    "row_change",
]
