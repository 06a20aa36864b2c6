"""The flag tables read and written as flag models, through the statements of
`headway.store.flags` (migration 0003_flags.sql).

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
from headway.store import flags as statements

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
    return [
        EnvironmentRow(key, name, description, position, tuple(orjson.loads(origins or "[]")))
        for key, name, description, position, origins in statements.environment_rows(store)
    ]


def insert_environment(store: Store, env: EnvironmentRow, at: datetime) -> None:
    statements.insert_environment(
        store,
        key=env.key,
        name=env.name,
        description=env.description,
        position=env.position,
        cors_origins=_json(env.cors_origins),
        at=_naive(at),
    )


def set_cors_origins(store: Store, key: str, origins: tuple[str, ...]) -> None:
    statements.set_cors_origins(store, key, _json(origins))


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
    rows = statements.flag_rows(store, include_archived=include_archived)
    return [_stored(*row) for row in rows]


def load_flag_record(store: Store, key: str) -> StoredFlag | None:
    row = statements.flag_row(store, key)
    return _stored(*row) if row else None


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
    write = statements.insert_flag if flag.version == 1 else statements.update_flag
    write(
        store,
        key=flag.key,
        version=flag.version,
        type=flag.type,
        owner=flag.owner,
        archived=flag.archived,
        document=text,
        at=_naive(at),
    )
    statements.insert_version(
        store,
        flag=flag.key,
        version=flag.version,
        document=text,
        actor=actor,
        action=action,
        comment=comment,
        at=_naive(at),
    )


def _version(row: tuple[Any, ...]) -> FlagVersion:
    flag, version, document, actor, action, comment, created_at = row
    return FlagVersion(
        flag, version, orjson.loads(document), actor, action, comment, _aware(created_at)
    )


def load_versions(store: Store, key: str) -> list[FlagVersion]:
    return [_version(r) for r in statements.version_rows(store, key)]


def load_histories(store: Store, key: str | None = None) -> dict[str, list[Stamped]]:
    """Every version of every flag not archived (or of `key` alone), oldest first, as flags:
    one query, read leniently as the current row is (a version need not validate today)."""
    found: dict[str, list[Stamped]] = {}
    for flag, version, document, created_at in statements.history_rows(store, key):
        found.setdefault(flag, []).append(
            Stamped(read_flag(flag, document, version)[0], _aware(created_at))
        )
    return found


def load_version(store: Store, key: str, version: int) -> FlagVersion | None:
    row = statements.version_row(store, key, version)
    return _version(row) if row else None


# --- segments --------------------------------------------------------------------------------


def load_segment_records(store: Store) -> list[tuple[Segment, list[Issue], dict[str, Any]]]:
    """Every segment as it can be shown, what is wrong with its stored document, and that
    document when something is."""
    out = []
    for key, version, raw in statements.segment_rows(store):
        segment, issues = read_segment(key, raw, version)
        out.append((segment, issues, stored_document(raw) if issues else {}))
    return out


def load_segment(store: Store, key: str) -> Segment | None:
    row = statements.segment_row(store, key)
    return read_segment(row[0], row[2], row[1])[0] if row else None


def load_segments(store: Store) -> list[Segment]:
    return [segment for segment, _, _ in load_segment_records(store)]


def save_segment(store: Store, segment: Segment, at: datetime) -> None:
    document = _json(segment.model_dump(mode="json"))
    if segment.version == 1:
        statements.insert_segment(store, key=segment.key, document=document, at=_naive(at))
    else:
        statements.update_segment(
            store, key=segment.key, version=segment.version, document=document, at=_naive(at)
        )


def delete_segment(store: Store, key: str) -> None:
    statements.delete_segment(store, key)


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
    return [
        AuditEntry(
            e.id,
            _aware(e.occurred_at),
            e.actor,
            e.entity,
            e.entity_id,
            e.action,
            orjson.loads(e.before) if e.before else None,
            orjson.loads(e.after) if e.after else None,
        )
        for e in audit.of_entity(store, entity, entity_id)
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
    if statements.exposure_batch_seen(store, batch):
        return 0
    for flag, variant, count in rows:
        statements.insert_exposure(
            store,
            batch=batch,
            environment=environment,
            flag=flag,
            variant=variant,
            count=count,
            start=_naive(start),
            end=_naive(end),
            at=_naive(at),
        )
    return len(rows)


def exposure_totals(store: Store, environment: str, flag: str) -> dict[str, int]:
    rows = statements.exposure_totals(store, environment, flag)
    return {variant: int(total) for variant, total in rows}
