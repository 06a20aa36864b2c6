"""Reconciling new records with what is stored: pure functions of both, no store here.

A group of deliveries is first deduplicated against the delivery ids stored (`fresh`) and put
in its sources' own event order against the orders stored (`in_order`); the records it means
are gathered into a `Batch`, each record's versions merged (`merge`). `first_moments` keeps
the earliest moments and the lists stored for those records, and `plan` returns the rows to
write and the services whose links to recompute. `ingest.stored` reads the rows each step
needs and `ingest.deliveries` runs them in order, so every rule here is tested on plain values
(tests/ingest/test_reconcile.py).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from headway.ingest.combine import from_host, imported
from headway.model import RECORD_TYPES, Change, RawEvent, Service
from headway.ordering import EARLIEST, EventOrder, Order, record_key, stale_part
from headway.sources.mapping import Derivation, Parsed, SeenCommit
from headway.sources.mapping import Mapping as ServiceMap

Key = tuple[str, str]  # (table, record id)
Moments = Mapping[Key, Mapping[str, Any]]  # stored first moments and lists, by record

# List fields (stored as JSON text) of the tables stale events can touch.
LISTS: dict[str, tuple[str, ...]] = {
    t.table: tuple(f.name for f in dataclasses.fields(t) if str(f.type).startswith("tuple"))
    for t in RECORD_TYPES.values()
    if t.table in EARLIEST
}


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivery: its raw event as it is kept, and what its adapter says it means."""

    raw: RawEvent
    parsed: Parsed


def fresh(
    deliveries: Sequence[Delivery], stored: Collection[str]
) -> tuple[list[str], list[int], list[Delivery]]:
    """Each delivery's outcome (`duplicate` when its id is `stored` or came earlier in the
    group, else its raw status), where each new one's outcome goes, and the new ones."""
    seen = set(stored)
    outcomes: list[str] = []
    slots: list[int] = []
    new: list[Delivery] = []
    for delivery in deliveries:
        if delivery.raw.id in seen:
            outcomes.append("duplicate")
            continue
        seen.add(delivery.raw.id)
        slots.append(len(outcomes))
        new.append(delivery)
        outcomes.append(delivery.raw.status)
    return outcomes, slots, new


def order_keys(deliveries: Sequence[Delivery]) -> set[str]:
    """The records whose stored event order `in_order` needs (`ordering.record_key`)."""
    return {
        record_key(r) for d in deliveries if d.parsed.order is not None for r in d.parsed.records
    }


def in_order(
    deliveries: Sequence[Delivery], stored: Mapping[str, Order]
) -> tuple[list[Delivery], list[EventOrder]]:
    """Deliveries as they may apply, by their sources' own event order (`ordering`).

    For each record a delivery names with its event's order, the newest event, among those
    `stored` and those of `deliveries`, applies; any other one is stale and says only its first
    moments. A delivery newer for none of its records says so in its note, naming the newer
    events, and is kept as ignored unless it still gives first moments. Also returns the
    newest orders that moved, to be written with the records."""
    ordered = [d for d in deliveries if d.parsed.order is not None and d.parsed.records]
    if not ordered:
        return list(deliveries), []
    newest = dict(stored)
    for delivery in ordered:
        order = delivery.parsed.order
        assert order is not None
        for record in delivery.parsed.records:
            key = record_key(record)
            if key not in newest or order.newer_than(newest[key]):
                newest[key] = order
    result = [_as_ordered(d, newest, stored) for d in deliveries]
    changed = []
    for key, order in newest.items():
        if stored.get(key) != order:
            table, record = key.split(" ", 1)
            changed.append(EventOrder(table, record, order.event, order.at))
    return result, changed


def _as_ordered(
    delivery: Delivery, newest: Mapping[str, Order], stored: Mapping[str, Order]
) -> Delivery:
    order = delivery.parsed.order
    if order is None or not delivery.parsed.records:
        return delivery
    records, stale = [], []
    for record in delivery.parsed.records:
        key = record_key(record)
        if newest[key] == order and (key not in stored or order.newer_than(stored[key])):
            records.append(record)
            continue
        stale.append(
            f"{key} (event {newest[key].event or '-'} at {newest[key].at:%Y-%m-%dT%H:%M:%SZ})"
        )
        if (part := stale_part(record)) is not None:
            records.append(part)
    raw = delivery.raw
    # not newer for any of its records: ignored, or, when it still gives first moments
    # (which may be earlier than those stored), kept for those alone, saying so
    if len(stale) == len(delivery.parsed.records) and raw.status == "accepted":
        note = "an older event than the one already applied to " + ", ".join(stale)
        if records:
            note += "; only the first moments it gives (opened, started, requested) count"
        raw = dataclasses.replace(raw, status="accepted" if records else "ignored", note=note)
    return Delivery(raw, dataclasses.replace(delivery.parsed, records=tuple(records)))


@dataclass
class Batch:
    """What a group of deliveries says, gathered: each record once, with what it touches."""

    records: dict[Key, Any] = field(default_factory=dict)
    derived: list[Derivation] = field(default_factory=list)  # which delivery made which record
    commits: list[SeenCommit] = field(default_factory=list)  # what pushes listed
    touched: set[tuple[str, str | None]] = field(default_factory=set)  # (service, repository)
    repositories: set[str] = field(default_factory=set)  # where first commits may move
    reviewed: set[str] = field(default_factory=set)  # changes whose reviews arrived
    merging: set[str] = field(default_factory=set)  # where pushes and merge commits may meet


def changes_of(records: Mapping[Key, Any]) -> list[Change]:
    """The changes among `records`."""
    return [r for (table, _), r in records.items() if table == "changes"]


def gather(deliveries: Sequence[Delivery]) -> Batch:
    """The records of `deliveries` by key, later versions merged over earlier ones."""
    batch = Batch()
    for delivery in deliveries:
        batch.commits.extend(delivery.parsed.commits)
        for record in delivery.parsed.records:
            key = (record.table, record.id)
            batch.records[key] = merge(batch.records.get(key), record)
            batch.derived.append(Derivation(delivery.raw.id, record.table, record.id))
    records = batch.records.values()
    batch.touched = {
        (r.service, getattr(r, "repository", None)) for r in records if getattr(r, "service", None)
    }
    batch.repositories = {r.repository for r in records if getattr(r, "repository", None)}
    batch.repositories |= {c.repository for c in batch.commits}
    batch.reviewed = {r.change_ref for r in records if getattr(r, "change_ref", None)}
    batch.merging = {c.repository for c in batch.commits} | {
        r.repository for r in records if getattr(r, "merge_sha", None) and r.repository
    }
    return batch


def merge(earlier: Any, later: Any) -> Any:
    """Two versions of one record in the same group: later fields win, empty ones do not erase."""
    if earlier is None:
        return later
    # (a list None is one a stale event did not say: an empty one said still replaces it)
    changes = {
        f.name: getattr(later, f.name)
        for f in dataclasses.fields(later)
        if getattr(later, f.name) not in (None, ())
        or (getattr(later, f.name) == () and getattr(earlier, f.name) is None)
    }
    for name in EARLIEST.get(later.table, ()):
        values = [v for v in (getattr(earlier, name), getattr(later, name)) if v is not None]
        if values:
            changes[name] = min(values)
    return dataclasses.replace(earlier, **changes)


def moment_columns(records: Mapping[Key, Any]) -> dict[str, tuple[tuple[str, ...], list[str]]]:
    """What `first_moments` needs read, by table: the columns (first moments, and the lists
    some record leaves unsaid) and the ids."""
    wanted: dict[str, tuple[tuple[str, ...], list[str]]] = {}
    for table, names in EARLIEST.items():
        keys = [key for key in records if key[0] == table]
        if not keys:
            continue
        lists = tuple(
            name
            for name in LISTS.get(table, ())
            if any(getattr(records[key], name) is None for key in keys)
        )
        wanted[table] = ((*names, *lists), sorted(record_id for _, record_id in keys))
    return wanted


def first_moments(records: Mapping[Key, Any], stored: Moments) -> dict[Key, Any]:
    """`records` with the first moments stored earlier kept, and the lists a stale event left
    unsaid (None) as stored, or empty for a record not stored yet. `stored` holds, by key, the
    columns `moment_columns` named, times aware and lists as tuples."""
    result = dict(records)
    for key, record in records.items():
        changes: dict[str, Any] = {}
        row = stored.get(key, {})
        for name in EARLIEST.get(key[0], ()):
            old, new = row.get(name), getattr(record, name)
            if old is not None and (new is None or old < new):
                changes[name] = old
        for name in LISTS.get(key[0], ()) if key[0] in EARLIEST else ():
            if getattr(record, name) is None:
                changes[name] = tuple(row.get(name) or ())
        if changes:
            result[key] = dataclasses.replace(record, **changes)
    return result


@dataclass(frozen=True)
class Plan:
    """What a group writes: its records as they are to be stored, the services to add, and
    the services whose links to recompute."""

    records: dict[Key, Any]
    services: list[Service]
    names: set[str]


def plan(
    batch: Batch,
    records: Mapping[Key, Any],
    *,
    imported_changes: Mapping[str, Change],
    merged: Mapping[str, Change],
    known_services: Collection[str],
    mapping: ServiceMap,
) -> Plan:
    """The rows to write for `records` (the batch's, first moments kept): a change the git
    import stored (`imported_changes`, by id) keeps the git facts (`combine.from_host`),
    a request merged by rebase over imported commits is as `merged` says, and a service is
    added as configured or, new, by its name."""
    rows = dict(records)
    kept = with_git_facts([c for c in changes_of(records) if c.id not in merged], imported_changes)
    for change_id, change in {**kept, **merged}.items():
        rows[("changes", change_id)] = change
    return Plan(
        records=rows,
        services=services(mapping, batch.touched, known_services),
        names={name for name, _ in batch.touched},
    )


def with_git_facts(changes: Sequence[Change], stored: Mapping[str, Change]) -> dict[str, Change]:
    """Webhooks' `changes` (requests, and direct commits a push listed), by id, combined with
    what the git import `stored` for them."""
    return {
        c.id: from_host(stored[c.id], c)
        for c in changes
        if c.id in stored and imported(stored[c.id])
    }


def services(
    mapping: ServiceMap, touched: Collection[tuple[str, str | None]], known: Collection[str]
) -> list[Service]:
    """Rows for the services records name: configured ones as configured, new ones (not
    `known` to the store) by default."""
    configured = {mapping.service(key): key for key in mapping.services}
    rows: dict[str, Service] = {}
    for name, repository in sorted(touched, key=lambda t: (t[0], t[1] or "")):
        if name in configured:
            rows[name] = mapping.service_record(configured[name])
        elif name not in known and name not in rows:
            rows[name] = Service(name=name, repository=repository)
    return list(rows.values())


__all__ = [
    "LISTS",
    "Batch",
    "Delivery",
    "Plan",
    "changes_of",
    "first_moments",
    "fresh",
    "gather",
    "in_order",
    "merge",
    "moment_columns",
    "order_keys",
    "plan",
    "services",
    "with_git_facts",
]
