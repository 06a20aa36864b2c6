"""The statements of release plans: their rows, the one-server moves between their states,
and the deployment that first carried a flag's code to an environment.

Rows come back as the table holds them (naive UTC); `headway.rollouts.releases` makes them
into plans. A move is `UPDATE … WHERE version = the one read … RETURNING`: of two servers
judging the same plan, one gets the row back and acts, the other gets nothing and leaves it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, bindparam, delete, literal, select, update

from headway.store.base import Store, utc_naive
from headway.store.schema import changes, deployments, github_pull_flags, release_plans
from headway.store.statements import insert_into

__all__ = ["added_without_plan", "carried", "delete_plan", "insert_plan", "move", "one", "plans"]

_p = release_plans.c
_COLUMNS = (
    _p.flag,
    _p.document,
    _p.state,
    _p.step,
    _p.since,
    _p.reason,
    _p.version,
    _p.created_by,
    _p.created_at,
    _p.updated_at,
)
_ALL = select(*_COLUMNS).order_by(_p.flag)
_ONE = select(*_COLUMNS).where(_p.flag == bindparam("flag"))
_INSERT = insert_into(release_plans, *(c.name for c in _COLUMNS))
_DELETE = delete(release_plans).where(_p.flag == bindparam("flag"))
_MOVE = (
    update(release_plans)
    .where(_p.flag == bindparam("flag"), _p.version == bindparam("read"))
    .values(
        state=bindparam("state"),
        step=bindparam("step"),
        since=bindparam("since"),
        reason=bindparam("reason"),
        version=_p.version + 1,
        updated_at=bindparam("updated_at"),
    )
    .returning(_p.version)
)

# The first deployment of the flag's code to an environment: a successful deploy (not a flag
# release or a rollback) of a service a pull request that added or used the flag was merged
# into, finished at or after that merge.
_c, _d, _f = changes.alias("c"), deployments.alias("d"), github_pull_flags.alias("f")
_CARRIED = (
    select(_d.c.finished_at, _d.c.service)
    .select_from(
        _f.join(_c, and_(_c.c.repository == _f.c.repository, _c.c.number == _f.c.number)).join(
            _d,
            and_(
                _d.c.service == _c.c.service,
                _d.c.environment == bindparam("environment"),
                _d.c.finished_at >= _c.c.merged_at,
            ),
        )
    )
    .where(
        _f.c.flag == bindparam("flag"),
        _f.c.change.in_([literal("added"), literal("used")]),
        _d.c.status == literal("success"),
        _d.c.kind.in_([literal("deploy"), literal("hotfix")]),
    )
    .order_by(_d.c.finished_at, _d.c.service)
    .limit(1)
)
# Flags a pull request added after `since` that have no plan of their own yet.
_ADDED_WITHOUT_PLAN = (
    select(_f.c.flag)
    .distinct()
    .where(
        _f.c.change == literal("added"),
        _f.c.updated_at >= bindparam("since"),
        ~select(_p.flag).where(_p.flag == _f.c.flag).exists(),
    )
    .order_by(_f.c.flag)
)


def plans(store: Store) -> list[tuple[Any, ...]]:
    return store.rows(_ALL)


def one(store: Store, flag: str) -> tuple[Any, ...] | None:
    rows = store.rows(_ONE, flag=flag)
    return rows[0] if rows else None


def insert_plan(store: Store, **row: Any) -> None:
    """Write a plan's row; the caller deletes any earlier one in the same transaction."""
    for name in ("since", "created_at", "updated_at"):
        row[name] = utc_naive(row[name])
    store.run(_INSERT, **row)


def delete_plan(store: Store, flag: str) -> None:
    store.run(_DELETE, flag=flag)


def move(
    store: Store,
    flag: str,
    read: int,
    *,
    state: str,
    step: int,
    since: datetime,
    reason: str,
    at: datetime,
) -> bool:
    """Move the plan from the version `read` to `state`; False when another server moved it
    first (its version is no longer `read`)."""
    rows = store.rows(
        _MOVE,
        flag=flag,
        read=read,
        state=state,
        step=step,
        since=utc_naive(since),
        reason=reason,
        updated_at=utc_naive(at),
    )
    return bool(rows)


def carried(store: Store, flag: str, environment: str) -> tuple[datetime, str] | None:
    """When the first deployment to `environment` carrying a pull request that added or
    used `flag` finished, and its service; None while none has."""
    rows = store.rows(_CARRIED, flag=flag, environment=environment)
    return (rows[0][0], rows[0][1]) if rows else None


def added_without_plan(store: Store, since: datetime) -> list[str]:
    """Flags a pull request added at or after `since` that have no plan of their own."""
    return [row[0] for row in store.rows(_ADDED_WITHOUT_PLAN, since=utc_naive(since))]
