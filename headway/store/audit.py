"""The audit log as a hash chain: who changed what, when, from what to what, provably.

Every change (a flag, a segment, a token, a rollout action, a note, a definition, an import,
a risky-code rule) is appended as one entry. Each entry has a place in the chain (`seq`, 1,
2, …), the hash of the entry before it and its own hash, SHA-256 over its fields and that
previous hash. `verify` recomputes the chain and names the first entry that does not match: an
edited entry fails its own hash, a removed or reordered one breaks the places or the link, a
removed newest entry no longer matches `audit_head`. Someone who can write the store can
rewrite the whole chain; keep the head hash `verify` prints somewhere else (a ticket, a commit)
to catch that too.

Appends serialise on the one `audit_head` row: the UPDATE that takes the next place locks it
on PostgreSQL until the caller's transaction commits, and DuckDB has one writer.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, select, update

from headway.audited import ENTITIES, Entity
from headway.store.base import Store
from headway.store.schema import audit_head, audit_log
from headway.store.statements import insert_into

__all__ = [
    "ENTITIES",
    "AuditEntry",
    "Entity",
    "Verdict",
    "append",
    "entries",
    "of_entity",
    "verify",
    "window",
]


_PAGE = 1000

# The statements, built once (an append runs on every change).
_COLUMNS = tuple(
    audit_log.c[name]
    for name in (
        "seq",
        "id",
        "occurred_at",
        "actor",
        "entity",
        "entity_id",
        "action",
        "before",
        "after",
        "prev_hash",
        "hash",
    )
)
_TAKE_PLACE = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=audit_head.c.seq + 1)
    .returning(audit_head.c.seq, audit_head.c.hash)
)
_INSERT = insert_into(audit_log, *(column.name for column in _COLUMNS))
_MOVE_HEAD = (
    update(audit_head)
    .where(audit_head.c.id == 1)
    .values(seq=bindparam("seq"), hash=bindparam("hash"))
)
_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)
_UNSEALED = (
    select(*_COLUMNS)
    .where(audit_log.c.seq.is_(None))
    .order_by(audit_log.c.occurred_at, audit_log.c.id)
)
_UNSEALED_OF = _UNSEALED.where(audit_log.c.entity == bindparam("entity"))
_SEAL = (
    update(audit_log)
    .where(audit_log.c.id == bindparam("entry"))
    .values(seq=bindparam("seq"), prev_hash=bindparam("prev_hash"), hash=bindparam("hash"))
)
_PAGE_AFTER = (
    select(*_COLUMNS)
    .where(audit_log.c.seq.is_not(None), audit_log.c.seq > bindparam("after"))
    .order_by(audit_log.c.seq)
    .limit(bindparam("limit"))
)
_PAGE_AFTER_OF = _PAGE_AFTER.where(audit_log.c.entity == bindparam("entity"))
_WINDOW = (
    select(*_COLUMNS)
    .order_by(audit_log.c.seq.is_(None), audit_log.c.seq, audit_log.c.occurred_at, audit_log.c.id)
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)
_WINDOW_OF = _WINDOW.where(audit_log.c.entity == bindparam("entity"))
_OF_ENTITY = (
    select(*_COLUMNS)
    .where(audit_log.c.entity == bindparam("entity"), audit_log.c.entity_id == bindparam("id"))
    .order_by(audit_log.c.occurred_at, audit_log.c.id)
)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change as stored; `before` and `after` are the JSON text written at the time."""

    seq: int | None
    id: str
    occurred_at: datetime
    actor: str
    entity: str
    entity_id: str
    action: str
    before: str | None
    after: str | None
    prev_hash: str | None
    hash: str | None

    def document(self) -> dict[str, Any]:
        """The entry as exported: times in UTC, before/after as JSON values."""
        return {
            "seq": self.seq,
            "id": self.id,
            "occurred_at": self.occurred_at.replace(tzinfo=UTC).isoformat(),
            "actor": self.actor,
            "entity": self.entity,
            "entity_id": self.entity_id,
            "action": self.action,
            "before": None if self.before is None else orjson.loads(self.before),
            "after": None if self.after is None else orjson.loads(self.after),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class Verdict:
    """What `verify` found: the entries checked, the head hash, and the first break if any."""

    entries: int
    head: str
    broken_at: int | None = None  # seq (or place) of the first entry that does not match
    broken_id: str | None = None
    problem: str | None = None
    unsealed: int = 0  # entries from before the chain began, sealed by the next change

    @property
    def intact(self) -> bool:
        return self.problem is None

    def document(self) -> dict[str, Any]:
        return {
            "intact": self.intact,
            "entries": self.entries,
            "head": self.head,
            "broken_at": self.broken_at,
            "broken_id": self.broken_id,
            "problem": self.problem,
            "unsealed": self.unsealed,
        }


def _digest(entry: AuditEntry, seq: int, prev_hash: str) -> str:
    fields = [
        seq,
        entry.id,
        entry.occurred_at.isoformat(),
        entry.actor,
        entry.entity,
        entry.entity_id,
        entry.action,
        entry.before,
        entry.after,
        prev_hash,
    ]
    return hashlib.sha256(orjson.dumps(fields)).hexdigest()


def _json(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def append(
    store: Store,
    *,
    actor: str,
    entity: str,
    entity_id: str,
    action: str,
    before: Any,
    after: Any,
    at: datetime,
) -> AuditEntry:
    """Add one change to the end of the chain, in the caller's transaction."""
    if entity not in ENTITIES:
        raise ValueError(f"{entity!r} is not an audited kind of entity: add it to ENTITIES")
    with store.transaction():
        [(seq, prev)] = store.rows(_TAKE_PLACE)
        if seq == 1:  # the first change since the chain began: seal what came before it
            seq, prev = _seal_unsealed(store, prev)
        entry = AuditEntry(
            seq=None,
            id=uuid.uuid4().hex,
            occurred_at=at.astimezone(UTC).replace(tzinfo=None),
            actor=actor,
            entity=entity,
            entity_id=entity_id,
            action=action,
            before=_json(before),
            after=_json(after),
            prev_hash=prev,
            hash=None,
        )
        digest = _digest(entry, seq, prev)
        written = AuditEntry(**{**_as_dict(entry), "seq": seq, "hash": digest})
        store.run(_INSERT, **_as_dict(written))
        store.run(_MOVE_HEAD, seq=seq, hash=digest)
    return written


def _as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in AuditEntry.__slots__}


def _seal_unsealed(store: Store, prev: str) -> tuple[int, str]:
    """Give the entries written before the chain began their places, oldest first; return the
    place and previous hash for the entry being appended."""
    seq = 1
    for row in store.rows(_UNSEALED):
        entry = AuditEntry(*row)
        digest = _digest(entry, seq, prev)
        store.run(_SEAL, entry=entry.id, seq=seq, prev_hash=prev, hash=digest)
        seq, prev = seq + 1, digest
    return seq, prev


def entries(store: Store, *, entity: str | None = None) -> Iterator[AuditEntry]:
    """Every entry in chain order (unsealed ones last, oldest first), a page at a time."""
    after = 0
    while True:
        if entity:
            rows = store.rows(_PAGE_AFTER_OF, entity=entity, after=after, limit=_PAGE)
        else:
            rows = store.rows(_PAGE_AFTER, after=after, limit=_PAGE)
        yield from (AuditEntry(*row) for row in rows)
        if len(rows) < _PAGE:
            break
        after = rows[-1][0]
    unsealed = store.rows(_UNSEALED_OF, entity=entity) if entity else store.rows(_UNSEALED)
    yield from (AuditEntry(*row) for row in unsealed)


def window(store: Store, offset: int, limit: int, entity: str | None = None) -> list[AuditEntry]:
    """`limit` entries from `offset`, in chain order: the log only grows at its end, so pages
    taken one after another never skip or repeat an entry."""
    if entity:
        rows = store.rows(_WINDOW_OF, entity=entity, limit=limit, offset=offset)
    else:
        rows = store.rows(_WINDOW, limit=limit, offset=offset)
    return [AuditEntry(*row) for row in rows]


def of_entity(store: Store, entity: str, entity_id: str) -> list[AuditEntry]:
    """Every entry about one thing (a flag, a token …), oldest first."""
    return [AuditEntry(*row) for row in store.rows(_OF_ENTITY, entity=entity, id=entity_id)]


def verify(store: Store) -> Verdict:
    """Recompute the chain; the first entry that does not match, and why."""
    [(head_seq, head_hash)] = store.rows(_HEAD)
    checked, prev = 0, ""
    unsealed = 0
    for entry in entries(store):
        if entry.seq is None:
            unsealed += 1
            continue
        expected = checked + 1
        if entry.seq != expected:
            return _broken(
                checked,
                head_hash,
                entry,
                f"is at place {entry.seq}, not {expected}: an entry before it was removed",
            )
        if entry.prev_hash != prev:
            return _broken(
                checked,
                head_hash,
                entry,
                "does not link to the entry before it: "
                "an entry before it was removed, added or changed",
            )
        if _digest(entry, entry.seq, prev) != entry.hash:
            return _broken(
                checked,
                head_hash,
                entry,
                "does not match its hash: it was changed after it was written",
            )
        checked, prev = expected, entry.hash or ""
    if checked and unsealed:
        return Verdict(
            checked,
            head_hash,
            checked + 1,
            None,
            f"{unsealed} entries have no place in the chain: written around it",
            unsealed,
        )
    if (checked, prev) != (head_seq, head_hash) and (checked or head_seq):
        return Verdict(
            checked,
            head_hash,
            checked + 1,
            None,
            f"the chain ends at entry {checked}, but {head_seq} were written: "
            "the newest entries were removed",
            unsealed,
        )
    return Verdict(checked, head_hash, unsealed=unsealed)


def _broken(checked: int, head: str, entry: AuditEntry, problem: str) -> Verdict:
    return Verdict(checked, head, entry.seq or checked + 1, entry.id, problem)
