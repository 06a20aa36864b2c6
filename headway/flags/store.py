"""Flag tables (migration 0003_flags.sql): the only module that writes SQL for flags.

Functions take the `Store` and are called by `headway.flags.service` inside its transactions;
documents are stored as canonical JSON and read back through the pydantic models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from headway.flags.lifecycle import Stamped
from headway.flags.model import Flag, Issue, Segment
from headway.flags.salvage import read_flag, read_segment, stored_document
from headway.store import Store, audit

__all__ = [
    "AuditEntry",
    "EnvironmentRow",
    "FlagVersion",
    "StoredFlag",
    "delete_segment",
    "insert_audit",
    "insert_environment",
    "insert_exposures",
    "list_audit",
    "list_environments",
    "load_flag",
    "load_flag_record",
    "load_flag_records",
    "load_flags",
    "load_histories",
    "load_segment",
    "load_segment_records",
    "load_segments",
    "load_version",
    "load_versions",
    "save_document",
    "save_flag",
    "save_segment",
    "set_cors_origins",
]

NOTIFY_CHANNEL = "headway_flags"


def _naive(at: datetime) -> datetime:
    return at.astimezone(UTC).replace(tzinfo=None)


def _aware(at: datetime) -> datetime:
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


@dataclass(frozen=True, slots=True)
class EnvironmentRow:
    key: str
    name: str
    description: str | None
    position: int
    cors_origins: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FlagVersion:
    flag: str
    version: int
    document: dict[str, Any]
    actor: str
    action: str
    comment: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: str
    occurred_at: datetime
    actor: str
    entity: str
    entity_id: str
    action: str
    before: Any
    after: Any


# --- environments ----------------------------------------------------------------------------


def list_environments(store: Store) -> list[EnvironmentRow]:
    rows = store.query(
        "SELECT key, name, description, position, cors_origins FROM environments ORDER BY position"
    )
    return [
        EnvironmentRow(key, name, description, position, tuple(orjson.loads(origins or "[]")))
        for key, name, description, position, origins in rows
    ]


def insert_environment(store: Store, env: EnvironmentRow, at: datetime) -> None:
    store.execute(
        "INSERT INTO environments (key, name, description, position, created_at, cors_origins) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        [env.key, env.name, env.description, env.position, _naive(at), _json(env.cors_origins)],
    )


def set_cors_origins(store: Store, key: str, origins: tuple[str, ...]) -> None:
    store.execute("UPDATE environments SET cors_origins = ? WHERE key = ?", [_json(origins), key])


# --- flags -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredFlag:
    """A stored flag as it can be shown and served, with its stored document and what is wrong
    with that document (nothing, for any flag written by this version)."""

    flag: Flag
    issues: list[Issue]
    document: dict[str, Any]

    @property
    def raw(self) -> bool:
        return bool(self.issues)


def _stored(key: str, version: int, raw: str) -> StoredFlag:
    flag, issues = read_flag(key, raw, version)
    return StoredFlag(flag, issues, stored_document(raw) if issues else {})


def load_flag_records(store: Store, *, include_archived: bool = False) -> list[StoredFlag]:
    where = "" if include_archived else "WHERE NOT archived"
    rows = store.query(f"SELECT key, version, document FROM flags {where} ORDER BY key")
    return [_stored(*row) for row in rows]


def load_flag_record(store: Store, key: str) -> StoredFlag | None:
    rows = store.query("SELECT key, version, document FROM flags WHERE key = ?", [key])
    return _stored(*rows[0]) if rows else None


def load_flag(store: Store, key: str) -> Flag | None:
    record = load_flag_record(store, key)
    return record.flag if record else None


def load_flags(store: Store, *, include_archived: bool = False) -> list[Flag]:
    return [r.flag for r in load_flag_records(store, include_archived=include_archived)]


def save_flag(
    store: Store, flag: Flag, *, actor: str, action: str, comment: str | None, at: datetime
) -> None:
    """Write the flag's current row and its immutable version row (inside a transaction)."""
    save_document(
        store,
        flag,
        flag.model_dump(mode="json"),
        actor=actor,
        action=action,
        comment=comment,
        at=at,
    )


def save_document(
    store: Store,
    flag: Flag,
    document: dict[str, Any],
    *,
    actor: str,
    action: str,
    comment: str | None,
    at: datetime,
) -> None:
    """Write `document` as `flag`'s (whose key, version and columns it gives): the kill switch
    writes a stored document that does not validate this way, changing only what it must."""
    text = _json(document)
    if flag.version == 1:
        store.execute(
            "INSERT INTO flags VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [flag.key, 1, flag.type, flag.owner, flag.archived, text, _naive(at), _naive(at)],
        )
    else:
        store.execute(
            "UPDATE flags SET version = ?, type = ?, owner = ?, archived = ?, document = ?, "
            "updated_at = ? WHERE key = ?",
            [flag.version, flag.type, flag.owner, flag.archived, text, _naive(at), flag.key],
        )
    store.execute(
        "INSERT INTO flag_versions VALUES (?, ?, ?, ?, ?, ?, ?)",
        [flag.key, flag.version, text, actor, action, comment, _naive(at)],
    )


def _version(row: tuple[Any, ...]) -> FlagVersion:
    flag, version, document, actor, action, comment, created_at = row
    return FlagVersion(
        flag, version, orjson.loads(document), actor, action, comment, _aware(created_at)
    )


def load_versions(store: Store, key: str) -> list[FlagVersion]:
    rows = store.query(
        "SELECT flag, version, document, actor, action, comment, created_at FROM flag_versions "
        "WHERE flag = ? ORDER BY version",
        [key],
    )
    return [_version(r) for r in rows]


def load_histories(store: Store, key: str | None = None) -> dict[str, list[Stamped]]:
    """Every version of every flag not archived (or of `key` alone), oldest first, as flags:
    one query, read leniently as the current row is (a version need not validate today)."""
    where, params = ("v.flag = ?", [key]) if key is not None else ("NOT f.archived", [])
    found: dict[str, list[Stamped]] = {}
    for flag, version, document, created_at in store.query(
        "SELECT v.flag, v.version, v.document, v.created_at FROM flag_versions v "
        f"JOIN flags f ON f.key = v.flag WHERE {where} ORDER BY v.flag, v.version",
        params,
    ):
        found.setdefault(flag, []).append(
            Stamped(read_flag(flag, document, version)[0], _aware(created_at))
        )
    return found


def load_version(store: Store, key: str, version: int) -> FlagVersion | None:
    rows = store.query(
        "SELECT flag, version, document, actor, action, comment, created_at FROM flag_versions "
        "WHERE flag = ? AND version = ?",
        [key, version],
    )
    return _version(rows[0]) if rows else None


# --- segments --------------------------------------------------------------------------------


def load_segment_records(store: Store) -> list[tuple[Segment, list[Issue], dict[str, Any]]]:
    """Every segment as it can be shown, what is wrong with its stored document, and that
    document when something is."""
    out = []
    for key, version, raw in store.query(
        "SELECT key, version, document FROM segments ORDER BY key"
    ):
        segment, issues = read_segment(key, raw, version)
        out.append((segment, issues, stored_document(raw) if issues else {}))
    return out


def load_segment(store: Store, key: str) -> Segment | None:
    rows = store.query("SELECT key, version, document FROM segments WHERE key = ?", [key])
    return read_segment(rows[0][0], rows[0][2], rows[0][1])[0] if rows else None


def load_segments(store: Store) -> list[Segment]:
    return [segment for segment, _, _ in load_segment_records(store)]


def save_segment(store: Store, segment: Segment, at: datetime) -> None:
    document = _json(segment.model_dump(mode="json"))
    if segment.version == 1:
        store.execute(
            "INSERT INTO segments VALUES (?, ?, ?, ?)",
            [segment.key, 1, document, _naive(at)],
        )
    else:
        store.execute(
            "UPDATE segments SET version = ?, document = ?, updated_at = ? WHERE key = ?",
            [segment.version, document, _naive(at), segment.key],
        )


def delete_segment(store: Store, key: str) -> None:
    store.execute("DELETE FROM segments WHERE key = ?", [key])


# --- audit -----------------------------------------------------------------------------------


def insert_audit(
    store: Store,
    *,
    actor: str,
    entity: str,
    entity_id: str,
    action: str,
    before: Any,
    after: Any,
    at: datetime,
) -> None:
    audit.append(
        store,
        actor=actor,
        entity=entity,
        entity_id=entity_id,
        action=action,
        before=before,
        after=after,
        at=at,
    )


def list_audit(store: Store, entity: str, entity_id: str) -> list[AuditEntry]:
    rows = store.query(
        "SELECT id, occurred_at, actor, entity, entity_id, action, before, after FROM audit_log "
        "WHERE entity = ? AND entity_id = ? ORDER BY occurred_at, id",
        [entity, entity_id],
    )
    return [
        AuditEntry(
            r[0],
            _aware(r[1]),
            r[2],
            r[3],
            r[4],
            r[5],
            orjson.loads(r[6]) if r[6] else None,
            orjson.loads(r[7]) if r[7] else None,
        )
        for r in rows
    ]


# --- exposures -------------------------------------------------------------------------------


def insert_exposures(
    store: Store,
    *,
    batch: str,
    environment: str,
    rows: list[tuple[str, str, int]],
    start: datetime,
    end: datetime,
    at: datetime,
) -> int:
    """Record one SDK batch; a redelivered batch (same id) is ignored. Returns rows added."""
    if store.query("SELECT 1 FROM flag_exposures WHERE batch = ? LIMIT 1", [batch]):
        return 0
    for flag, variant, count in rows:
        store.execute(
            "INSERT INTO flag_exposures VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [batch, environment, flag, variant, count, _naive(start), _naive(end), _naive(at)],
        )
    return len(rows)


def exposure_totals(store: Store, environment: str, flag: str) -> dict[str, int]:
    rows = store.query(
        "SELECT variant, SUM(count) FROM flag_exposures WHERE environment = ? AND flag = ? "
        "GROUP BY variant ORDER BY variant",
        [environment, flag],
    )
    return {r[0]: int(r[1]) for r in rows}
