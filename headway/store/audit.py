"""The audit log as a hash chain: who changed what, when, from what to what, provably.

Every change (a flag, a segment, a token, a rollout action, a note, a definition, an import)
is appended as one entry. Each entry has a place in the chain (`seq`, 1, 2, …), the hash of the
entry before it and its own hash, SHA-256 over its fields and that previous hash. `verify`
recomputes the chain and names the first entry that does not match: an edited entry fails its
own hash, a removed or reordered one breaks the places or the link, a removed newest entry no
longer matches `audit_head`. Someone who can write the store can rewrite the whole chain; keep
the head hash `verify` prints somewhere else (a ticket, a commit) to catch that too.

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

from headway.store.base import Store

__all__ = ["AuditEntry", "Verdict", "append", "entries", "verify", "window"]

_COLUMNS = "seq, id, occurred_at, actor, entity, entity_id, action, before, after, prev_hash, hash"
_PAGE = 1000


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
    with store.transaction():
        [(seq, prev)] = store.query(
            "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash"
        )
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
        store.execute(
            f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [seq, *_fields(entry), prev, digest],
        )
        store.execute("UPDATE audit_head SET seq = ?, hash = ? WHERE id = 1", [seq, digest])
    return AuditEntry(**{**_as_dict(entry), "seq": seq, "hash": digest})


def _fields(entry: AuditEntry) -> list[Any]:
    return [
        entry.id,
        entry.occurred_at,
        entry.actor,
        entry.entity,
        entry.entity_id,
        entry.action,
        entry.before,
        entry.after,
    ]


def _as_dict(entry: AuditEntry) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in AuditEntry.__slots__}


def _seal_unsealed(store: Store, prev: str) -> tuple[int, str]:
    """Give the entries written before the chain began their places, oldest first; return the
    place and previous hash for the entry being appended."""
    seq = 1
    rows = store.query(
        f"SELECT {_COLUMNS} FROM audit_log WHERE seq IS NULL ORDER BY occurred_at, id"
    )
    for row in rows:
        entry = AuditEntry(*row)
        digest = _digest(entry, seq, prev)
        store.execute(
            "UPDATE audit_log SET seq = ?, prev_hash = ?, hash = ? WHERE id = ?",
            [seq, prev, digest, entry.id],
        )
        seq, prev = seq + 1, digest
    return seq, prev


def entries(store: Store, *, entity: str | None = None) -> Iterator[AuditEntry]:
    """Every entry in chain order (unsealed ones last, oldest first), a page at a time."""
    where = "seq IS NOT NULL" + (" AND entity = ?" if entity else "")
    after = 0
    while True:
        rows = store.query(
            f"SELECT {_COLUMNS} FROM audit_log WHERE {where} AND seq > ? ORDER BY seq LIMIT ?",
            [*([entity] if entity else []), after, _PAGE],
        )
        yield from (AuditEntry(*row) for row in rows)
        if len(rows) < _PAGE:
            break
        after = rows[-1][0]
    unsealed = store.query(
        f"SELECT {_COLUMNS} FROM audit_log WHERE seq IS NULL"
        + (" AND entity = ?" if entity else "")
        + " ORDER BY occurred_at, id",
        [entity] if entity else [],
    )
    yield from (AuditEntry(*row) for row in unsealed)


def window(store: Store, offset: int, limit: int, entity: str | None = None) -> list[AuditEntry]:
    """`limit` entries from `offset`, in chain order: the log only grows at its end, so pages
    taken one after another never skip or repeat an entry."""
    rows = store.query(
        f"SELECT {_COLUMNS} FROM audit_log"
        + (" WHERE entity = ?" if entity else "")
        + " ORDER BY seq IS NULL, seq, occurred_at, id LIMIT ? OFFSET ?",
        [*([entity] if entity else []), limit, offset],
    )
    return [AuditEntry(*row) for row in rows]


def verify(store: Store) -> Verdict:
    """Recompute the chain; the first entry that does not match, and why."""
    [(head_seq, head_hash)] = store.query("SELECT seq, hash FROM audit_head WHERE id = 1")
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
