"""The statements of rollouts: their rows, their history and the guardrail samples they are
judged on.

The controller's loop and the guardrail sample intake run them all the time, so each is a
module constant, compiled once per store. Rows come back as the tables hold them (naive UTC
timestamps); `headway.rollouts.store` makes them into rollouts. Rollouts, events and samples
are written through `Store.write`, like every record.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, literal, select

from headway.store.base import Store, utc_naive
from headway.store.schema import (
    deployments,
    flag_exposures,
    guardrail_samples,
    rollout_events,
    rollouts,
    services,
)

__all__ = [
    "ACTIVE_STATES",
    "active",
    "all_rollouts",
    "delivered",
    "events",
    "exposures_in_stage",
    "finished_by_team",
    "metrics_seen",
    "next_seq",
    "one",
    "samples_in_order",
    "sdk_exposures",
    "sdk_exposures_in_order",
    "stage_exposure_counts",
    "sums",
]

#: The states of a rollout still in progress, as `headway.rollouts.plan.ACTIVE_STATES` names
#: them (a layer the store may not import; tests/rollouts/test_store_rows.py keeps them equal).
ACTIVE_STATES = ("running", "waiting_approval", "paused")
# Each state a parameter of its own with its value: a plain `in_(ACTIVE_STATES)` is expanded
# when compiled, which asks every other parameter for a value already then.
_IS_ACTIVE = rollouts.c.state.in_([literal(s) for s in ACTIVE_STATES])

_r = rollouts.c
# In the order of `headway.rollouts.store.Rollout`'s fields.
_ROLLOUT = select(
    _r.flag,
    _r.environment,
    _r.service,
    _r.plan,
    _r.state,
    _r.stage_index,
    _r.stage_started_at,
    _r.started_at,
    _r.finished_at,
    _r.waiting_since,
    _r.reason,
    _r.judgement,
    _r.created_by,
    _r.updated_at,
)
_BY_ID = _ROLLOUT.where(_r.id == bindparam("id"))
_ACTIVE = _ROLLOUT.where(
    _r.flag == bindparam("flag"),
    _r.environment == bindparam("environment"),
    _IS_ACTIVE,
).order_by(_r.started_at.desc())
# Listed by (active only, of one flag).
_LISTED = {
    (False, False): _ROLLOUT.order_by(_r.started_at),
    (True, False): _ROLLOUT.where(_IS_ACTIVE).order_by(_r.started_at),
    (False, True): _ROLLOUT.where(_r.flag == bindparam("flag")).order_by(_r.started_at),
    (True, True): _ROLLOUT.where(_IS_ACTIVE, _r.flag == bindparam("flag")).order_by(_r.started_at),
}

# Rollouts that finished in [since, until), per team of their service and final state.
_FINISHED_BY_TEAM = (
    select(services.c.team, _r.state, func.count())
    .select_from(rollouts.join(services, services.c.name == _r.service))
    .where(
        ~_IS_ACTIVE,
        _r.finished_at >= bindparam("since"),
        _r.finished_at < bindparam("until"),
        services.c.team.is_not(None),
    )
    .group_by(services.c.team, _r.state)
)

_e = rollout_events.c
_EVENTS = (
    select(
        _e.rollout_id,
        _e.seq,
        _e.occurred_at,
        _e.kind,
        _e.stage_index,
        _e.percent,
        _e.actor,
        _e.explanation,
        _e.detail,
    )
    .where(_e.rollout_id == bindparam("rollout"))
    .order_by(_e.seq)
)
_NEXT_SEQ = select(func.coalesce(func.max(_e.seq), 0) + 1).where(
    _e.rollout_id == bindparam("rollout")
)

_x = flag_exposures.c
_SDK_EXPOSURES = (
    select(_x.variant, func.sum(_x["count"]))
    .where(
        _x.environment == bindparam("environment"),
        _x.flag == bindparam("flag"),
        _x.received_at >= bindparam("since"),
        _x.received_at <= bindparam("until"),
    )
    .group_by(_x.variant)
)

_g = guardrail_samples.c
_SUMS = (
    select(_g.variant, _g.metric, func.sum(_g.n), func.sum(_g.total), func.sum(_g.sumsq))
    .where(
        _g.rollout_id == bindparam("rollout"),
        _g.metric.in_([bindparam("metric"), bindparam("exposures")]),
    )
    .group_by(_g.variant, _g.metric)
)
_STAGE_EXPOSURES = (
    select(_g.variant, func.sum(_g.n))
    .where(
        _g.rollout_id == bindparam("rollout"),
        _g.stage_index == bindparam("stage"),
        _g.metric == bindparam("exposures"),
    )
    .group_by(_g.variant)
)
# A rollout's history as its samples arrived: the guardrails replayed over time.
_SAMPLES_IN_ORDER = (
    select(_g.received_at, _g.variant, _g.metric, _g.n, _g.total, _g.sumsq)
    .where(_g.rollout_id == bindparam("rollout"))
    .order_by(_g.received_at)
)
_SDK_IN_ORDER = (
    select(_x.received_at, _x.variant, _x["count"])
    .where(
        _x.environment == bindparam("environment"),
        _x.flag == bindparam("flag"),
        _x.received_at >= bindparam("since"),
        _x.received_at <= bindparam("until"),
    )
    .order_by(_x.received_at)
)
_STAGE_EXPOSURE_COUNTS = (
    select(_g.stage_index, _g.variant, func.sum(_g.n))
    .where(_g.rollout_id == bindparam("rollout"), _g.metric == bindparam("exposures"))
    .group_by(_g.stage_index, _g.variant)
)
_d = deployments.c
# The deployments a rollout wrote (`headway.rollouts.delivery`): its release and rollback.
_DELIVERED = (
    select(_d.id, _d.kind, _d.status, _d.started_at, _d.finished_at, _d.recovers, _d.evidence)
    .where(
        _d.source == bindparam("source"),
        _d.source_id.in_([bindparam("release"), bindparam("rollback")]),
    )
    .order_by(_d.finished_at, _d.id)
)
_METRICS_SEEN = (
    select(_g.metric)
    .distinct()
    .where(_g.environment == bindparam("environment"), _g.metric != bindparam("exposures"))
)


def one(store: Store, rollout_id: str) -> tuple[Any, ...] | None:
    """The row of the rollout `rollout_id`, None when there is none."""
    rows = store.rows(_BY_ID, id=rollout_id)
    return rows[0] if rows else None


def active(store: Store, flag: str, environment: str) -> tuple[Any, ...] | None:
    """The row of `flag`'s rollout in progress in `environment` (the latest started)."""
    rows = store.rows(_ACTIVE, flag=flag, environment=environment)
    return rows[0] if rows else None


def all_rollouts(
    store: Store, *, active_only: bool = False, flag: str | None = None
) -> list[tuple[Any, ...]]:
    """Rollout rows in the order they started, those in progress or of one flag if asked."""
    statement = _LISTED[active_only, bool(flag)]
    return store.rows(statement, flag=flag) if flag else store.rows(statement)


def events(store: Store, rollout_id: str) -> list[tuple[Any, ...]]:
    """The history of a rollout, in order: (rollout_id, seq, occurred_at, kind, stage_index,
    percent, actor, explanation, detail)."""
    return store.rows(_EVENTS, rollout=rollout_id)


def next_seq(store: Store, rollout_id: str) -> int:
    """The number of a rollout's next event (1 for its first)."""
    return int(store.rows(_NEXT_SEQ, rollout=rollout_id)[0][0])


def sdk_exposures(
    store: Store, environment: str, flag: str, since: datetime, until: datetime
) -> dict[str, float]:
    """Exposures per variant the SDK reported to the flags service between the two times."""
    rows = store.rows(
        _SDK_EXPOSURES,
        environment=environment,
        flag=flag,
        since=utc_naive(since),
        until=utc_naive(until),
    )
    return {str(variant): float(count) for variant, count in rows}


def sums(
    store: Store, rollout_id: str, metric: str, exposures: str
) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(n, total, sumsq) summed over a rollout's samples of `metric` and of `exposures`, by
    (variant, metric)."""
    rows = store.rows(_SUMS, rollout=rollout_id, metric=metric, exposures=exposures)
    return {(r[0], r[1]): (float(r[2]), float(r[3]), float(r[4])) for r in rows}


def exposures_in_stage(
    store: Store, rollout_id: str, stage_index: int, exposures: str
) -> dict[str, float]:
    """The `exposures` samples (their n) per variant received during one stage of a rollout."""
    rows = store.rows(_STAGE_EXPOSURES, rollout=rollout_id, stage=stage_index, exposures=exposures)
    return {str(variant): float(n) for variant, n in rows}


def metrics_seen(store: Store, environment: str, exposures: str) -> set[str]:
    """Every metric sampled in `environment`, except `exposures`."""
    return {
        str(r[0]) for r in store.rows(_METRICS_SEEN, environment=environment, exposures=exposures)
    }


def finished_by_team(store: Store, since: datetime, until: datetime) -> list[tuple[str, str, int]]:
    """(team, final state, rollouts) of the rollouts that finished in [since, until), by the
    team of the service each counts for; a service no team owns is left out."""
    rows = store.rows(_FINISHED_BY_TEAM, since=since, until=until)
    return [(str(team), str(state), int(n)) for team, state, n in rows]


def samples_in_order(store: Store, rollout_id: str) -> list[tuple[Any, ...]]:
    """(received_at, variant, metric, n, total, sumsq) of every sample of a rollout, oldest
    first."""
    return store.rows(_SAMPLES_IN_ORDER, rollout=rollout_id)


def sdk_exposures_in_order(
    store: Store, environment: str, flag: str, since: datetime, until: datetime
) -> list[tuple[Any, ...]]:
    """(received_at, variant, count) of the SDK's exposure reports between the two times."""
    return store.rows(
        _SDK_IN_ORDER,
        environment=environment,
        flag=flag,
        since=utc_naive(since),
        until=utc_naive(until),
    )


def stage_exposure_counts(
    store: Store, rollout_id: str, exposures: str
) -> dict[tuple[int, str], float]:
    """The `exposures` samples (their n) per (stage, variant) of a rollout."""
    rows = store.rows(_STAGE_EXPOSURE_COUNTS, rollout=rollout_id, exposures=exposures)
    return {(int(stage), str(variant)): float(n) for stage, variant, n in rows if stage is not None}


def delivered(store: Store, source: str, release: str, rollback: str) -> list[tuple[Any, ...]]:
    """(id, kind, status, started_at, finished_at, recovers, evidence) of the deployments with
    these source ids, in the order they finished."""
    return store.rows(_DELIVERED, source=source, release=release, rollback=rollback)
