"""The controller: plans refused, stages advanced, approvals waited for, rollbacks recorded."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from headway.config import Settings
from headway.flags.model import Serve
from headway.rollouts.controller import RolloutService
from headway.rollouts.plan import PlanError, RolloutError, RolloutNotFound, RolloutPlan, State
from headway.store import Store, open_store
from headway.store.schema import approvals, deployments
from tests.rollouts.conftest import Clock, MemoryFlags

ENV = "production"


def plan(**overrides: object) -> RolloutPlan:
    options: dict[str, object] = {
        "flag": "new-checkout",
        "environment": ENV,
        "treatment": "on",
        "control": "off",
        "stages": "10,50,100",
        "min_duration": "10m",
        "min_samples": 1000,
        "guardrails": ["errors:rate:increase:0%:rollback"],
        "service": "checkout",
    }
    options.update(overrides)
    return RolloutPlan.build(**options)  # type: ignore[arg-type]


def send(service: RolloutService, variant: str, exposures: int, errors: int) -> None:
    service.ingest(
        ENV,
        [
            {"flag": "new-checkout", "variant": variant, "metric": "$exposures", "n": exposures},
            {
                "flag": "new-checkout",
                "variant": variant,
                "metric": "errors",
                "n": errors,
                "total": errors,
                "sumsq": errors,
            },
        ],
    )


@pytest.fixture
def service(store: Store, flags: MemoryFlags, clock: Clock) -> RolloutService:
    svc = RolloutService(store, flags, clock)
    send(svc, "off", 1000, 10)  # the service has reported `errors` before the rollout
    return svc


def test_bad_plans_are_refused_with_a_clear_message(service: RolloutService) -> None:
    with pytest.raises(PlanError, match="out of order"):
        plan(stages="1,25,5,100")
    with pytest.raises(PlanError, match="the last stage must be 100"):
        plan(stages="1,5,25")
    with pytest.raises(PlanError, match="write increase:10%, not increase:-10%"):
        plan(guardrails=["errors:rate:increase:-10%:rollback"])
    with pytest.raises(PlanError, match="starting the rollout approves it"):
        plan(approvals=[10])
    unknown = r"latency_ms have never reached Headway.*known metrics: errors"
    with pytest.raises(PlanError, match=unknown):
        service.start(plan(guardrails=["latency_ms:mean:increase:5%:pause"]), actor="ana")
    with pytest.raises(RolloutNotFound, match="flag 'nope' does not exist"):
        service.start(plan(flag="nope"), actor="ana")
    with pytest.raises(PlanError, match="treatment variant 'blue' is not a variant"):
        service.start(plan(treatment="blue"), actor="ana")
    service.start(plan(), actor="ana")
    with pytest.raises(RolloutError, match="already rolling out in production"):
        service.start(plan(), actor="bob")


def test_stages_advance_wait_for_approval_and_complete_as_a_release(
    service: RolloutService, flags: MemoryFlags, clock: Clock, store: Store
) -> None:
    rollout = service.start(plan(approvals=[100]), actor="ana")
    split = flags.serving("new-checkout", ENV).split
    assert split is not None
    assert [(w.variant, w.weight) for w in split.weights] == [("off", 90), ("on", 10)]

    # Stage 1 (10 %): enough exposures but only 5 minutes in: stays.
    send(service, "on", 1000, 10)
    send(service, "off", 9000, 90)
    clock.advance(minutes=5)
    assert service.tick() == []
    # After 10 minutes with 1,000 treatment exposures and equal error rates: advances to 50 %.
    clock.advance(minutes=5)
    (moved,) = service.tick()
    assert (moved.state, moved.percent) == (State.RUNNING, 50)

    # Stage 2 passes its checks; 100 % needs a person.
    send(service, "on", 5000, 50)
    send(service, "off", 5000, 50)
    clock.advance(minutes=10)
    (waiting,) = service.tick()
    assert waiting.state == State.WAITING_APPROVAL
    clock.advance(minutes=30)
    done = service.advance("new-checkout", ENV, actor="lead")
    assert done.state == State.COMPLETED
    assert flags.serving("new-checkout", ENV) == Serve(variant="on")

    (release,) = store.dicts(select(deployments))
    assert (release["kind"], release["status"]) == ("release", "success")
    assert release["service"] == "checkout"
    assert release["version"] == "new-checkout=on"
    (approval,) = store.dicts(select(approvals))
    assert approval["kind"] == "rollout_stage"
    assert approval["actor"] == "lead"
    assert approval["deployment_ref"] == release["id"]
    # Requested at 20 min, approved at 50 min: 30 minutes of waiting.
    assert (approval["decided_at"] - approval["requested_at"]).total_seconds() == 1800

    _, events = service.status("new-checkout", ENV)
    kinds = [e.kind for e in events]
    assert kinds[0] == "started"
    assert kinds[-1] == "completed"
    assert "approval_requested" in kinds
    assert "approved" in kinds
    signals = service.signals()
    assert signals["completion_rate"] == 1.0
    # Stage 10 %: entered at 0, left at 10 min = 600 s; stage 50 %: 10 -> 50 min = 2,400 s.
    assert signals["median_seconds_per_stage"] == {"10%": 600.0, "50%": 2400.0}
    assert signals["mean_human_wait_seconds_per_rollout"] == 1800.0
    assert rollout.id == done.id


def test_a_harmful_change_rolls_itself_back_and_counts_as_a_failed_release(
    service: RolloutService, flags: MemoryFlags, clock: Clock, store: Store
) -> None:
    service.start(plan(), actor="ana")
    # Stage 10 %: treatment errors 4 % on 2,000 exposures, control 1 % on 18,000:
    # z ~ 0.03 / sqrt(0.013 * 0.987 * (1/2,000 + 1/18,000)) = 0.03 / 0.0027 = 11.
    send(service, "on", 2000, 80)
    send(service, "off", 18000, 180)
    clock.advance(minutes=3)
    (rolled,) = service.tick()
    assert rolled.state == State.ROLLED_BACK
    assert flags.serving("new-checkout", ENV) == Serve(variant="off")
    assert "4.00% on treatment against 1.00% on control" in (rolled.reason or "")

    release, rollback = store.dicts(select(deployments).order_by(deployments.c.kind))
    assert (release["kind"], rollback["kind"]) == ("release", "rollback")
    assert rollback["recovers"] == release["id"]
    assert rollback["trigger"] == "rollout"
    assert rollback["evidence"].startswith("automatic rollback: errors is 4.00%")
    # Exposed at 09:00, rolled back 3 minutes later: recovery took 180 s.
    assert (rollback["finished_at"] - release["finished_at"]).total_seconds() == 180

    _, events = service.status("new-checkout", ENV)
    last = events[-1]
    assert (last.kind, last.actor) == ("rolled_back", "headway")
    assert last.detail is not None
    assert '"verdict": "breach"' in last.detail
    assert service.signals()["automatic_rollback_rate"] == 1.0
    with pytest.raises(RolloutNotFound):
        service.rollback("new-checkout", ENV, actor="ana")


def test_sample_ratio_mismatch_pauses_and_a_person_resumes(
    service: RolloutService, clock: Clock
) -> None:
    service.start(plan(), actor="ana")
    # 10 % expected, 30 % observed on 10,000 exposures: wildly off.
    send(service, "on", 3000, 30)
    send(service, "off", 7000, 70)
    clock.advance(minutes=1)
    (paused,) = service.tick()
    assert paused.state == State.PAUSED
    assert "Sample ratio mismatch" in (paused.reason or "")
    assert service.tick() == []  # a paused rollout is left alone
    resumed = service.resume("new-checkout", ENV, actor="ana")
    assert resumed.state == State.RUNNING
    aborted = service.abort("new-checkout", ENV, actor="ana", reason="assignment bug")
    assert aborted.state == State.ABORTED
    assert service.signals()["abandon_rate"] == 1.0


def test_the_controller_resumes_from_the_store_after_a_restart(
    engine_settings: Settings, flags: MemoryFlags, clock: Clock
) -> None:
    first = open_store(engine_settings)
    before = RolloutService(first, flags, clock)
    send(before, "off", 1000, 10)
    before.start(plan(), actor="ana")
    first.close()

    second = open_store(engine_settings)
    after = RolloutService(second, flags, clock)
    send(after, "on", 2000, 80)
    send(after, "off", 18000, 180)
    (rolled,) = after.tick()
    assert rolled.state == State.ROLLED_BACK
    second.close()


def test_a_first_rollout_starts_before_any_metric_arrives_and_waits_for_it(
    store: Store, flags: MemoryFlags, clock: Clock
) -> None:
    # No sample of any metric yet (no SDK has reported): not a typo to refuse, a first rollout.
    service = RolloutService(store, flags, clock)
    rollout = service.start(plan(), actor="ana")
    assert rollout.state == State.RUNNING
    _, events = service.status("new-checkout", ENV)
    [started] = [e for e in events if e.kind == "started"]
    assert started.explanation.endswith("; stage 1 waits for errors")
    for variant in ("on", "off"):  # plenty of traffic, but not one `errors` sample
        exposures = {"flag": "new-checkout", "variant": variant, "metric": "$exposures"}
        service.ingest(ENV, [{**exposures, "n": 5000}])
    clock.advance(minutes=30)
    service.tick()  # long enough, enough exposures: only the missing guardrail holds it
    current, _ = service.status("new-checkout", ENV)
    assert current.stage_index == 0


def test_each_move_is_one_line_in_the_log(
    service: RolloutService, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="headway.rollouts")
    service.start(plan(), actor="ana")
    service.pause("new-checkout", ENV, actor="bob", reason="checking a dashboard")
    lines = [r.getMessage() for r in caplog.records if r.name == "headway.rollouts"]
    assert lines[0].startswith("rollout of new-checkout in production started at 10% by ana: ")
    assert lines[1] == (
        "rollout of new-checkout in production paused at 10% by bob: checking a dashboard"
    )


def test_each_move_is_in_the_audit_chain(service: RolloutService, store: Store) -> None:
    from headway.store import audit

    service.start(plan(), actor="ana")
    service.pause("new-checkout", ENV, actor="bob", reason="checking a dashboard")
    moves = list(audit.entries(store, entity="rollout"))
    assert [(e.actor, e.action, e.entity_id) for e in moves] == [
        ("ana", "started", "new-checkout/production"),
        ("bob", "paused", "new-checkout/production"),
    ]
    assert audit.verify(store).intact
