"""A webhook delivery's path, top to bottom: parse, records, reconcile, write, link.

1. `interpret` runs the source's adapter (`parsers()`, in `sources/`) on the payload and
   refuses what it cannot use (PayloadError, kept as rejected) or times from the far future;
   `raw_event` keeps the payload as it came, so `headway reprocess` can derive it again.
2. `commit` takes a group of deliveries: those whose ids are stored are duplicates, the rest
   are put in their sources' own event order (`reconcile.fresh`, `reconcile.in_order`).
3. `apply` gathers the records they mean, reconciles them with the rows stored
   (`reconcile`, pure; `stored` reads the rows), writes everything in one transaction, and
   refreshes what records written together decide (`refresh`) and the links they affect
   (`linking`). The group writer (`writer.GroupWriter`) calls `commit` for concurrent
   deliveries; `reprocess` calls `apply` for the stored ones again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from headway import linking, values
from headway.config import Settings
from headway.ingest import folds, reconcile, refresh, requests, stored
from headway.ingest.reconcile import Delivery
from headway.model import RawEvent
from headway.ordering import EventOrder
from headway.sources.mapping import Mapping, Parsed, PayloadError
from headway.store import Store
from headway.store import ingest as statements

Parser = Callable[[str, dict[str, Any], Mapping], Parsed]
Answer = tuple[str, str | None]  # a committed delivery's outcome, and its note


def parsers() -> dict[str, Parser]:
    """The adapter of every webhook source, by source name."""
    from headway.sources import github, gitlab, jira, opsgenie, pagerduty

    found: dict[str, Parser] = {
        m.SOURCE: m.parse for m in (github, gitlab, pagerduty, opsgenie, jira)
    }
    found["cdevents"] = _cdevents
    return found


def _cdevents(kind: str, payload: dict[str, Any], mapping: Mapping) -> Parsed:
    """The CDEvents adapter (`sources/cdevents.py`, shared with `headway import cdevents`)."""
    from headway.sources import cdevents

    try:
        parsed = cdevents.parse(payload, default_service=mapping.default_service)
    except cdevents.CDEventError as error:
        raise PayloadError(str(error)) from None
    records = tuple(r for r in parsed.records if not isinstance(r, RawEvent))
    if parsed.status == "ignored" or not records:
        return Parsed.ignore(parsed.note or f"CDEvent {kind} has no delivery meaning in Headway")
    return Parsed(records=records, order=parsed.order)


def interpret(
    source: str,
    kind: str,
    payload: Any,
    mapping: Mapping,
    received_at: datetime,
    max_skew_s: float,
    parse: Parser,
) -> Parsed:
    """Run the adapter and refuse timestamps from the far future. Raises PayloadError."""
    if not isinstance(payload, dict):
        raise PayloadError(f"the body must be a JSON object, got {type(payload).__name__}")
    try:
        parsed = parse(kind, payload, mapping)
    except PayloadError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise PayloadError(
            f"not a usable {source} `{kind}` event ({type(error).__name__}: {error})"
        ) from None
    limit = received_at + timedelta(seconds=max_skew_s)
    # An event time from the future would make every real event after it look older.
    if parsed.order is not None and parsed.order.at > limit:
        raise PayloadError(
            f"the event's own time is {parsed.order.at.isoformat()}, more than "
            f"{max_skew_s:.0f} s after the delivery arrived (docs/webhooks.md, Order, names the "
            "field); fix the sender's clock or the payload (limit: HEADWAY_WEBHOOK_MAX_SKEW_S)"
        )
    for record in (*parsed.records, *parsed.commits):
        if found := values.problem(record):
            raise PayloadError(f"not a usable {source} `{kind}` event: {found}")
        for f in dataclasses.fields(record):
            value = getattr(record, f.name)
            if isinstance(value, datetime) and value > limit:
                raise PayloadError(
                    f"{record.table}.{f.name} is {value.isoformat()}, more than "
                    f"{max_skew_s:.0f} s after the delivery arrived; fix the sender's clock or "
                    "the payload (limit: HEADWAY_WEBHOOK_MAX_SKEW_S)"
                )
    return parsed


def raw_event(
    source: str,
    delivery_id: str,
    kind: str,
    body: bytes | str,
    received_at: datetime,
    parsed: Parsed | None,
    rejected: str | None = None,
    default_service: str | None = None,
) -> RawEvent:
    if rejected is not None:
        status, note = "rejected", rejected
    elif parsed is not None and parsed.ignored:
        status, note = "ignored", parsed.ignored
    else:
        status, note = "accepted", None
    payload = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return RawEvent(
        source=source,
        source_id=delivery_id,
        kind=kind,
        received_at=received_at,
        payload=payload,
        status=status,
        note=note,
        default_service=default_service,
    )


# -- reconcile, write, link ----------------------------------------------------------------------


class Raced(Exception):
    """Another server committed some of a group's deliveries while this one wrote them."""


# Tries of a group that another server's commits keep overtaking (each then reads more of it
# as stored); the last one writes as `apply` always does, upserts storing each delivery once.
RACES = 3


def commit(
    store: Store,
    settings: Settings,
    deliveries: Sequence[Delivery],
    *,
    touched: dict[str, datetime | None] | None = None,
    notes: dict[str, str | None] | None = None,
    exact: bool = False,
) -> list[str]:
    """Store deliveries not seen before and what they mean; one transaction, all or nothing.

    Returns each delivery's outcome: its raw status (accepted, ignored, rejected), or
    `duplicate` when its id was already stored or appears earlier in the same group. Derived
    links are refreshed in the same transaction, unless the caller collects in `touched` the
    services to re-link and the earliest instant moved in each, and links them itself (the
    group writer, under load). `notes`, when given, gets each stored delivery's note by raw
    id (an event older than the one applied is ignored only here).

    With `exact` (the group writer: never inside another transaction), a delivery that
    another server (a replica on the same PostgreSQL) committed after this transaction read
    it as new rolls the transaction back, and the group is written again, reading it as
    stored: the same delivery reaching two replicas at once is `accepted` by one and a
    `duplicate` for the other, and its records are written once.
    """
    for _ in range(RACES - 1 if exact else 0):
        try:
            return _commit(store, settings, deliveries, touched, notes, exact=True)
        except Raced:
            continue
    if exact and len(deliveries) > 1:
        # Overtaken again and again by groups that overlap this one: one delivery at a time,
        # whose second try always reads as stored the delivery that overtook it.
        return [
            outcome
            for delivery in deliveries
            for outcome in commit(
                store, settings, [delivery], touched=touched, notes=notes, exact=True
            )
        ]
    return _commit(store, settings, deliveries, touched, notes, exact=False)


def _commit(
    store: Store,
    settings: Settings,
    deliveries: Sequence[Delivery],
    touched: dict[str, datetime | None] | None,
    notes: dict[str, str | None] | None,
    exact: bool,
) -> list[str]:
    stored_notes: dict[str, str | None] = {}
    with store.transaction():
        # which deliveries are stored, and the event orders of every record the group names
        # (a stored delivery's go unused): one round trip rather than one after the other
        known, newest = stored.raw_ids_and_orders(
            store, {d.raw.id for d in deliveries}, reconcile.order_keys(deliveries)
        )
        outcomes, slots, fresh = reconcile.fresh(deliveries, known)
        keys = reconcile.order_keys(fresh)
        fresh, orders = reconcile.in_order(fresh, {k: o for k, o in newest.items() if k in keys})
        for i, delivery in zip(slots, fresh, strict=True):
            outcomes[i] = delivery.raw.status
            stored_notes[delivery.raw.id] = delivery.raw.note
        since: dict[str, datetime | None] = {} if touched is None else touched
        apply(store, settings, fresh, link=touched is None, since=since, orders=orders, exact=exact)
    # Only once committed: a try rolled back (raced, or failed) stored nothing to note, and
    # the next may find the delivery stored, a duplicate whose answer carries no such note.
    if notes is not None:
        notes.update(stored_notes)
    return outcomes


def commit_all(
    store: Store, settings: Settings, deliveries: Sequence[Delivery], *, chunk: int = 2000
) -> list[str]:
    """`commit()` for a file of deliveries (`headway import cdevents`): one transaction, in
    chunks, linked once at the end. The deliveries' order does not matter."""
    outcomes: list[str] = []
    touched: dict[str, datetime | None] = {}
    with store.transaction():
        for start in range(0, len(deliveries), chunk):
            part = deliveries[start : start + chunk]
            outcomes += commit(store, settings, part, touched=touched)
        if touched:
            linking.link(store, settings, touched, since=touched)
    return outcomes


def in_order(
    store: Store, deliveries: Sequence[Delivery]
) -> tuple[list[Delivery], list[EventOrder]]:
    """`reconcile.in_order` against the event orders stored for the deliveries' records."""
    keys = reconcile.order_keys(deliveries)
    return reconcile.in_order(deliveries, stored.event_orders(store, keys))


def apply(
    store: Store,
    settings: Settings,
    deliveries: Sequence[Delivery],
    *,
    link: bool = True,
    since: dict[str, datetime | None] | None = None,
    orders: Sequence[EventOrder] = (),
    exact: bool = False,
) -> set[str]:
    """Write deliveries (raw and derived) and refresh what they affect; return the services
    they touched. The caller dedupes and puts them in order (`in_order`, whose `orders` are
    written with them); with `link=False` it also re-links those services.

    With `since` (webhook batches) the services and the earliest instant the records moved in
    each, before the write and after it, are noted there and bound the re-link to what can
    have changed (`linking.link`); without it (reprocess) the services are re-linked whole.
    With `exact`, raises Raced when a delivery's raw row was stored by another transaction
    since the caller read it as new (`commit`).
    """
    if not deliveries:
        return set()
    batch = reconcile.gather(deliveries)  # records: each once, later versions merged
    with store.transaction():
        # reconcile: the stored first moments, then the git import's changes and folds
        wanted = reconcile.moment_columns(batch.records)
        records = reconcile.first_moments(batch.records, stored.moments(store, wanted))
        store.write(batch.commits)  # (what a push listed tells which commits a rebase merge wrote)
        # a commit a rebase merge took in, now known to head a push of its own, comes back
        # out (as the direct change the import stored) before this push is combined with it
        folds.take_back(store, batch.commits)
        changes = reconcile.changes_of(records)
        merges = requests.rebase_merged(store, changes)
        names = {name for name, _ in batch.touched}
        imported, known = stored.changes_and_services(
            store, {c.id for c in changes if c.id not in merges.records}, names
        )
        plan = reconcile.plan(
            batch,
            records,
            imported_changes=imported,
            merged=merges.records,
            known_services=known,
            mapping=Mapping.from_settings(settings),
        )
        # write: one transaction, then what the records written together decide
        if since is not None:
            for name in plan.names:
                since.setdefault(name, None)
            linking.affected(store, plan.records, since)  # where they were
        raws = [d.raw for d in deliveries]
        written = store.write(
            [*plan.services, *raws, *plan.records.values(), *batch.derived, *orders]
        )
        # PostgreSQL counts a row another transaction committed meanwhile as updated, not new
        new = written.new.get(RawEvent.table, 0)
        if exact and store.dialect == "postgres" and new < len({r.id for r in raws}):
            raise Raced("another server stored some of these deliveries first")
        folds.remember(store, merges, requests.replace_changes(store, merges.moves))
        refresh.first_commits(store, batch.repositories)
        refresh.merged_by_request(store, batch.merging)
        refresh.reviews(store, batch.reviewed)
        # link: the services touched, from the earliest instant that moved in each
        if since is not None:
            linking.affected(store, plan.records, since)  # where they are now
            names |= set(since)
        if link:
            linking.link(store, settings, names, since=since)
    return names


def status(store: Store) -> list[dict[str, Any]]:
    """What arrived from where: deliveries by source, event kind, outcome and reason."""
    rows = statements.status(store)
    for row in rows:
        row["deliveries"] = int(row["deliveries"])
        row["latest"] = row["latest"].replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return rows


__all__ = [
    "Answer",
    "Delivery",
    "Parser",
    "Raced",
    "apply",
    "commit",
    "commit_all",
    "in_order",
    "interpret",
    "parsers",
    "raw_event",
    "status",
]
