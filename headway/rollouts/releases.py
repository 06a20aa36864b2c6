"""Release plans: a flag goes from off to everyone by itself, environment by environment,
once the code behind it is deployed there.

A plan names its environments in order (say staging, then production), the rollout each
gets (stages, guardrails, minimum duration and samples, as `headway rollout start` takes
them), and `promote_after`: how long an environment must have had the flag fully on, with no
rollback since, before the next one starts. The plan `*` is given to each flag a pull request
adds from the moment it is set (the GitHub App creates such flags off).

A plan is in one of four states, moved by `tick()` (the server runs it beside the rollout
controller, so it lives in the store and survives restarts):

- `waiting` for step *k*: its environment starts when a successful deployment there carries
  a pull request that added or used the flag and, after the first step, once `promote_after`
  has passed since the previous environment completed and the flag still serves everyone
  there. Starting switches the flag on serving its off variant (nobody sees a change), then
  starts the rollout of its other variant.
- `rolling`: the rollout runs; the rollout controller judges and moves it.
- `done`: the last environment's rollout completed: the flag is released.
- `halted`: a rollout was rolled back or aborted, or could not start; the reason says which.
  Setting the plan again starts it over.

Each move is a conditional update of the version it read: of several servers on one store,
one makes it (`store.release_plans.move`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from headway.flags.lifecycle import environment_state
from headway.flags.model import Flag, Serve
from headway.rollouts.controller import RolloutService
from headway.rollouts.plan import (
    PlanError,
    RolloutError,
    RolloutNotFound,
    State,
    parse_duration,
)
from headway.rollouts.release_plan import (
    ACTOR,
    EVERY_NEW_FLAG,
    PlanState,
    ReleasePlanDocument,
    StoredPlan,
    stored_plan,
)
from headway.rollouts.store import aware, list_rollouts
from headway.store import Store, audit
from headway.store import release_plans as rows

__all__ = [
    "ACTOR",
    "EVERY_NEW_FLAG",
    "PlanState",
    "ReleasePlanDocument",
    "ReleasePlans",
    "StoredPlan",
]


class FlagSwitch(Protocol):
    """What a plan needs from the flags service."""

    def get_flag(self, key: str) -> Flag | None: ...
    def environment_keys(self) -> list[str]: ...
    def set_enabled(self, key: str, environment: str, enabled: bool, *, actor: str) -> Flag: ...
    def set_default_serve(
        self, key: str, environment: str, serve: Serve, *, actor: str, reason: str
    ) -> None: ...


class ReleasePlans:
    def __init__(
        self,
        store: Store,
        rollouts: RolloutService,
        flags: FlagSwitch,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.rollouts = rollouts
        self.flags = flags
        self.clock = clock or rollouts.clock

    # -- commands ---------------------------------------------------------------------------
    def set_plan(self, flag: str, document: ReleasePlanDocument, *, actor: str) -> StoredPlan:
        """Set (or replace) `flag`'s plan, waiting for its first environment."""
        document.check()
        if flag == EVERY_NEW_FLAG:
            known, whose = set(self.flags.environment_keys()), "Headway"
        else:
            stored = self.flags.get_flag(flag)
            if stored is None:
                raise RolloutNotFound(f"flag {flag!r} does not exist; create it first")
            known, whose = set(stored.environments), f"flag {flag!r}"
        missing = [e for e in document.environments if e not in known]
        if missing:
            raise PlanError(
                f"{whose} has no environment {', '.join(map(repr, missing))} "
                f"(it has {', '.join(sorted(known)) or 'none'})"
            )
        earlier = self.get(flag)
        if earlier is not None and earlier.state == "rolling":
            raise RolloutError(
                f"the plan of {flag!r} is rolling out in {earlier.environment}; let that "
                "rollout finish, or roll it back, before setting a new plan"
            )
        now = self.clock()
        first = document.environments[0]
        reason = f"waiting for a deployment to {first} that carries the flag's code"
        if flag == EVERY_NEW_FLAG:
            reason = "given to each flag a pull request adds from now on"
        with self.store.transaction():
            rows.delete_plan(self.store, flag)
            rows.insert_plan(
                self.store,
                flag=flag,
                document=document.model_dump_json(),
                state="waiting",
                step=0,
                since=now,
                reason=reason,
                version=1,
                created_by=actor,
                created_at=now,
                updated_at=now,
            )
            self._audit(actor, flag, "set", earlier, document.model_dump(), now)
        plan = self.get(flag)
        assert plan is not None
        return plan

    def cancel(self, flag: str, *, actor: str) -> StoredPlan:
        """Remove `flag`'s plan; a rollout it started goes on under the rollout controller."""
        plan = self.get(flag)
        if plan is None:
            raise RolloutNotFound(f"flag {flag!r} has no release plan")
        now = self.clock()
        with self.store.transaction():
            rows.delete_plan(self.store, flag)
            self._audit(actor, flag, "cancelled", plan, None, now)
        return plan

    def get(self, flag: str) -> StoredPlan | None:
        row = rows.one(self.store, flag)
        return stored_plan(row) if row else None

    def plans(self) -> list[StoredPlan]:
        return [stored_plan(row) for row in rows.plans(self.store)]

    # -- the loop ---------------------------------------------------------------------------
    def tick(self) -> list[StoredPlan]:
        """Give new flags the `*` plan, then move every plan that can move; return those moved."""
        self._adopt()
        moved = []
        for plan in self.plans():
            if plan.flag == EVERY_NEW_FLAG or plan.state in ("done", "halted"):
                continue
            after = self._advance(plan) if plan.state == "waiting" else self._follow(plan)
            if after is not None:
                moved.append(after)
        return moved

    def _adopt(self) -> None:
        default = self.get(EVERY_NEW_FLAG)
        if default is None:
            return
        for flag in rows.added_without_plan(self.store, default.created_at):
            stored = self.flags.get_flag(flag)
            if stored is None or any(
                e not in stored.environments for e in default.document.environments
            ):
                continue
            try:
                self.set_plan(flag, default.document, actor=f"{default.created_by} (via *)")
            except PlanError:
                continue

    def _advance(self, plan: StoredPlan) -> StoredPlan | None:
        """Start the waiting step's rollout when its environment may start."""
        environment, now = plan.environment, self.clock()
        flag = self.flags.get_flag(plan.flag)
        if flag is None or flag.archived:
            return self._move(plan, "halted", plan.step, f"flag {plan.flag!r} is gone")
        carried = rows.carried(self.store, plan.flag, environment)
        if carried is None:
            return None
        if plan.step > 0:
            previous = plan.document.environments[plan.step - 1]
            prior = flag.environments.get(previous)
            if prior is None or environment_state(prior) != "on":
                return self._move(
                    plan,
                    "halted",
                    plan.step,
                    f"the flag no longer serves everyone in {previous}; not promoted to "
                    f"{environment}",
                )
            if now - plan.since < timedelta(seconds=parse_duration(plan.document.promote_after)):
                return None
        here = flag.environments.get(environment)
        if here is not None and environment_state(here) == "on":  # released by hand already
            return self._step_done(plan, f"{environment} already served everyone", now)
        moved = self._move(plan, "rolling", plan.step, f"rolling out in {environment}")
        if moved is None:
            return None  # another server started it
        try:
            self._start(moved, flag, service=plan.document.service or carried[1])
        except PlanError as error:
            return self._move(moved, "halted", moved.step, f"could not start: {error}")
        return moved

    def _start(self, plan: StoredPlan, flag: Flag, *, service: str) -> None:
        """Roll the flag out in the plan's environment, its releases counted for `service`
        (the plan's, else the service whose deployment carried the code)."""
        environment = plan.environment
        env = flag.environments[environment]
        control = env.off_variant
        others = [v.key for v in flag.variants if v.key != control]
        treatment = plan.document.treatment or (others[0] if len(others) == 1 else None)
        if treatment is None:
            raise PlanError(
                f"flag {plan.flag!r} has variants {', '.join(others)} besides its off "
                "variant; name the one to release (treatment)"
            )
        actor = f"{ACTOR}:{plan.created_by}"
        if not env.enabled:  # on, serving the off variant: nobody sees a change yet
            reason = "release plan: switched on serving the off variant before the rollout"
            self.flags.set_default_serve(
                plan.flag, environment, Serve(variant=control), actor=actor, reason=reason
            )
            self.flags.set_enabled(plan.flag, environment, True, actor=actor)
        rollout = plan.document.rollout(plan.flag, environment, treatment, control, service)
        self.rollouts.start(rollout, actor=actor)

    def _follow(self, plan: StoredPlan) -> StoredPlan | None:
        """Follow the rolling step's rollout to its end."""
        environment = plan.environment
        started = [
            r
            for r in list_rollouts(self.store, flag=plan.flag)
            if r.environment == environment and r.started_at >= plan.since - timedelta(seconds=1)
        ]
        if not started:
            return self._move(plan, "halted", plan.step, f"its rollout in {environment} is gone")
        rollout = started[-1]
        if rollout.state == State.COMPLETED:
            done = aware(rollout.finished_at) or self.clock()
            return self._step_done(plan, f"completed in {environment}", done)
        if rollout.state in (State.ROLLED_BACK, State.ABORTED):
            why = f": {rollout.reason}" if rollout.reason else ""
            return self._move(
                plan, "halted", plan.step, f"the rollout in {environment} was {rollout.state}{why}"
            )
        return None

    def _step_done(self, plan: StoredPlan, what: str, at: datetime) -> StoredPlan | None:
        """The step's environment serves everyone (since `at`): done, or wait for the next."""
        environment = plan.environment
        if plan.step == len(plan.document.environments) - 1:
            return self._move(plan, "done", plan.step, f"released to everyone in {environment}")
        following = plan.document.environments[plan.step + 1]
        return self._move(
            plan,
            "waiting",
            plan.step + 1,
            f"{what}; {following} starts {plan.document.promote_after} later, once a "
            "deployment there carries the code",
            since=at,
        )

    def _move(
        self,
        plan: StoredPlan,
        state: PlanState,
        step: int,
        reason: str,
        since: datetime | None = None,
    ) -> StoredPlan | None:
        """Move `plan` if no other server did first; the plan as moved, or None."""
        now = self.clock()
        with self.store.transaction():
            if not rows.move(
                self.store,
                plan.flag,
                plan.version,
                state=state,
                step=step,
                since=since or now,
                reason=reason,
                at=now,
            ):
                return None
            after = {"state": state, "environment": plan.document.environments[step], "why": reason}
            audit.append(
                self.store,
                actor=ACTOR,
                entity="release_plan",
                entity_id=plan.flag,
                action=state,
                before={"state": plan.state, "environment": plan.environment},
                after=after,
                at=now,
            )
        return self.get(plan.flag)

    def _audit(
        self,
        actor: str,
        flag: str,
        action: str,
        before: StoredPlan | None,
        after: Any,
        at: datetime,
    ) -> None:
        audit.append(
            self.store,
            actor=actor,
            entity="release_plan",
            entity_id=flag,
            action=action,
            before=json.loads(before.document.model_dump_json()) if before else None,
            after=after,
            at=at,
        )
