"""The statements of scheduled flag changes (`flag_schedules`).

Every runner of every server asks for the due schedules each tick, so the statements are
module constants, compiled once per store. Taking a schedule, finishing it and cancelling it
are each one conditional UPDATE answering the row it changed: on PostgreSQL a second runner's
UPDATE waits for the first to commit and then finds its condition false, so exactly one of
them is answered a row. `headway.flags.schedules` reads the rows as schedules.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, literal, or_, select, update

from headway.store.base import Store, utc_naive
from headway.store.schema import flag_schedules
from headway.store.statements import insert_into

__all__ = [
    "COLUMNS",
    "cancel",
    "claim",
    "due",
    "finish",
    "insert",
    "listed",
    "one",
]

_s = flag_schedules.c
#: Every column, in the declared order: the order of each row answered here.
COLUMNS = tuple(c.name for c in flag_schedules.columns)

_ROW = select(*flag_schedules.columns)
_ONE = _ROW.where(_s.id == bindparam("id"))
_OPEN = _s.state.in_([literal("pending"), literal("claimed")])
_ORDER = (_s.run_at, _s.created_at, _s.id)
# Listed by (finished ones too, of one flag).
_LISTED = {
    (False, False): _ROW.where(_OPEN).order_by(*_ORDER),
    (True, False): _ROW.order_by(*_ORDER),
    (False, True): _ROW.where(_OPEN, _s.flag == bindparam("flag")).order_by(*_ORDER),
    (True, True): _ROW.where(_s.flag == bindparam("flag")).order_by(*_ORDER),
}

# Whether a runner may take the schedule: pending, or claimed by a runner that has not
# finished it for so long that it stopped (its change was not applied: see `finish`).
_TAKEABLE = or_(
    _s.state == literal("pending"),
    and_(_s.state == literal("claimed"), _s.claimed_at < bindparam("stale_before")),
)
_DUE = (
    select(_s.id)
    .where(_s.run_at <= bindparam("now"), _TAKEABLE)
    .order_by(*_ORDER)
    .limit(bindparam("limit"))
)
_CLAIM = (
    update(flag_schedules)
    .where(_s.id == bindparam("schedule"), _TAKEABLE)
    .values(
        state="claimed",
        claimed_by=bindparam("runner"),
        claimed_at=bindparam("now"),
        attempts=_s.attempts + 1,
    )
    .returning(_s.id)
)
_FINISH = (
    update(flag_schedules)
    .where(
        _s.id == bindparam("schedule"),
        _s.state == literal("claimed"),
        _s.claimed_by == bindparam("runner"),
    )
    .values(
        state=bindparam("state"),
        finished_at=bindparam("now"),
        outcome=bindparam("outcome"),
        flag_version=bindparam("version"),
    )
    .returning(_s.id)
)
_CANCEL = (
    update(flag_schedules)
    .where(_s.id == bindparam("schedule"), _TAKEABLE)
    .values(state="cancelled", finished_at=bindparam("now"), outcome=bindparam("outcome"))
    .returning(_s.id)
)
_INSERT = insert_into(flag_schedules, *COLUMNS)


def insert(store: Store, **values: Any) -> None:
    """A new schedule; `values` names every column (times as aware or naive UTC)."""
    store.run(_INSERT, **{k: _naive(v) for k, v in values.items()})


def one(store: Store, schedule_id: str) -> tuple[Any, ...] | None:
    rows = store.rows(_ONE, id=schedule_id)
    return rows[0] if rows else None


def listed(store: Store, *, finished: bool = False, flag: str | None = None) -> list[Any]:
    """Schedules by time: those still to run (pending or claimed), or every one if
    `finished`; of one flag if asked."""
    statement = _LISTED[finished, flag is not None]
    return store.rows(statement, flag=flag) if flag is not None else store.rows(statement)


def due(store: Store, now: datetime, stale_before: datetime, limit: int) -> list[str]:
    """The ids of the schedules a runner may take at `now`, the earliest first: pending ones
    whose time has come, and claimed ones whose claim is older than `stale_before`."""
    rows = store.rows(_DUE, now=_naive(now), stale_before=_naive(stale_before), limit=limit)
    return [str(r[0]) for r in rows]


def claim(
    store: Store, schedule_id: str, runner: str, now: datetime, stale_before: datetime
) -> bool:
    """Take the schedule for `runner` if it still may be taken; True for the one runner that
    does. Outside a transaction it commits at once, so every other runner sees it taken."""
    return bool(
        store.rows(
            _CLAIM,
            schedule=schedule_id,
            runner=runner,
            now=_naive(now),
            stale_before=_naive(stale_before),
        )
    )


def finish(
    store: Store,
    schedule_id: str,
    runner: str,
    *,
    state: str,
    outcome: str,
    version: int | None,
    now: datetime,
) -> bool:
    """Record how the schedule ended, if `runner` still holds its claim; False when another
    runner took it over meanwhile (the caller then rolls its change back)."""
    return bool(
        store.rows(
            _FINISH,
            schedule=schedule_id,
            runner=runner,
            state=state,
            outcome=outcome,
            version=version,
            now=_naive(now),
        )
    )


def cancel(
    store: Store, schedule_id: str, *, outcome: str, now: datetime, stale_before: datetime
) -> bool:
    """Cancel the schedule unless it ran, is running or was cancelled; True if it was."""
    return bool(
        store.rows(
            _CANCEL,
            schedule=schedule_id,
            outcome=outcome,
            now=_naive(now),
            stale_before=_naive(stale_before),
        )
    )


def _naive(value: Any) -> Any:
    return utc_naive(value) if isinstance(value, datetime) else value
