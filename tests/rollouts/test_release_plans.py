"""Release plans: a flag released by itself, staging then production, once the code behind it
is deployed, on both stores.

The story, on a settable clock from 2026-03-02 09:00 (T0):
  T0        pull request acme/shop#7 adds `checkout` (created off everywhere) and merges
  T0 + 1 h  deployed to staging → the plan switches the flag on (off variant) and rolls it
            out there: 50 %, then 100 % (each stage needs 5 minutes and 100 exposures)
  staging completes at T0 + 1 h 5 min; production may start 2 h later (T0 + 3 h 5 min)
  T0 + 2 h  deployed to production: too early, it waits for the promotion time
  T0 + 3 h 5 min  production rolls out, and completes 5 minutes later: done
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings
from headway.flags.lifecycle import environment_state
from headway.flags.service import FlagService
from headway.ingest import ingest
from headway.model import Change, Deployment, Service
from headway.rollouts.controller import RolloutService
from headway.rollouts.plan import PlanError, RolloutError, RolloutNotFound, State
from headway.rollouts.releases import ReleasePlanDocument, ReleasePlans
from headway.rollouts.store import list_rollouts
from headway.store import Store, audit
from headway.store import github as github_rows
from tests.rollouts.conftest import T0, Clock

PLAN = ReleasePlanDocument(
    environments=["staging", "production"],
    promote_after="2h",
    stages="50,100",
    min_duration="5m",
    min_samples=100,
)
BOOLEAN = {
    "type": "boolean",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
}


class Loop:
    """The server's loop on a settable clock: rollouts judged, then plans moved."""

    def __init__(self, store: Store, settings: Settings, clock: Clock) -> None:
        self.store, self.settings, self.clock = store, settings, clock
        self.flags = FlagService(store, clock=clock)
        self.rollouts = RolloutService(store, self.flags, clock)
        self.plans = ReleasePlans(store, self.rollouts, self.flags)

    def tick(self) -> None:
        self.rollouts.tick()
        self.plans.tick()

    def traffic(self, environment: str) -> None:
        """Enough exposures of both variants for a stage, then its five minutes."""
        for variant in ("on", "off"):
            sample = {"flag": "checkout", "variant": variant, "metric": "$exposures", "n": 200}
            self.rollouts.ingest(environment, [sample])
        self.clock.advance(minutes=5)

    def deploy(self, environment: str) -> None:
        deployment = Deployment(
            source="ci",
            source_id=f"shop-{environment}",
            service="shop",
            environment=environment,
            started_at=self.clock.now - timedelta(minutes=5),
            finished_at=self.clock.now,
        )
        ingest(self.store, self.settings, [deployment])

    def state(self, environment: str) -> str:
        flag = self.flags.require_flag("checkout")
        return environment_state(flag.environments[environment])


@pytest.fixture
def loop(store: Store, engine_settings: Settings) -> Loop:
    clock = Clock()
    loop = Loop(store, engine_settings, clock)
    loop.flags.create_flag({"key": "checkout", "owner": "ana", **BOOLEAN}, actor="github:ana")
    merged = Change(
        source="github",
        source_id="acme/shop#7",
        service="shop",
        repository="acme/shop",
        number=7,
        first_commit_at=T0 - timedelta(hours=3),
        opened_at=T0 - timedelta(hours=2),
        merged_at=T0,
    )
    ingest(store, engine_settings, [Service(name="shop"), merged])
    github_rows.put_pull_flags(store, "acme/shop", 7, "a" * 40, [("checkout", "added")], T0)
    return loop


def _moves(store: Store) -> list[tuple[str, str]]:
    return [(e.action, e.entity_id) for e in audit.entries(store, entity="release_plan")]


def test_a_plan_releases_staging_then_production_once_deployed_and_promoted(loop: Loop) -> None:
    plans, clock = loop.plans, loop.clock
    plans.set_plan("checkout", PLAN, actor="ana")
    loop.tick()  # merged, not deployed anywhere: nothing moves
    assert plans.get("checkout").state == "waiting"  # type: ignore[union-attr]
    assert loop.state("staging") == "off"

    clock.advance(hours=1)
    loop.deploy("staging")
    loop.tick()
    plan = plans.get("checkout")
    assert plan is not None
    assert (plan.state, plan.environment) == ("rolling", "staging")
    assert loop.state("staging") == "partial"  # 50 % of staging
    assert loop.state("production") == "off"

    loop.traffic("staging")
    loop.tick()  # 50 % → 100 %: the rollout completes, and the plan moves on in the same pass
    plan = plans.get("checkout")
    assert plan is not None
    assert (plan.state, plan.step, plan.environment) == ("waiting", 1, "production")
    assert plan.since == T0 + timedelta(hours=1, minutes=5)
    assert loop.state("staging") == "on"

    clock.now = T0 + timedelta(hours=2)
    loop.deploy("production")
    loop.tick()  # deployed, but staging has held it on for 55 minutes of the 2 hours
    assert plans.get("checkout").state == "waiting"  # type: ignore[union-attr]
    clock.now = T0 + timedelta(hours=3, minutes=5)
    loop.tick()
    assert plans.get("checkout").state == "rolling"  # type: ignore[union-attr]
    loop.traffic("production")
    loop.tick()
    plan = plans.get("checkout")
    assert plan is not None
    assert (plan.state, plan.reason) == ("done", "released to everyone in production")
    assert loop.state("production") == "on"

    rollouts = list_rollouts(loop.store, flag="checkout")
    assert [(r.environment, r.state) for r in rollouts] == [
        ("staging", State.COMPLETED),
        ("production", State.COMPLETED),
    ]
    assert rollouts[0].created_by == "release-plan:ana"
    assert _moves(loop.store) == [
        ("set", "checkout"),
        ("rolling", "checkout"),
        ("waiting", "checkout"),
        ("rolling", "checkout"),
        ("done", "checkout"),
    ]


def test_a_rollback_halts_the_plan_and_production_is_never_touched(loop: Loop) -> None:
    loop.plans.set_plan("checkout", PLAN, actor="ana")
    loop.deploy("staging")
    loop.tick()
    loop.rollouts.rollback("checkout", "staging", actor="bob", reason="errors on the dashboard")
    loop.deploy("production")
    loop.clock.advance(days=1)
    loop.tick()
    plan = loop.plans.get("checkout")
    assert plan is not None
    assert plan.state == "halted"
    assert plan.reason == "the rollout in staging was rolled_back: errors on the dashboard"
    assert loop.state("production") == "off"
    assert [r.environment for r in list_rollouts(loop.store, flag="checkout")] == ["staging"]


def test_two_servers_start_a_step_once(loop: Loop) -> None:
    loop.plans.set_plan("checkout", PLAN, actor="ana")
    loop.deploy("staging")
    other = ReleasePlans(loop.store, loop.rollouts, loop.flags)
    read = loop.plans.get("checkout")
    assert read is not None
    # both read the waiting plan; the first to move it starts the rollout
    assert loop.plans._advance(read) is not None
    assert other._advance(read) is None
    assert len(list_rollouts(loop.store, flag="checkout")) == 1


def test_the_default_plan_is_given_to_each_flag_a_pull_request_adds(loop: Loop) -> None:
    loop.clock.advance(minutes=1)
    loop.plans.set_plan("*", PLAN, actor="lead")
    loop.clock.advance(minutes=1)
    loop.flags.create_flag({"key": "search-v2", "owner": "ana", **BOOLEAN}, actor="github:ana")
    github_rows.put_pull_flags(
        loop.store, "acme/shop", 8, "b" * 40, [("search-v2", "added")], loop.clock.now
    )
    loop.tick()
    adopted = loop.plans.get("search-v2")
    assert adopted is not None
    assert (adopted.document, adopted.state, adopted.created_by) == (
        PLAN,
        "waiting",
        "lead (via *)",
    )
    assert loop.plans.get("checkout") is None  # added before the default was set


@pytest.mark.parametrize(
    ("flag", "document", "error", "says"),
    [
        ("nope", {"environments": ["production"]}, RolloutNotFound, "does not exist"),
        ("checkout", {"environments": ["prod"]}, PlanError, "has no environment 'prod'"),
        ("*", {"environments": ["qa"]}, PlanError, "Headway has no environment 'qa'"),
        ("checkout", {"environments": ["production"], "stages": "10,50"}, PlanError, "stop at 50%"),
        (
            "checkout",
            {"environments": ["production"], "guardrails": ["errors:rate"]},
            PlanError,
            "guardrail",
        ),
    ],
)
def test_a_plan_that_cannot_run_is_refused_naming_what_to_change(
    loop: Loop, flag: str, document: dict[str, Any], error: type[Exception], says: str
) -> None:
    with pytest.raises(error, match=says):
        loop.plans.set_plan(flag, ReleasePlanDocument.model_validate(document), actor="ana")
    assert loop.plans.plans() == []


def test_a_plan_mid_rollout_is_not_replaced(loop: Loop) -> None:
    loop.plans.set_plan("checkout", PLAN, actor="ana")
    loop.deploy("staging")
    loop.tick()
    with pytest.raises(RolloutError, match="is rolling out in staging"):
        loop.plans.set_plan("checkout", PLAN, actor="ana")


def test_bad_documents_name_the_field() -> None:
    for document, says in (
        ({"environments": []}, "environments"),
        ({"environments": ["a", "a"]}, "listed twice"),
        ({"environments": ["production"], "promote_after": "soon"}, "not like 30s"),
        ({"environments": ["production"], "surprise": 1}, "surprise"),
    ):
        with pytest.raises(ValueError, match=says):
            ReleasePlanDocument.model_validate(document)


def test_http_sets_lists_and_cancels_plans_and_refuses_bad_ones(
    loop: Loop, engine_settings: Settings
) -> None:
    with TestClient(create_app(engine_settings)) as http:
        _, secret = http.app.state.tokens.create("editor", name="release-manager", actor="ana")
        http.headers["Authorization"] = f"Bearer {secret}"
        body = {"environments": ["staging", "production"], "promote_after": "2h"}
        made = http.put("/api/release-plans/checkout", json=body)
        assert made.status_code == 200, made.text
        assert made.json()["state"] == "waiting"
        assert made.json()["reason"] == (
            "waiting for a deployment to staging that carries the flag's code"
        )
        assert made.json()["created_by"] == "token:release-manager"
        listed = http.get("/api/release-plans").json()
        assert [(p["flag"], p["environments"]) for p in listed] == [
            ("checkout", ["staging", "production"])
        ]
        for path, sent, status, says in (
            ("nope", body, 404, "flag 'nope' does not exist"),
            ("checkout", {"environments": ["prod"]}, 422, "has no environment 'prod'"),
            ("checkout", {"environments": ["Prod"]}, 422, "not an environment key"),
            ("checkout", {**body, "promote_after": "soon"}, 422, "not like 30s"),
            ("checkout", {**body, "min_samples": -1}, 422, "min_samples"),
            ("bad key!", body, 422, "flag"),
        ):
            answer = http.put(f"/api/release-plans/{path}", json=sent)
            assert answer.status_code == status, (path, sent, answer.text)
            assert says in answer.text, answer.text
        assert http.get("/api/release-plans/nope").status_code == 404
        assert http.delete("/api/release-plans/checkout").status_code == 200
        assert http.delete("/api/release-plans/checkout").status_code == 404
        assert http.get("/api/release-plans").json() == []


def test_an_environment_released_by_hand_is_not_rolled_out_again(loop: Loop) -> None:
    # staging was switched on for everyone by hand before the deployment reached it
    loop.flags.set_enabled("checkout", "staging", True, actor="bob")
    assert loop.state("staging") == "on"
    loop.plans.set_plan("checkout", PLAN, actor="ana")
    loop.clock.advance(minutes=10)
    loop.deploy("staging")
    loop.tick()
    plan = loop.plans.get("checkout")
    assert plan is not None
    assert (plan.state, plan.step, plan.since) == ("waiting", 1, T0 + timedelta(minutes=10))
    assert plan.reason.startswith("staging already served everyone; production starts 2h later")
    assert list_rollouts(loop.store, flag="checkout") == []
