"""Which samples a rollout is judged on, and the bounds every batch keeps."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from headway.rollouts.controller import RolloutService
from headway.rollouts.plan import PlanError
from headway.rollouts.samples import check_sample, check_window
from headway.store import Store
from headway.store.schema import guardrail_samples
from tests.rollouts.conftest import T0, Clock, MemoryFlags
from tests.rollouts.test_controller import ENV, plan, send

g = guardrail_samples.c
COUNT = select(func.count()).select_from(guardrail_samples)


@pytest.fixture
def service(store: Store, flags: MemoryFlags, clock: Clock) -> RolloutService:
    svc = RolloutService(store, flags, clock)
    send(svc, "off", 1000, 10)  # `errors` has reached Headway before the rollout
    return svc


def errors(variant: str, n: float) -> dict[str, object]:
    return {"flag": "new-checkout", "variant": variant, "metric": "errors", "n": n, "total": n}


def judged(store: Store) -> dict[str, float]:
    """Errors per variant attached to a rollout (what the guardrails read)."""
    rows = store.rows(
        select(g.variant, func.sum(g.n))
        .where(g.rollout_id.is_not(None), g.metric == "errors")
        .group_by(g.variant)
    )
    return {r[0]: float(r[1]) for r in rows}


def test_only_samples_of_served_variants_measured_during_the_rollout_judge_it(
    service: RolloutService, store: Store, clock: Clock
) -> None:
    # Given a rollout of `on` against `off` that started at T0 + 1 min
    clock.advance(minutes=1)
    service.start(plan(), actor="ana")
    clock.advance(minutes=1)
    # When three batches arrive: one measured before the start (T0 .. T0 + 30 s), one about
    # a variant the rollout does not serve, and one measured across the start
    early = (T0, T0 + timedelta(seconds=30))
    across = (T0 + timedelta(seconds=50), T0 + timedelta(seconds=70))
    assert service.ingest(ENV, [errors("on", 500)], measured=early) == 1
    assert service.ingest(ENV, [errors("beta", 500)], measured=across) == 1
    assert service.ingest(ENV, [errors("on", 3)], measured=across) == 1
    # Then all three are stored, but only the last one (3 errors on `on`) judges the rollout.
    assert judged(store) == {"on": 3.0}
    total = store.rows(select(func.sum(g.n)).where(g.metric == "errors"))
    assert float(total[0][0]) == 10 + 500 + 500 + 3


def test_a_sample_outside_the_ranges_is_refused_naming_its_field(
    service: RolloutService, store: Store
) -> None:
    before = store.rows(COUNT)[0][0]
    with pytest.raises(PlanError, match=r"samples\[1\]\.n is 1e\+12; it must be between 0"):
        service.ingest(ENV, [errors("on", 1), errors("on", 1e12)])
    # Nothing of a refused batch is stored, not even its valid first sample.
    assert store.rows(COUNT)[0][0] == before


@pytest.mark.parametrize(
    ("n", "total", "sumsq", "field"),
    [
        (-1, 0, 0, "n"),
        (1e9 + 1, 0, 0, "n"),
        (1, -1e16, 0, "total"),
        (1, 1e16, 0, "total"),
        (1, 0, -1, "sumsq"),
        (1, 0, 1e22, "sumsq"),
    ],
)
def test_check_sample_names_the_field_out_of_range(
    n: float, total: float, sumsq: float, field: str
) -> None:
    with pytest.raises(PlanError, match=rf"^samples\[7\]\.{field} is "):
        check_sample(7, n, total, sumsq)
    check_sample(7, 1e9, 1e15, 1e21)  # the bounds themselves are allowed


def test_a_window_that_ends_in_the_future_or_before_it_starts_is_refused() -> None:
    check_window(T0, T0 + timedelta(minutes=5), T0)  # five minutes of clock skew is tolerated
    with pytest.raises(PlanError, match="is in the future"):
        check_window(T0, T0 + timedelta(minutes=5, seconds=1), T0)
    with pytest.raises(PlanError, match="is before `from`"):
        check_window(T0, T0 - timedelta(seconds=1), T0)
