"""The flag tables' statements: flags and their versions, segments, environments, exposures,
and the notification that tells every replica a flag changed.

Each function runs one statement and answers plain rows; `headway.flags.store` reads them back
as the flag models. The statements are module constants, compiled once per store: the SDK's
configuration is read from these tables after every change, and exposures arrive in every
SDK's telemetry.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import bindparam, delete, func, select, update

from headway.store.base import Store
from headway.store.schema import environments, flag_exposures, flag_versions, flags, segments
from headway.store.statements import insert_into

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "CHANNEL",
    "delete_segment",
    "environment_rows",
    "exposure_batch_seen",
    "exposure_totals",
    "flag_row",
    "flag_rows",
    "history_rows",
    "insert_environment",
    "insert_exposure",
    "insert_flag",
    "insert_segment",
    "insert_version",
    "listening",
    "notify_change",
    "segment_row",
    "segment_rows",
    "set_cors_origins",
    "update_flag",
    "update_segment",
    "version_row",
    "version_rows",
]

#: The PostgreSQL channel every replica listens on for flag changes.
CHANNEL = "headway_flags"

#: (key, name, description, position, CORS origins as JSON)
EnvironmentRow = tuple[str, str, str | None, int, str | None]
#: (key, version, document)
FlagRow = tuple[str, int, str]
#: (flag, version, document, actor, action, comment, created_at)
VersionRow = tuple[str, int, str, str, str, str | None, datetime]
#: (flag, version, document, created_at)
HistoryRow = tuple[str, int, str, datetime]
#: (key, version, document)
SegmentRow = tuple[str, int, str]

# --- environments ----------------------------------------------------------------------------

_ENVIRONMENTS = select(
    environments.c.key,
    environments.c.name,
    environments.c.description,
    environments.c.position,
    environments.c.cors_origins,
).order_by(environments.c.position)

_INSERT_ENVIRONMENT = insert_into(
    environments, "key", "name", "description", "position", "created_at", "cors_origins"
)

_SET_CORS = (
    update(environments)
    .where(environments.c.key == bindparam("environment"))
    .values(cors_origins=bindparam("cors_origins"))
)


def environment_rows(store: Store) -> list[EnvironmentRow]:
    """(key, name, description, position, cors origins as JSON) of each environment, in order."""
    return cast(list[EnvironmentRow], store.rows(_ENVIRONMENTS))


def insert_environment(
    store: Store,
    *,
    key: str,
    name: str,
    description: str | None,
    position: int,
    cors_origins: str,
    at: datetime,
) -> None:
    store.run(
        _INSERT_ENVIRONMENT,
        key=key,
        name=name,
        description=description,
        position=position,
        created_at=at,
        cors_origins=cors_origins,
    )


def set_cors_origins(store: Store, environment: str, cors_origins: str) -> None:
    store.run(_SET_CORS, environment=environment, cors_origins=cors_origins)


# --- flags and their versions ----------------------------------------------------------------

_FLAG_COLUMNS = (flags.c.key, flags.c.version, flags.c.document)
_LIVE_FLAGS = select(*_FLAG_COLUMNS).where(~flags.c.archived).order_by(flags.c.key)
_ALL_FLAGS = select(*_FLAG_COLUMNS).order_by(flags.c.key)
_FLAG = select(*_FLAG_COLUMNS).where(flags.c.key == bindparam("key"))

_INSERT_FLAG = insert_into(
    flags, "key", "version", "type", "owner", "archived", "document", "created_at", "updated_at"
)
_UPDATE_FLAG = (
    update(flags)
    .where(flags.c.key == bindparam("flag"))
    .values(
        version=bindparam("version"),
        type=bindparam("type"),
        owner=bindparam("owner"),
        archived=bindparam("archived"),
        document=bindparam("document"),
        updated_at=bindparam("updated_at"),
    )
)
_INSERT_VERSION = insert_into(
    flag_versions, "flag", "version", "document", "actor", "action", "comment", "created_at"
)

_VERSION_COLUMNS = (
    flag_versions.c.flag,
    flag_versions.c.version,
    flag_versions.c.document,
    flag_versions.c.actor,
    flag_versions.c.action,
    flag_versions.c.comment,
    flag_versions.c.created_at,
)
_VERSIONS = (
    select(*_VERSION_COLUMNS)
    .where(flag_versions.c.flag == bindparam("flag"))
    .order_by(flag_versions.c.version)
)
_VERSION = select(*_VERSION_COLUMNS).where(
    flag_versions.c.flag == bindparam("flag"), flag_versions.c.version == bindparam("version")
)

_HISTORY = (
    select(
        flag_versions.c.flag,
        flag_versions.c.version,
        flag_versions.c.document,
        flag_versions.c.created_at,
    )
    .join(flags, flags.c.key == flag_versions.c.flag)
    .order_by(flag_versions.c.flag, flag_versions.c.version)
)
_LIVE_HISTORIES = _HISTORY.where(~flags.c.archived)
_HISTORY_OF = _HISTORY.where(flag_versions.c.flag == bindparam("flag"))


def flag_rows(store: Store, *, include_archived: bool = False) -> list[FlagRow]:
    """(key, version, document) of every flag (not archived unless asked), by key."""
    return cast(list[FlagRow], store.rows(_ALL_FLAGS if include_archived else _LIVE_FLAGS))


def flag_row(store: Store, key: str) -> FlagRow | None:
    found = cast(list[FlagRow], store.rows(_FLAG, key=key))
    return found[0] if found else None


def insert_flag(
    store: Store,
    *,
    key: str,
    version: int,
    type: str,
    owner: str,
    archived: bool,
    document: str,
    at: datetime,
) -> None:
    """A new flag's current row."""
    store.run(
        _INSERT_FLAG,
        key=key,
        version=version,
        type=type,
        owner=owner,
        archived=archived,
        document=document,
        created_at=at,
        updated_at=at,
    )


def update_flag(
    store: Store,
    *,
    key: str,
    version: int,
    type: str,
    owner: str,
    archived: bool,
    document: str,
    at: datetime,
) -> None:
    store.run(
        _UPDATE_FLAG,
        flag=key,
        version=version,
        type=type,
        owner=owner,
        archived=archived,
        document=document,
        updated_at=at,
    )


def insert_version(
    store: Store,
    *,
    flag: str,
    version: int,
    document: str,
    actor: str,
    action: str,
    comment: str | None,
    at: datetime,
) -> None:
    store.run(
        _INSERT_VERSION,
        flag=flag,
        version=version,
        document=document,
        actor=actor,
        action=action,
        comment=comment,
        created_at=at,
    )


def version_rows(store: Store, flag: str) -> list[VersionRow]:
    """(flag, version, document, actor, action, comment, created_at) of each version, oldest
    first."""
    return cast(list[VersionRow], store.rows(_VERSIONS, flag=flag))


def version_row(store: Store, flag: str, version: int) -> VersionRow | None:
    found = cast(list[VersionRow], store.rows(_VERSION, flag=flag, version=version))
    return found[0] if found else None


def history_rows(store: Store, flag: str | None = None) -> list[HistoryRow]:
    """(flag, version, document, created_at) of every version of every flag not archived, or
    of `flag` alone, by flag and version."""
    if flag is None:
        return cast(list[HistoryRow], store.rows(_LIVE_HISTORIES))
    return cast(list[HistoryRow], store.rows(_HISTORY_OF, flag=flag))


# --- segments --------------------------------------------------------------------------------

_SEGMENT_COLUMNS = (segments.c.key, segments.c.version, segments.c.document)
_SEGMENTS = select(*_SEGMENT_COLUMNS).order_by(segments.c.key)
_SEGMENT = select(*_SEGMENT_COLUMNS).where(segments.c.key == bindparam("key"))
_INSERT_SEGMENT = insert_into(segments, "key", "version", "document", "updated_at")
_UPDATE_SEGMENT = (
    update(segments)
    .where(segments.c.key == bindparam("segment"))
    .values(
        version=bindparam("version"),
        document=bindparam("document"),
        updated_at=bindparam("updated_at"),
    )
)
_DELETE_SEGMENT = delete(segments).where(segments.c.key == bindparam("key"))


def segment_rows(store: Store) -> list[SegmentRow]:
    """(key, version, document) of every segment, by key."""
    return cast(list[SegmentRow], store.rows(_SEGMENTS))


def segment_row(store: Store, key: str) -> SegmentRow | None:
    found = cast(list[SegmentRow], store.rows(_SEGMENT, key=key))
    return found[0] if found else None


def insert_segment(store: Store, *, key: str, document: str, at: datetime) -> None:
    """A new segment, at version 1."""
    store.run(_INSERT_SEGMENT, key=key, version=1, document=document, updated_at=at)


def update_segment(store: Store, *, key: str, version: int, document: str, at: datetime) -> None:
    store.run(_UPDATE_SEGMENT, segment=key, version=version, document=document, updated_at=at)


def delete_segment(store: Store, key: str) -> None:
    store.run(_DELETE_SEGMENT, key=key)


# --- exposures -------------------------------------------------------------------------------

_EXPOSURE_BATCH = (
    select(flag_exposures.c.batch).where(flag_exposures.c.batch == bindparam("batch")).limit(1)
)
_INSERT_EXPOSURE = insert_into(
    flag_exposures,
    "batch",
    "environment",
    "flag",
    "variant",
    "count",
    "window_start",
    "window_end",
    "received_at",
)
_EXPOSURE_TOTALS = (
    select(flag_exposures.c.variant, func.sum(flag_exposures.c["count"]))
    .where(
        flag_exposures.c.environment == bindparam("environment"),
        flag_exposures.c.flag == bindparam("flag"),
    )
    .group_by(flag_exposures.c.variant)
    .order_by(flag_exposures.c.variant)
)


def exposure_batch_seen(store: Store, batch: str) -> bool:
    """Whether an SDK batch with this id was recorded already."""
    return bool(store.rows(_EXPOSURE_BATCH, batch=batch))


def insert_exposure(
    store: Store,
    *,
    batch: str,
    environment: str,
    flag: str,
    variant: str,
    count: int,
    start: datetime,
    end: datetime,
    at: datetime,
) -> None:
    store.run(
        _INSERT_EXPOSURE,
        batch=batch,
        environment=environment,
        flag=flag,
        variant=variant,
        count=count,
        window_start=start,
        window_end=end,
        received_at=at,
    )


def exposure_totals(store: Store, environment: str, flag: str) -> list[tuple[str, Any]]:
    """(variant, exposures) of a flag in an environment, by variant."""
    found = store.rows(_EXPOSURE_TOTALS, environment=environment, flag=flag)
    return cast(list[tuple[str, Any]], found)


# --- telling every replica -------------------------------------------------------------------

# pg_notify is NOTIFY as a function, so Core can build it; like NOTIFY, it is delivered when
# the transaction commits, and not at all if it rolls back.
_NOTIFY = select(func.pg_notify(CHANNEL, ""))
# LISTEN has no function form, so it is the one statement here written as text.
_LISTEN = f"LISTEN {CHANNEL}"


def notify_change(store: Store) -> None:
    """Tell every replica's listener (PostgreSQL only) that flags changed, on commit."""
    store.rows(_NOTIFY)


def listening(url: str, *, connect_timeout: int = 5) -> psycopg.Connection[Any]:
    """A connection of its own to the PostgreSQL at `url` that hears every committed flag
    change (`psycopg.Connection.notifies`)."""
    import psycopg  # only a PostgreSQL store listens

    con = psycopg.connect(url, autocommit=True, connect_timeout=connect_timeout)
    try:
        con.execute(_LISTEN)
    except BaseException:
        con.close()
        raise
    return con
