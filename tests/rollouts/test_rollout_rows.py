"""What the rollout statements of `headway.store.rollouts` read, on both engines."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from headway.metrics import rollout_rates
from headway.metrics.scope import Period
from headway.model import Service
from headway.rollouts.plan import ACTIVE_STATES, State
from headway.rollouts.store import Rollout, active_rollout, list_rollouts
from headway.store import Store
from headway.store import rollouts as rows
from tests.rollouts.conftest import T0
from tests.rollouts.test_controller import plan


def test_the_store_knows_the_active_states_the_plan_names() -> None:
    # The store may not import the plan, so it spells the states out itself.
    assert tuple(str(s) for s in ACTIVE_STATES) == rows.ACTIVE_STATES


def _rollout(flag: str, state: State, minutes: int) -> Rollout:
    at = T0 + timedelta(minutes=minutes)
    return Rollout(
        flag=flag,
        environment="production",
        service="checkout",
        plan=plan().to_json(),
        state=state,
        stage_index=0,
        stage_started_at=at,
        started_at=at,
        updated_at=at,
    )


def test_rollouts_are_listed_by_start_filtered_by_state_and_flag(store: Store) -> None:
    # Given four rollouts: a finished and a running one of `a`, a paused and an aborted of `b`
    a_done = _rollout("a", State.COMPLETED, 0)
    b_paused = _rollout("b", State.PAUSED, 1)
    a_running = _rollout("a", State.RUNNING, 2)
    b_aborted = _rollout("b", State.ABORTED, 3)
    store.write([a_running, b_aborted, a_done, b_paused])

    def ids(**options: object) -> list[str]:
        return [r.id for r in list_rollouts(store, **options)]  # type: ignore[arg-type]

    # Then each listing is in start order and keeps only what it was asked for
    assert ids() == [a_done.id, b_paused.id, a_running.id, b_aborted.id]
    assert ids(active_only=True) == [b_paused.id, a_running.id]
    assert ids(flag="b") == [b_paused.id, b_aborted.id]
    assert ids(active_only=True, flag="a") == [a_running.id]
    assert ids(flag="") == ids()  # an empty flag filters nothing
    # And a flag's rollout in progress is its running one, read back as written (UTC kept)
    assert active_rollout(store, "a", "production") == a_running
    assert active_rollout(store, "a", "staging") is None


def test_the_rates_name_the_finished_states_the_plan_names() -> None:
    # The metrics may not import the plan, so they spell the finished states out themselves.
    assert {str(s) for s in State} - {str(s) for s in ACTIVE_STATES} == set(rollout_rates.FINISHED)


def test_rollouts_finished_in_a_period_are_counted_per_team(store: Store) -> None:
    # Given checkout (team shop) and a rollout of a service no team owns
    store.write([Service(name="checkout", team="shop", context="internal")])
    done = [
        _finished("a", State.COMPLETED, T0),
        _finished("b", State.ABORTED, T0 + timedelta(days=1)),
        _finished("c", State.COMPLETED, T0 + timedelta(days=2)),
        _finished("d", State.ROLLED_BACK, T0 + timedelta(days=40)),  # after the period
        _finished("e", State.COMPLETED, T0, service="orphan"),  # no team
        _rollout("f", State.RUNNING, 5),  # not finished
    ]
    store.write(done)
    period = Period(T0.replace(tzinfo=None), (T0 + timedelta(days=30)).replace(tzinfo=None))
    # Then shop finished 3 in the period: 2 completed (2/3), 1 aborted (1/3), none rolled back
    assert rollout_rates.by_team(store, period) == {
        "shop": {
            "finished": 3,
            "completion_rate": 2 / 3,
            "abandon_rate": 1 / 3,
            "rollback_rate": 0.0,
        }
    }
    assert rollout_rates.rates({}) == {
        "finished": 0,
        "completion_rate": None,
        "abandon_rate": None,
        "rollback_rate": None,
    }


def _finished(flag: str, state: State, at: datetime, service: str = "checkout") -> Rollout:
    return replace(_rollout(flag, state, 0), service=service, finished_at=at, updated_at=at)
