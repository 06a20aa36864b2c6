"""Several servers on one PostgreSQL each run the rollout controller: one moves at a time.

Each "replica" here is a `RolloutService` on a store of its own (its own connection), on one
schema, as two `headway serve` processes would be.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from headway.config import Settings
from headway.rollouts.controller import RolloutService
from headway.rollouts.plan import State
from headway.store import Store, StoreBusyError, open_store
from headway.store.locks import Exclusive
from tests.rollouts.conftest import Clock, MemoryFlags, checkout_flag
from tests.rollouts.test_controller import ENV, plan, send

pytestmark = pytest.mark.postgres


@pytest.fixture
def replicas(pg_schema_url: str) -> Iterator[tuple[Store, Store]]:
    first, second = (open_store(Settings(database=pg_schema_url)) for _ in range(2))
    yield first, second
    first.close()
    second.close()


def test_one_holder_at_a_time_across_processes_per_schema(
    replicas: tuple[Store, Store], pg_schema_url: str, postgres_url: str
) -> None:
    first, second = replicas
    mine, theirs = Exclusive(first, "headway.rollouts"), Exclusive(second, "headway.rollouts", 0.3)
    with mine.held() as held:
        assert held
        with mine.held(wait=False) as again:  # the holder may take it again
            assert again
        with theirs.held(wait=False) as other:
            assert other is False
        busy = r"the headway.rollouts lock for over 0 s"
        with pytest.raises(StoreBusyError, match=busy), theirs.held():
            pass
        # another name, or the same name in another schema, is another lock
        with Exclusive(second, "headway.other").held(wait=False) as other:
            assert other
        elsewhere = open_store(Settings(database=postgres_url))
        try:
            with Exclusive(elsewhere, "headway.rollouts").held(wait=False) as other:
                assert other
        finally:
            elsewhere.close()
    with theirs.held(wait=False) as other:
        assert other


def test_a_rollout_is_moved_once_when_two_replicas_judge_it(
    replicas: tuple[Store, Store], clock: Clock
) -> None:
    flags = MemoryFlags(checkout_flag())
    a, b = (RolloutService(store, flags, clock) for store in replicas)
    send(a, "off", 1000, 10)
    rollout = a.start(plan(), actor="ana")
    send(a, "on", 1000, 10)
    send(a, "off", 9000, 90)
    clock.advance(minutes=11)  # stage 1 has passed: either replica would advance it

    with a.exclusive.held():  # replica A is making its pass
        assert b.tick() == []  # B skips its own rather than act on what A is changing
        (moved,) = a.tick()
        assert (moved.state, moved.percent) == (State.RUNNING, 50)
        # A person rolling back through B meanwhile waits for A's pass to end
        rolled: list[object] = []
        command = threading.Thread(
            target=lambda: rolled.append(b.rollback("new-checkout", ENV, actor="bob"))
        )
        command.start()
        time.sleep(0.5)
        assert command.is_alive()
    command.join(10)
    # and then acts on the rollout as A left it: at 50 %, now rolled back
    (done,) = rolled
    assert getattr(done, "state", None) == State.ROLLED_BACK
    assert getattr(done, "stage_index", None) == 1
    # B's next pass finds nothing to do, and nothing A or B did was recorded twice
    assert b.tick() == []
    assert a.tick() == []
    _, events = b.status("new-checkout", ENV, rollout.id)
    # (the first judgement is recorded once, as it changed from none)
    assert [e.kind for e in events] == ["started", "judged", "advanced", "rolled_back"]
