"""The rollout controller: starts, judges, advances, pauses and rolls back rollouts.

All state lives in the store, so a restarted server picks up where it stopped: `tick()` reads
the active rollouts, judges each on the samples received so far, and acts. Flag changes go
through a `FlagControl` (the flags service), every move is a `rollout_events` row, and the
outcome is delivery evidence: a completed rollout is a `release` deployment; a rollback is a
release that failed plus the rollback deployment that recovered it (`delivery`).

The checks of a stage are in `judging`, incoming samples are read by `intake`, and the
confidence signals over all rollouts by `confidence`; this module decides and moves.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from headway.config import Settings, get_settings
from headway.flags.model import Flag, Serve
from headway.ingest import ingest
from headway.model import Approval, Deployment
from headway.outbound import OutboundPolicy, OutboundRefused, guarded_client
from headway.rollouts import delivery, judging
from headway.rollouts.admission import admit
from headway.rollouts.confidence import confidence_signals
from headway.rollouts.delivery import CONTROLLER
from headway.rollouts.intake import sample_records
from headway.rollouts.plan import PlanError, RolloutError, RolloutNotFound, RolloutPlan, State
from headway.rollouts.prometheus import PrometheusError
from headway.rollouts.store import (
    Rollout,
    RolloutEvent,
    active_rollout,
    json_number,
    list_rollouts,
    record_event,
    rollout_status,
)
from headway.rollouts.verdicts import Action, Decision, Verdict
from headway.store import Store
from headway.store.locks import Exclusive, exclusively

__all__ = ["FlagControl", "RolloutService"]


log = logging.getLogger("headway.rollouts")


class FlagControl(Protocol):
    """What the controller needs from the flags service."""

    def get_flag(self, key: str) -> Flag | None: ...

    def set_default_serve(
        self, key: str, environment: str, serve: Serve, *, actor: str, reason: str
    ) -> None: ...


class RolloutService:
    def __init__(
        self,
        store: Store,
        flags: FlagControl,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        settings: Settings | None = None,
        prometheus: httpx.Client | None = None,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self.store = store
        self.flags = flags
        self.clock = clock
        self.settings = settings
        self._prometheus = prometheus
        self._outbound = outbound
        self.exclusive = Exclusive(store, "headway.rollouts")

    @property
    def outbound(self) -> OutboundPolicy:
        """Where Prometheus URLs may point (HEADWAY_OUTBOUND_HOSTS), read when first needed."""
        if self._outbound is None:
            self._outbound = OutboundPolicy.from_settings(self.settings or get_settings())
        return self._outbound

    # -- commands ---------------------------------------------------------------------------
    @exclusively
    def start(self, plan: RolloutPlan, *, actor: str, force: bool = False) -> Rollout:
        """Start `plan`, its releases counted for the flag's service (`owner`); one that would
        replace more than the control variant served to everyone needs `force`."""
        admitted = admit(self.store, plan, self._flag(plan), force=force)
        plan, unknown, replaced = admitted.plan, admitted.waits_for, admitted.replaced
        if plan.prometheus_url:
            try:
                self.outbound.check_url(plan.prometheus_url, "prometheus_url")
            except OutboundRefused as error:
                raise PlanError(str(error)) from None
        now = self.clock()
        rollout = Rollout(
            flag=plan.flag,
            environment=plan.environment,
            service=plan.service,
            plan=plan.to_json(),
            state=State.RUNNING,
            stage_index=0,
            stage_started_at=now,
            started_at=now,
            reason="",
            created_by=actor,
            updated_at=now,
        )
        self._serve(rollout, plan.serve_at(0), actor, "rollout stage 1")
        with self.store.transaction():
            self.store.write([rollout])
            note = plan.describe() + (f"; stage 1 waits for {', '.join(unknown)}" * bool(unknown))
            note += f"; replaces {replaced}" * bool(replaced)
            record_event(self.store, rollout, "started", actor, note, now)
        return rollout

    def replaces(self, plan: RolloutPlan) -> str | None:
        """What starting `plan` would take the place of (see `RolloutPlan.replaces`)."""
        return plan.replaces(self._flag(plan))

    def _flag(self, plan: RolloutPlan) -> Flag:
        flag = self.flags.get_flag(plan.flag)
        if flag is None:
            raise RolloutNotFound(f"flag {plan.flag!r} does not exist; create it first")
        plan.check_flag(flag)
        return flag

    @exclusively
    def pause(self, flag: str, environment: str, *, actor: str, reason: str = "") -> Rollout:
        rollout = self._active(flag, environment)
        if rollout.state == State.PAUSED:
            raise RolloutError(f"the rollout of {flag!r} in {environment} is already paused")
        return self._pause(rollout, actor, reason or f"paused by {actor}")

    @exclusively
    def resume(self, flag: str, environment: str, *, actor: str) -> Rollout:
        rollout = self._active(flag, environment)
        if rollout.state != State.PAUSED:
            raise RolloutError(f"the rollout of {flag!r} in {environment} is not paused")
        now = self.clock()
        resumed = rollout.moved(state=State.RUNNING, reason="", updated_at=now)
        self.store.write([resumed])
        record_event(self.store, resumed, "resumed", actor, f"resumed by {actor}", now)
        return resumed

    @exclusively
    def advance(self, flag: str, environment: str, *, actor: str) -> Rollout:
        """Move to the next stage now; when the rollout waits for approval, this approves."""
        rollout = self._active(flag, environment)
        if rollout.state == State.PAUSED:
            raise RolloutError(
                f"the rollout of {flag!r} in {environment} is paused ({rollout.reason}); "
                "resume it first"
            )
        now = self.clock()
        if rollout.state == State.WAITING_APPROVAL:
            self._approve(rollout, actor, now)
        return self._enter(rollout, rollout.stage_index + 1, actor, now)

    @exclusively
    def abort(self, flag: str, environment: str, *, actor: str, reason: str = "") -> Rollout:
        """Stop without judging the change harmful: exposure back to zero, nothing failed."""
        rollout = self._active(flag, environment)
        now = self.clock()
        plan = rollout.parsed_plan
        self._serve(rollout, Serve(variant=plan.control), actor, "rollout aborted")
        done = rollout.moved(
            state=State.ABORTED,
            finished_at=now,
            reason=reason or f"aborted by {actor}",
            updated_at=now,
        )
        self.store.write([done])
        record_event(self.store, done, "aborted", actor, done.reason or "", now)
        return done

    @exclusively
    def rollback(self, flag: str, environment: str, *, actor: str, reason: str = "") -> Rollout:
        rollout = self._active(flag, environment)
        return self._rollback(rollout, actor, reason or f"rolled back by {actor}", [])

    # -- telemetry ------------------------------------------------------------------------
    def ingest(
        self,
        environment: str,
        samples: Iterable[Mapping[str, Any]],
        *,
        batch: str | None = None,
        source: str = "api",
        measured: tuple[datetime, datetime] | None = None,
    ) -> int:
        """Store aggregated samples, each tagged with the live rollout stage of its flag
        (`intake.sample_records`).

        Only the caller knows whether its sender may speak for `environment` (a server key
        of that environment, an admin, Prometheus); this decides what a rollout may be
        judged on.
        """
        records = sample_records(
            self.store,
            environment,
            samples,
            batch=batch or uuid.uuid4().hex,
            source=source,
            measured=measured,
            now=self.clock(),
        )
        if records:
            self.store.write(records)
        return len(records)

    # -- the control loop -------------------------------------------------------------------
    def tick(self) -> list[Rollout]:
        """Judge every running rollout once and act on the verdicts; return those that moved.
        Another server (or thread) judging them now does this pass alone."""
        moved: list[Rollout] = []
        with self.exclusive.held(wait=False) as mine:
            for rollout in list_rollouts(self.store, active_only=True) if mine else []:
                if rollout.state == State.PAUSED:
                    continue
                after = self._judge_and_act(rollout)
                if after.state != rollout.state or after.stage_index != rollout.stage_index:
                    moved.append(after)
        return moved

    def judge(self, rollout: Rollout) -> list[Decision]:
        return judging.judge(self.store, rollout, self.clock(), self._read_prometheus)

    def _read_prometheus(self, rollout: Rollout, now: datetime) -> Decision:
        """Store each Prometheus metric's events per variant since the rollout started.

        The batch id is the rollout's, so each answer replaces the previous one. When
        Prometheus cannot answer, the stage waits (it cannot prove itself safe) rather than
        pausing: the next look tries again.
        """
        if self._prometheus is None:
            # Checked again at each request: the host may have left the allowed list, or
            # its name may now resolve somewhere else.
            self._prometheus = guarded_client(self.outbound)
        try:
            samples = judging.prometheus_samples(self._prometheus, rollout, now)
        except PrometheusError as error:
            log.warning("rollout %s: %s", rollout.id, error)
            return Decision(
                "prometheus",
                Verdict.INSUFFICIENT_DATA,
                Action.NONE,
                explanation=f"{error}. The stage waits until Prometheus answers.",
            )
        self.ingest(
            rollout.environment, samples, batch=f"prometheus:{rollout.id}", source="prometheus"
        )
        return Decision("prometheus", Verdict.PASS, Action.NONE, explanation="Prometheus read.")

    def _judge_and_act(self, rollout: Rollout) -> Rollout:
        plan = rollout.parsed_plan
        now = self.clock()
        decisions = self.judge(rollout)
        judgement = json.dumps([d.as_dict() for d in decisions], default=json_number)
        previous = json.loads(rollout.judgement) if rollout.judgement else []
        changed = [(d["check"], d["verdict"]) for d in previous] != [
            (d.check, str(d.verdict)) for d in decisions
        ]
        rollout = rollout.moved(judgement=judgement, updated_at=now)
        self.store.write([rollout])
        worst = max(decisions, key=lambda d: d.action.severity)
        objections = [d for d in decisions if d.action is not Action.NONE]
        if changed:
            kind = "warned" if worst.action is Action.WARN else "judged"
            summary = " ".join(d.explanation for d in (objections or decisions))
            record_event(self.store, rollout, kind, CONTROLLER, summary, now, decisions)
        if worst.action is Action.ROLLBACK:
            reasons = " ".join(d.explanation for d in objections if d.action is Action.ROLLBACK)
            return self._rollback(rollout, CONTROLLER, reasons, decisions)
        if worst.action is Action.PAUSE:
            reasons = " ".join(d.explanation for d in objections if d.action is Action.PAUSE)
            return self._pause(rollout, CONTROLLER, reasons, decisions)
        if rollout.state != State.RUNNING or not judging.stage_done(
            self.store, rollout, decisions, now
        ):
            return rollout
        following = plan.stages[rollout.stage_index + 1]
        if following.approval:
            waiting = rollout.moved(state=State.WAITING_APPROVAL, waiting_since=now)
            self.store.write([waiting])
            record_event(
                self.store,
                waiting,
                "approval_requested",
                CONTROLLER,
                f"stage {rollout.stage_index + 1} passed its checks; entering "
                f"{following.percent:g}% needs approval (headway rollout advance)",
                now,
            )
            return waiting
        return self._enter(rollout, rollout.stage_index + 1, CONTROLLER, now)

    # -- moves --------------------------------------------------------------------------------
    def _enter(self, rollout: Rollout, index: int, actor: str, now: datetime) -> Rollout:
        plan = rollout.parsed_plan
        if index >= len(plan.stages):
            raise RolloutError("the rollout is already at its last stage")
        percent = plan.stages[index].percent
        self._serve(rollout, plan.serve_at(index), actor, f"rollout stage {index + 1}")
        if percent >= 100:
            done = rollout.moved(
                state=State.COMPLETED,
                stage_index=index,
                stage_started_at=now,
                finished_at=now,
                updated_at=now,
            )
            release = delivery.release(done, now, evidence=None)
            with self.store.transaction():
                self.store.write([done])
                self._deliver([release])
                record_event(
                    self.store,
                    done,
                    "completed",
                    actor,
                    f"{plan.treatment!r} now serves everyone in {plan.environment}; "
                    f"recorded as release {release.id}",
                    now,
                )
            return done
        moved = rollout.moved(
            state=State.RUNNING, stage_index=index, stage_started_at=now, updated_at=now
        )
        self.store.write([moved])
        record_event(
            self.store, moved, "advanced", actor, f"stage {index + 1}: {percent:g}% of traffic", now
        )
        return moved

    def _pause(
        self, rollout: Rollout, actor: str, reason: str, decisions: list[Decision] | None = None
    ) -> Rollout:
        now = self.clock()
        paused = rollout.moved(state=State.PAUSED, reason=reason, updated_at=now)
        self.store.write([paused])
        record_event(self.store, paused, "paused", actor, reason, now, decisions)
        return paused

    def _rollback(
        self, rollout: Rollout, actor: str, reason: str, decisions: list[Decision]
    ) -> Rollout:
        """Exposure to zero first, then the records: users are protected before bookkeeping."""
        now = self.clock()
        plan = rollout.parsed_plan
        self._serve(rollout, Serve(variant=plan.control), actor, "rollback")
        done = rollout.moved(
            state=State.ROLLED_BACK, finished_at=now, reason=reason, updated_at=now
        )
        release = delivery.release(done, rollout.started_at, evidence=reason)
        recovery = delivery.recovery(rollout, release.id, actor, reason, now)
        with self.store.transaction():
            self.store.write([done])
            self._deliver([release, recovery])
            record_event(self.store, done, "rolled_back", actor, reason, now, decisions)
        return done

    def _approve(self, rollout: Rollout, actor: str, now: datetime) -> None:
        asked = rollout.waiting_since or now
        waited = max((now - asked).total_seconds(), 0.0)
        self._deliver([delivery.stage_approval(rollout, actor, asked, now)])
        record_event(
            self.store,
            rollout,
            "approved",
            actor,
            f"approved by {actor} after waiting {waited / 60:.1f} minutes",
            now,
            extra={"waited_s": waited},
        )

    def _deliver(self, records: list[Deployment | Approval]) -> None:
        """Delivery evidence goes in like any source's records: written, then linked."""
        ingest(self.store, self.settings or get_settings(), records)

    def _serve(self, rollout: Rollout, serve: Serve, actor: str, reason: str) -> None:
        self.flags.set_default_serve(
            rollout.flag, rollout.environment, serve, actor=actor, reason=reason
        )

    def _active(self, flag: str, environment: str) -> Rollout:
        rollout = active_rollout(self.store, flag, environment)
        if rollout is None:
            raise RolloutNotFound(
                f"no rollout of {flag!r} is in progress in {environment}; "
                "start one with `headway rollout start`"
            )
        return rollout

    # -- reading --------------------------------------------------------------------------------
    def status(
        self, flag: str, environment: str, rollout_id: str | None = None
    ) -> tuple[Rollout, list[RolloutEvent]]:
        """The rollout in progress (else the latest), or the one `rollout_id` names."""
        return rollout_status(self.store, flag, environment, rollout_id)

    def signals(self) -> dict[str, Any]:
        """Rollout confidence signals over every rollout in the store."""
        return confidence_signals(self.store)
