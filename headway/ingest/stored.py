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


def raw_ids(store: Store, ids: Collection[str]) -> set[str]:
    """Those of the delivery ids `ids` already stored (`raw_events`)."""
    return statements.raw_ids(store, ids)


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
    (JSON text in the store) as tuples."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for table, (names, ids) in wanted.items():
        lists = LISTS.get(table, ())
        for row in statements.moments(store, table, names, ids):
            values = dict(zip(names, row[1:], strict=True))
            found[(table, row[0])] = {
                name: tuple(json.loads(v or "[]")) if name in lists else aware(v)
                for name, v in values.items()
            }
    return found


def service_names(store: Store, names: Collection[str]) -> set[str]:
    """Those of `names` the store holds a service for."""
    return statements.service_names(store, names)


def changes(store: Store, ids: Collection[str]) -> dict[str, Change]:
    """The stored changes among `ids`."""
    return {row[0]: row_change(row) for row in statements.change_rows(store, ids)}


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
    "event_orders",
    "moments",
    "raw_ids",
    "row_change",
    "service_names",
]
