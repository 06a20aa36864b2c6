"""A rollout over time: exposures per stage and arm, each guardrail replayed as its samples
arrived, and the deployments it recorded. Every expected value is worked out below."""

from __future__ import annotations

from datetime import timedelta

import pytest

from headway.flags.store import insert_exposures
from headway.rollouts import history
from headway.rollouts.controller import RolloutService
from headway.rollouts.results import RolloutStatus
from headway.store import Store
from tests.rollouts.conftest import T0, Clock, MemoryFlags
from tests.rollouts.test_controller import ENV, plan, send


def _sdk(store: Store, batch: str, at_s: int, **counts: int) -> None:
    at = T0 + timedelta(seconds=at_s)
    rows = [("new-checkout", variant, n) for variant, n in counts.items()]
    insert_exposures(store, batch=batch, environment=ENV, rows=rows, start=at, end=at, at=at)


@pytest.fixture
def rolled(store: Store, flags: MemoryFlags, clock: Clock) -> RolloutService:
    """Stages 50%, 90%, 100%, judged on errors per exposure.

    T0+60s   samples: on 100 exposures, 2 errors; off 100, 1
    T0+90s   the SDK reports 50 exposures of each
    T0+120s  samples: on 100, 3 errors; off 100, 1; the controller judges
    T0+180s  advanced to 90% by hand
    T0+240s  samples: on 40 exposures, no error
    T0+300s  the SDK reports 10 exposures of on
    """
    service = RolloutService(store, flags, clock)
    send(service, "off", 1000, 10)  # before the rollout: its own history leaves it out
    service.start(plan(stages="50,90,100", min_samples=10), actor="ana")
    clock.advance(seconds=60)
    send(service, "on", 100, 2)
    send(service, "off", 100, 1)
    _sdk(store, "b1", 90, on=50, off=50)
    clock.advance(seconds=60)
    send(service, "on", 100, 3)
    send(service, "off", 100, 1)
    service.tick()
    clock.advance(seconds=60)
    service.advance("new-checkout", ENV, actor="ana")
    clock.advance(seconds=60)
    send(service, "on", 40, 0)
    _sdk(store, "b2", 300, on=10)
    return service


def test_exposures_are_counted_per_stage_and_arm(rolled: RolloutService) -> None:
    rollout, events = rolled.status("new-checkout", ENV)
    by_stage = history.exposures_by_stage(rolled.store, rollout, events)
    assert by_stage == [
        # 100 + 50 (SDK) + 100 on each arm while 50% was live
        {
            "stage": 1,
            "percent": 50,
            "started_at": T0.isoformat(),
            "treatment": 250,
            "control": 250,
        },
        # 40 + 10 (SDK) on the treatment in the second stage
        {
            "stage": 2,
            "percent": 90,
            "started_at": (T0 + timedelta(seconds=180)).isoformat(),
            "treatment": 50,
            "control": 0,
        },
    ]


def test_each_guardrail_is_replayed_as_its_samples_arrived(rolled: RolloutService) -> None:
    rollout, _ = rolled.status("new-checkout", ENV)
    (errors,) = history.guardrail_history(rolled.store, rollout)
    assert errors["check"] == "errors:rate:increase:0%:rollback"
    assert errors["evidence_needed"] == pytest.approx(20)  # 1 / alpha, alpha 0.05, one guardrail
    points = errors["points"]
    assert [p["at"] for p in points] == [
        (T0 + timedelta(seconds=s)).isoformat() for s in (60, 90, 120, 240, 300)
    ]
    # exposures (ingested + SDK) and error rates as they stood at each moment
    expected = [
        (100, 100, 2 / 100, 1 / 100),
        (150, 150, 2 / 150, 1 / 150),
        (250, 250, 5 / 250, 2 / 250),
        (290, 250, 5 / 290, 2 / 250),
        (300, 250, 5 / 300, 2 / 250),
    ]
    got = [(p["n_treatment"], p["n_control"], p["treatment"], p["control"]) for p in points]
    assert got == [pytest.approx(e) for e in expected]
    assert points[2]["relative_change"] == pytest.approx(0.02 / 0.008 - 1)
    # the point at the controller's judgement is that judgement
    (decision,) = [d for d in rollout.as_dict()["judgement"] if d["check"] == errors["check"]]
    assert points[2]["evidence"] == pytest.approx(decision["statistics"]["evidence"])
    assert points[2]["verdict"] == decision["verdict"] == "pass"


def test_a_rolled_back_rollout_links_the_failed_release_and_its_recovery(
    rolled: RolloutService, clock: Clock
) -> None:
    clock.advance(seconds=60)  # T0+300s
    done = rolled.rollback("new-checkout", ENV, actor="ana", reason="checkout errors")
    rollout, events = rolled.status("new-checkout", ENV, done.id)
    doc = RolloutStatus.model_validate(history.document(rolled.store, rollout, events))
    release = f"headway:rollout/{done.id}"
    assert [(d.id, d.kind, d.failed, d.recovers) for d in doc.delivered] == [
        (release, "release", True, None),
        (f"{release}/rollback", "rollback", False, release),
    ]
    assert doc.delivered[1].finished_at == (T0 + timedelta(seconds=300)).isoformat()
    assert [e.stage for e in doc.exposures] == [1, 2]
    assert doc.history[0].points[-1].n_treatment == 300


def test_a_long_history_is_thinned_evenly_keeping_the_first_and_last(
    rolled: RolloutService,
) -> None:
    rollout, _ = rolled.status("new-checkout", ENV)
    # the five moments (60, 90, 120, 240, 300 s) thinned to three: positions
    # round(i * 4 / 2) for i in 0..2, that is 0, 2 and 4
    (errors,) = history.guardrail_history(rolled.store, rollout, points=3)
    assert [p["at"] for p in errors["points"]] == [
        (T0 + timedelta(seconds=s)).isoformat() for s in (60, 120, 300)
    ]
    # the last point is the judge's view of everything received, however few are kept
    (last,) = history.guardrail_history(rolled.store, rollout, points=1)[0]["points"]
    assert last == errors["points"][-1]
    assert (last["n_treatment"], last["n_control"]) == (300, 250)
