"""Webhook deliveries: interpret them, commit them exactly once, re-derive them on demand.

A delivery is kept as a `RawEvent` whose id is `<source>:<delivery id>`; a delivery whose id
is already stored is a redelivery and changes nothing. `commit()` writes a group of deliveries,
the records they mean and the links those records affect in one transaction; `GroupWriter`
runs it on a thread, collecting concurrent deliveries for a few milliseconds so a burst costs
one commit per group rather than one per request, and answers each delivery only after its
group committed.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from headway import linking, values
from headway.config import Settings
from headway.model import RECORD_TYPES, Change, RawEvent, Service
from headway.ordering import EARLIEST, EventOrder, Order, record_key, stale_part
from headway.sources import pull_requests, rebase_folds
from headway.sources.mapping import (
    GIT,
    Derivation,
    Mapping,
    Parsed,
    PayloadError,
    SeenCommit,
)
from headway.store import Store, StoreUnavailable
from headway.store.base import utc_naive

logger = logging.getLogger(__name__)
Parser = Callable[[str, dict[str, Any], Mapping], Parsed]
Answer = tuple[str, str | None]  # a committed delivery's outcome, and its note
RECORD_TABLES = frozenset(t.table for t in RECORD_TYPES.values()) - {"services"}


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


@dataclass(frozen=True, slots=True)
class Delivery:
    raw: RawEvent
    parsed: Parsed


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


# -- the write path for deliveries --------------------------------------------------------------


def commit(
    store: Store,
    settings: Settings,
    deliveries: Sequence[Delivery],
    *,
    touched: dict[str, datetime | None] | None = None,
    notes: dict[str, str | None] | None = None,
) -> list[str]:
    """Store deliveries not seen before and what they mean; one transaction, all or nothing.

    Returns each delivery's outcome: its raw status (accepted, ignored, rejected), or
    `duplicate` when its id was already stored or appears earlier in the same group. Derived
    links are refreshed in the same transaction, unless the caller collects in `touched` the
    services to re-link and the earliest instant moved in each, and links them itself (the
    group writer, under load). `notes`, when given, gets each stored delivery's note by raw
    id (an event older than the one applied is ignored only here).
    """
    outcomes: list[str] = []
    fresh: list[Delivery] = []
    with store.transaction():
        ids = sorted({d.raw.id for d in deliveries})
        stored = (
            {
                r[0]
                for r in store.query(
                    f"SELECT id FROM raw_events WHERE id IN ({', '.join('?' * len(ids))})", ids
                )
            }
            if ids
            else set()
        )
        first: list[int] = []  # where each fresh delivery's outcome goes
        for delivery in deliveries:
            if delivery.raw.id in stored:
                outcomes.append("duplicate")
                continue
            stored.add(delivery.raw.id)
            first.append(len(outcomes))
            fresh.append(delivery)
            outcomes.append(delivery.raw.status)
        fresh, orders = in_order(store, fresh)
        for i, delivery in zip(first, fresh, strict=True):
            outcomes[i] = delivery.raw.status
            if notes is not None:
                notes[delivery.raw.id] = delivery.raw.note
        since: dict[str, datetime | None] = {} if touched is None else touched
        apply(store, settings, fresh, link=touched is None, since=since, orders=orders)
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


def apply(
    store: Store,
    settings: Settings,
    deliveries: Sequence[Delivery],
    *,
    link: bool = True,
    since: dict[str, datetime | None] | None = None,
    orders: Sequence[EventOrder] = (),
) -> set[str]:
    """Write deliveries (raw and derived) and refresh what they affect; return the services
    they touched. The caller dedupes and puts them in order (`in_order`, whose `orders` are
    written with them); with `link=False` it also re-links those services.

    With `since` (webhook batches) the services and the earliest instant the records moved in
    each, before the write and after it, are noted there and bound the re-link to what can
    have changed (`linking.link`); without it (reprocess) the services are re-linked whole.
    """
    if not deliveries:
        return set()
    mapping = Mapping.from_settings(settings)
    records: dict[tuple[str, str], Any] = {}
    derived: list[Derivation] = []
    commits: list[SeenCommit] = []
    for delivery in deliveries:
        commits.extend(delivery.parsed.commits)
        for record in delivery.parsed.records:
            key = (record.table, record.id)
            records[key] = _merge(records.get(key), record)
            derived.append(Derivation(delivery.raw.id, record.table, record.id))
    touched = {
        (r.service, getattr(r, "repository", None))
        for r in records.values()
        if getattr(r, "service", None)
    }
    repositories = {r.repository for r in records.values() if getattr(r, "repository", None)}
    repositories |= {c.repository for c in commits}
    reviewed = {r.change_ref for r in records.values() if getattr(r, "change_ref", None)}
    # where a push's commits and a request's merge commit may have just met
    merging = {c.repository for c in commits} | {
        r.repository for r in records.values() if getattr(r, "merge_sha", None) and r.repository
    }
    with store.transaction():
        _keep_earliest(store, records)
        changes = [r for (table, _), r in records.items() if table == "changes"]
        store.write(commits)  # (what a push listed tells which commits a rebase merge wrote)
        # a commit a rebase merge took in, now known to head a push of its own, comes back
        # out (as the direct change the import stored) before this push is combined with it
        rebase_folds.take_back(store, commits)
        merges = pull_requests.rebase_merged(store, changes)
        kept = pull_requests.keep_git_facts(
            store, [c for c in changes if c.id not in merges.records]
        )
        for change_id, change in {**kept, **merges.records}.items():
            records[("changes", change_id)] = change
        services = _services(store, mapping, touched)
        names = {name for name, _ in touched}
        if since is not None:
            for name in names:
                since.setdefault(name, None)
            linking.affected(store, records, since)  # where they were
        store.write([*services, *(d.raw for d in deliveries), *records.values(), *derived, *orders])
        rebase_folds.remember(store, merges, pull_requests.replace_changes(store, merges.moves))
        _first_commits(store, repositories)
        _merged_by_request(store, merging)
        _reviews(store, reviewed)
        if since is not None:
            linking.affected(store, records, since)  # where they are now
            names |= set(since)
        if link:
            linking.link(store, settings, names, since=since)
    return names


_EARLIEST = EARLIEST


def in_order(
    store: Store, deliveries: Sequence[Delivery]
) -> tuple[list[Delivery], list[EventOrder]]:
    """Deliveries as they may apply, by their sources' own event order (`ordering`).

    For each record a delivery names with its event's order, the newest event, among those
    stored and those of `deliveries`, applies; any other one is stale and says only its first
    moments. A delivery newer for none of its records says so in its note, naming the newer
    events, and is kept as ignored unless it still gives first moments. Also returns the
    newest orders that moved, for `apply` to write."""
    ordered = [d for d in deliveries if d.parsed.order is not None and d.parsed.records]
    if not ordered:
        return list(deliveries), []
    marks, keys = _in({record_key(r) for d in ordered for r in d.parsed.records})
    newest = {
        str(key): Order(str(event), at.replace(tzinfo=UTC))
        for key, event, at in store.query(
            f"SELECT id, event, occurred_at FROM event_order WHERE id IN ({marks})", keys
        )
    }
    stored = dict(newest)
    for delivery in ordered:
        order = delivery.parsed.order
        assert order is not None
        for record in delivery.parsed.records:
            key = record_key(record)
            if key not in newest or order.newer_than(newest[key]):
                newest[key] = order
    result = []
    for delivery in deliveries:
        order = delivery.parsed.order
        if order is None or not delivery.parsed.records:
            result.append(delivery)
            continue
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
        parsed = dataclasses.replace(delivery.parsed, records=tuple(records))
        result.append(Delivery(raw, parsed))
    changed = []
    for key, order in newest.items():
        if stored.get(key) != order:
            table, record = key.split(" ", 1)
            changed.append(EventOrder(table, record, order.event, order.at))
    return result, changed


def _merge(earlier: Any, later: Any) -> Any:
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
    for name in _EARLIEST.get(later.table, ()):
        values = [v for v in (getattr(earlier, name), getattr(later, name)) if v is not None]
        if values:
            changes[name] = min(values)
    return dataclasses.replace(earlier, **changes)


def _keep_earliest(store: Store, records: dict[tuple[str, str], Any]) -> None:
    """First moments stored earlier stay; lists a stale event left unsaid (None) keep their
    stored value, or are empty for a record not stored yet."""
    for table, names in _EARLIEST.items():
        keys = [key for key in records if key[0] == table]
        if not keys:
            continue
        lists = [
            name
            for name in _LISTS.get(table, ())
            if any(getattr(records[key], name) is None for key in keys)
        ]
        marks, ids = _in(record_id for _, record_id in keys)
        rows = store.query(
            f"SELECT id, {', '.join((*names, *lists))} FROM {table} WHERE id IN ({marks})", ids
        )
        for row in rows:
            stored = dict(zip((*names, *lists), row[1:], strict=True))
            record = records[(table, row[0])]
            changes: dict[str, Any] = {}
            for name in names:
                old, new = stored[name], getattr(record, name)
                old = old.replace(tzinfo=UTC) if old is not None else None
                if old is not None and (new is None or old < new):
                    changes[name] = old
            for name in lists:
                if getattr(record, name) is None:
                    changes[name] = tuple(orjson.loads(stored[name] or "[]"))
            if changes:
                records[(table, row[0])] = dataclasses.replace(record, **changes)
        for key in keys:
            unsaid = {name: () for name in lists if getattr(records[key], name) is None}
            if unsaid:
                records[key] = dataclasses.replace(records[key], **unsaid)


# List fields (stored as JSON text) of the tables stale events can touch.
_LISTS: dict[str, tuple[str, ...]] = {
    t.table: tuple(f.name for f in dataclasses.fields(t) if str(f.type).startswith("tuple"))
    for t in RECORD_TYPES.values()
    if t.table in _EARLIEST
}


def _services(
    store: Store, mapping: Mapping, touched: set[tuple[str, str | None]]
) -> list[Service]:
    """Rows for the services deliveries name: configured ones as configured, new ones by default."""
    if not touched:
        return []
    names = sorted({name for name, _ in touched})
    known = {
        r[0]
        for r in store.query(
            f"SELECT name FROM services WHERE name IN ({', '.join('?' * len(names))})", names
        )
    }
    configured = {mapping.service(key): key for key in mapping.services}
    rows: dict[str, Service] = {}
    for name, repository in sorted(touched, key=lambda t: (t[0], t[1] or "")):
        if name in configured:
            rows[name] = mapping.service_record(configured[name])
        elif name not in known and name not in rows:
            rows[name] = Service(name=name, repository=repository)
    return list(rows.values())


def _in(values: Iterable[str]) -> tuple[str, list[str]]:
    items = sorted(values)
    return ", ".join("?" * len(items)), items


def _first_commits(store: Store, repositories: set[str]) -> None:
    """A merged request's first commit: the earliest commit of the push its merge commit
    headed. (A commit that reached the main line directly is its own first commit.)"""
    if not repositories:
        return
    marks, params = _in(repositories)
    earliest = (
        "(SELECT min(s.committed_at) FROM seen_commits s "
        "WHERE s.repository = changes.repository AND s.push_head = changes.merge_sha)"
    )
    store.execute(
        f"UPDATE changes SET first_commit_at = {earliest} "
        f"WHERE repository IN ({marks}) AND source <> ? AND merge_sha IS NOT NULL "
        f"AND {earliest} IS NOT NULL AND (first_commit_at IS NULL OR first_commit_at > {earliest})",
        [*params, GIT],
    )


def _merged_by_request(store: Store, repositories: set[str]) -> None:
    """A commit taken for a direct push belongs to a pull or merge request after all when its
    push's head is that request's merge commit (a rebase or fast-forward merge writes no
    request number in the commits); the request is the change. Either arrival order.

    When `headway import git` stored the commit (the request's merge came after the import
    and did not take it: a GitLab fast-forward merge's commits keep their own times, and
    the push saying they came with it was not there yet), its size is added to the request
    the import sized, and its first commit counts, as if the import had folded it; what
    named it names the request."""
    if not repositories:
        return
    marks, params = _in(repositories)
    moves: dict[str, str] = {}
    for direct, request in store.query(
        "SELECT DISTINCT c.id, r.id FROM changes c JOIN seen_commits s "
        "ON s.repository = c.repository AND s.sha = c.merge_sha "
        "JOIN changes r ON r.repository = s.repository AND r.merge_sha = s.push_head "
        f"AND r.source <> ? WHERE c.source = ? AND c.repository IN ({marks}) "
        "ORDER BY c.id, r.id",
        [GIT, GIT, *params],
    ):
        moves.setdefault(str(direct), str(request))
    if not moves:
        return
    stored = pull_requests.read(store, {*moves, *moves.values()})
    taken: dict[str, list[Change]] = {}
    for direct, request in moves.items():
        if pull_requests.imported(stored[direct]):
            taken.setdefault(request, []).append(stored[direct])
    for request_id, members in sorted(taken.items()):
        request = stored[request_id]
        git = pull_requests.folded(request, members)
        # a size the host gave (the request not imported yet) counts every commit already
        sized = git if pull_requests.imported(request) else request
        store.execute(
            "UPDATE changes SET first_commit_at = ?, additions = ?, deletions = ?, files = ? "
            "WHERE id = ?",
            [
                utc_naive(git.first_commit_at),
                sized.additions,
                sized.deletions,
                sized.files,
                request_id,
            ],
        )
    pull_requests.replace_changes(store, moves)


def _reviews(store: Store, changes: set[str]) -> None:
    """A change's first review and first approval, from every code review seen for it."""
    if not changes:
        return
    marks, params = _in(changes)
    first = (
        "(SELECT min(a.decided_at) FROM approvals a WHERE a.change_ref = changes.id "
        "AND a.kind = 'code_review'{extra})"
    )
    review, approval = first.format(extra=""), first.format(extra=" AND a.decision = 'approved'")
    store.execute(
        f"UPDATE changes SET first_review_at = COALESCE({review}, first_review_at), "
        f"approved_at = COALESCE({approval}, approved_at) WHERE id IN ({marks})",
        params,
    )


# -- the group-commit writer --------------------------------------------------------------------


class GroupWriter:
    """One thread that commits deliveries in groups; `submit()` returns when-committed futures.

    Under load, re-linking (a window query over each touched service's history) is deferred
    and done at most every `link_every_s` for all services touched meanwhile; when the queue runs
    dry it is done before the answers go out, so a reader right after a delivery sees its
    links. Links are derived data: after a crash the writer re-links everything on start.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        window_s: float | None = None,
        max_group: int = 2000,
        link_every_s: float = 0.5,
        remember: int = 100_000,
    ) -> None:
        self.store = store
        self.settings = settings
        self.window_s = settings.webhook_batch_ms / 1000.0 if window_s is None else window_s
        self.max_group = max_group
        self.link_every_s = link_every_s
        self._queue: queue.SimpleQueue[tuple[Delivery, Future[Answer]] | None] = queue.SimpleQueue()
        # services to re-link, and the earliest instant the deliveries moved in each
        self._dirty: dict[str, datetime | None] = {}
        self._linked_at = time.monotonic()
        # Ids of deliveries known to be committed: a redelivery of one is answered at once.
        self._committed: dict[str, None] = {}
        self._remember = remember
        self.groups = 0
        if store.query("SELECT count(*) FROM raw_events")[0][0]:
            linking.link(store, settings)
        self._thread = threading.Thread(
            target=self._run, name="headway-delivery-writer", daemon=True
        )
        self._thread.start()

    def committed(self, delivery_id: str) -> bool:
        """True when this process has committed that delivery (a redelivery needs no write)."""
        return delivery_id in self._committed

    def submit(self, delivery: Delivery) -> Future[Answer]:
        future: Future[Answer] = Future()
        self._queue.put((delivery, future))
        return future

    def close(self) -> None:
        """Commit what is queued, link, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            deadline = time.monotonic() + self.window_s
            while len(group) < self.max_group:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            self._commit(group)
        self._link()

    def _link(self) -> None:
        if self._dirty:
            linking.link(self.store, self.settings, self._dirty, since=self._dirty)
            self._dirty = {}
        self._linked_at = time.monotonic()

    def _commit(self, group: list[tuple[Delivery, Future[Answer]]]) -> None:
        try:
            notes: dict[str, str | None] = {}
            outcomes = commit(
                self.store, self.settings, [d for d, _ in group], touched=self._dirty, notes=notes
            )
        except Exception as error:
            if len(group) == 1 or isinstance(error, StoreUnavailable):
                # a store that cannot be reached fails every delivery alike: none is stored
                for _, future in group:
                    future.set_exception(error)
                return
            # One bad delivery must not sink the others: commit them one by one.
            for item in group:
                self._commit([item])
            return
        self.groups += 1
        if self._queue.empty() or time.monotonic() - self._linked_at > self.link_every_s:
            try:
                self._link()
            except StoreUnavailable as error:  # committed; links are retried next group
                logger.warning("re-linking %s waits for the store: %s", sorted(self._dirty), error)
            except Exception:  # the deliveries are committed; links are retried next group
                logger.exception("re-linking %s failed; will retry", sorted(self._dirty))
        for (delivery, future), outcome in zip(group, outcomes, strict=True):
            self._committed[delivery.raw.id] = None
            future.set_result((outcome, notes.get(delivery.raw.id, delivery.raw.note)))
        while len(self._committed) > self._remember:
            del self._committed[next(iter(self._committed))]


# -- reprocessing and status --------------------------------------------------------------------


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
                marks, ids = _in(d.raw.id for d in group)
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


def status(store: Store) -> list[dict[str, Any]]:
    """What arrived from where: deliveries by source, event kind, outcome and reason."""
    rows = store.query_dicts(
        "SELECT source, kind, status, note, count(*) AS deliveries, max(received_at) AS latest "
        "FROM raw_events GROUP BY source, kind, status, note ORDER BY source, kind, status, note"
    )
    for row in rows:
        row["deliveries"] = int(row["deliveries"])
        row["latest"] = row["latest"].replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")
    return rows


__all__ = [
    "Delivery",
    "GroupWriter",
    "ReprocessResult",
    "apply",
    "commit",
    "commit_all",
    "interpret",
    "parsers",
    "raw_event",
    "reprocess",
    "status",
]
