"""The rollout controller: starts, judges, advances, pauses and rolls back rollouts.

All state lives in the store, so a restarted server picks up where it stopped: `tick()` reads
the active rollouts, judges each on the samples received so far, and acts. Flag changes go
through a `FlagControl` (the flags service), every move is a `rollout_events` row, and the
outcome is delivery evidence: a completed rollout is a `release` deployment; a rollback is a
release that failed plus the rollback deployment that recovered it.
"""

from __future__ import annotations

import json
import logging
import math
import statistics
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from headway.config import Settings, get_settings
from headway.flags.model import Flag, Serve, Split, WeightedVariant
from headway.ingest import ingest
from headway.model import Approval, ApprovalKind, Deployment, DeploymentKind
from headway.outbound import OutboundPolicy, OutboundRefused, guarded_client
from headway.rollouts.guardrails import judge_guardrail
from headway.rollouts.plan import ACTIVE_STATES, PlanError, RolloutPlan, State
from headway.rollouts.prometheus import PrometheusError, events_since
from headway.rollouts.samples import check_sample
from headway.rollouts.store import (
    EXPOSURES,
    GuardrailSample,
    Rollout,
    RolloutEvent,
    active_rollout,
    events_of,
    known_metrics,
    list_rollouts,
    next_seq,
    stage_exposures,
    variant_stats,
)
from headway.rollouts.traffic import check_srm, check_traffic
from headway.rollouts.verdicts import METRIC_RE, Action, Decision, Verdict
from headway.store import Store

__all__ = ["SOURCE", "FlagControl", "RolloutError", "RolloutNotFound", "RolloutService"]

SOURCE = "headway"  # `source` of the deployments and approvals rollouts write
CONTROLLER = "headway"  # the actor recorded for the controller's own moves

log = logging.getLogger("headway.rollouts")


class RolloutError(PlanError):
    """A rollout command that conflicts with the rollout's state."""


class RolloutNotFound(RolloutError):
    pass


class FlagControl(Protocol):
    """What the controller needs from the flags service."""

    def get_flag(self, key: str) -> Flag | None: ...

    def set_default_serve(
        self, key: str, environment: str, serve: Serve, *, actor: str, reason: str
    ) -> None: ...


def _split(control: str, treatment: str, percent: float) -> Serve:
    if percent >= 100:
        return Serve(variant=treatment)
    return Serve(
        split=Split(
            weights=[
                WeightedVariant(variant=control, weight=round(100 - percent, 3)),
                WeightedVariant(variant=treatment, weight=round(percent, 3)),
            ]
        )
    )


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

    @property
    def outbound(self) -> OutboundPolicy:
        """Where Prometheus URLs may point (HEADWAY_OUTBOUND_HOSTS), read when first needed."""
        if self._outbound is None:
            self._outbound = OutboundPolicy.from_settings(self.settings or get_settings())
        return self._outbound

    # -- commands ---------------------------------------------------------------------------
    def start(self, plan: RolloutPlan, *, actor: str) -> Rollout:
        flag = self.flags.get_flag(plan.flag)
        if flag is None:
            raise RolloutNotFound(f"flag {plan.flag!r} does not exist; create it first")
        env = flag.environments.get(plan.environment)
        if env is None:
            raise PlanError(
                f"flag {plan.flag!r} has no environment {plan.environment!r} "
                f"(it has {', '.join(sorted(flag.environments)) or 'none'})"
            )
        variants = {v.key for v in flag.variants}
        for role, key in (("treatment", plan.treatment), ("control", plan.control)):
            if key not in variants:
                raise PlanError(
                    f"{role} variant {key!r} is not a variant of {plan.flag!r} "
                    f"(variants: {', '.join(sorted(variants))})"
                )
        if not env.enabled:
            raise PlanError(
                f"flag {plan.flag!r} is off in {plan.environment}: a rollout changes what an "
                "enabled flag serves; turn it on (serving the control variant) first"
            )
        if plan.prometheus_url:
            try:
                self.outbound.check_url(plan.prometheus_url, "prometheus_url")
            except OutboundRefused as error:
                raise PlanError(str(error)) from None
        running = active_rollout(self.store, plan.flag, plan.environment)
        if running is not None:
            raise RolloutError(
                f"flag {plan.flag!r} is already rolling out in {plan.environment} "
                f"({running.state} at {running.percent:g}%); abort or finish it first"
            )
        known = known_metrics(self.store, plan.environment)
        known |= {metric for metric, _ in plan.prometheus_queries}
        unknown = sorted({g.metric for g in plan.guardrails} - known)
        if unknown:
            raise PlanError(
                f"guardrail metric(s) {', '.join(unknown)} have never reached Headway for "
                f"{plan.environment}; known metrics: {', '.join(sorted(known)) or 'none yet'}. "
                "Check the spelling, or send the metric first (SDK client.track() or "
                "POST /api/rollouts/samples)"
            )
        now = self.clock()
        rollout = Rollout(
            flag=plan.flag,
            environment=plan.environment,
            service=plan.service or plan.flag,
            plan=plan.to_json(),
            state=State.RUNNING,
            stage_index=0,
            stage_started_at=now,
            started_at=now,
            reason="",
            created_by=actor,
            updated_at=now,
        )
        self._serve(rollout, _serve_at(plan, 0), actor, "rollout stage 1")
        with self.store.transaction():
            self.store.write([rollout])
            self._event(rollout, "started", actor, self._started_text(plan), now)
        return rollout

    def pause(self, flag: str, environment: str, *, actor: str, reason: str = "") -> Rollout:
        rollout = self._active(flag, environment)
        if rollout.state == State.PAUSED:
            raise RolloutError(f"the rollout of {flag!r} in {environment} is already paused")
        return self._pause(rollout, actor, reason or f"paused by {actor}")

    def resume(self, flag: str, environment: str, *, actor: str) -> Rollout:
        rollout = self._active(flag, environment)
        if rollout.state != State.PAUSED:
            raise RolloutError(f"the rollout of {flag!r} in {environment} is not paused")
        now = self.clock()
        resumed = rollout.moved(state=State.RUNNING, reason="", updated_at=now)
        self.store.write([resumed])
        self._event(resumed, "resumed", actor, f"resumed by {actor}", now)
        return resumed

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
        self._event(done, "aborted", actor, done.reason or "", now)
        return done

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
        """Store aggregated samples, each tagged with the live rollout stage of its flag.

        Only the caller knows whether its sender may speak for `environment` (a server key
        of that environment, an admin, Prometheus); this decides what a rollout may be
        judged on. A sample is its flag's rollout's only when it is about a variant the
        rollout serves and, when the sender says when it was `measured` (from, to), when
        that window reaches past the rollout's start: samples of other variants, or counted
        before the rollout began, are stored but judge nothing.
        """
        batch = batch or uuid.uuid4().hex
        now = self.clock()
        live: dict[str, Rollout | None] = {}
        records = []
        for i, sample in enumerate(samples):
            flag, variant, metric = (
                _text(sample, "flag", i),
                _text(sample, "variant", i),
                _text(sample, "metric", i),
            )
            if metric != EXPOSURES and not METRIC_RE.match(metric):
                raise PlanError(f"samples[{i}].metric {metric!r} is not a metric name")
            n, total, sumsq = (_number(sample, k, i) for k in ("n", "total", "sumsq"))
            check_sample(i, n, total, sumsq)
            if flag not in live:
                live[flag] = active_rollout(self.store, flag, environment)
            rollout = live[flag]
            if rollout is not None and not _belongs(rollout, variant, measured):
                rollout = None
            records.append(
                GuardrailSample(
                    batch=batch,
                    environment=environment,
                    flag=flag,
                    variant=variant,
                    metric=metric,
                    n=n,
                    total=total,
                    sumsq=sumsq,
                    received_at=now,
                    source=source,
                    rollout_id=rollout.id if rollout else None,
                    stage_index=rollout.stage_index if rollout else None,
                )
            )
        if records:
            self.store.write(records)
        return len(records)

    # -- the control loop -------------------------------------------------------------------
    def tick(self) -> list[Rollout]:
        """Judge every running rollout once and act on the verdicts; return those that moved."""
        moved = []
        for rollout in list_rollouts(self.store, active_only=True):
            if rollout.state == State.PAUSED:
                continue
            after = self._judge_and_act(rollout)
            if after.state != rollout.state or after.stage_index != rollout.stage_index:
                moved.append(after)
        return moved

    def judge(self, rollout: Rollout) -> list[Decision]:
        plan = rollout.parsed_plan
        now = self.clock()
        variants = (plan.treatment, plan.control)
        n_t, n_c = stage_exposures(self.store, rollout, variants)
        elapsed = (now - rollout.stage_started_at).total_seconds()
        decisions = [check_traffic(n_t, n_c, elapsed, plan.traffic_window_s)]
        share = plan.stages[rollout.stage_index].percent / 100
        if 0 < share < 1:
            decisions.append(check_srm(n_t, n_c, share, alpha=plan.srm_alpha))
        if plan.prometheus_queries:
            decisions.append(self._read_prometheus(rollout, now))
        for guardrail in plan.guardrails:
            treatment, control = variant_stats(
                self.store, rollout, guardrail.metric, guardrail.kind, variants
            )
            decisions.append(
                judge_guardrail(
                    guardrail,
                    treatment,
                    control,
                    alpha=plan.guardrail_alpha,
                    min_samples=plan.min_samples,
                )
            )
        return decisions

    def _read_prometheus(self, rollout: Rollout, now: datetime) -> Decision:
        """Store each Prometheus metric's events per variant since the rollout started.

        The batch id is the rollout's, so each answer replaces the previous one. When
        Prometheus cannot answer, the stage waits (it cannot prove itself safe) rather than
        pausing: the next look tries again.
        """
        plan = rollout.parsed_plan
        if self._prometheus is None:
            # Checked again at each request: the host may have left the allowed list, or
            # its name may now resolve somewhere else.
            self._prometheus = guarded_client(self.outbound)
        samples = []
        try:
            for metric, query in plan.prometheus_queries:
                for variant in (plan.treatment, plan.control):
                    events = events_since(
                        self._prometheus,
                        plan.prometheus_url,
                        query,
                        variant,
                        rollout.started_at,
                        now,
                    )
                    samples.append(
                        {
                            "flag": plan.flag,
                            "variant": variant,
                            "metric": metric,
                            "n": events,
                            "total": events,
                            "sumsq": events,
                        }
                    )
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
        judgement = json.dumps([d.as_dict() for d in decisions], default=_json_number)
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
            self._event(rollout, kind, CONTROLLER, summary, now, decisions)
        if worst.action is Action.ROLLBACK:
            reasons = " ".join(d.explanation for d in objections if d.action is Action.ROLLBACK)
            return self._rollback(rollout, CONTROLLER, reasons, decisions)
        if worst.action is Action.PAUSE:
            reasons = " ".join(d.explanation for d in objections if d.action is Action.PAUSE)
            return self._pause(rollout, CONTROLLER, reasons, decisions)
        if rollout.state != State.RUNNING or not self._stage_done(rollout, decisions, now):
            return rollout
        following = plan.stages[rollout.stage_index + 1]
        if following.approval:
            waiting = rollout.moved(state=State.WAITING_APPROVAL, waiting_since=now)
            self.store.write([waiting])
            self._event(
                waiting,
                "approval_requested",
                CONTROLLER,
                f"stage {rollout.stage_index + 1} passed its checks; entering "
                f"{following.percent:g}% needs approval (headway rollout advance)",
                now,
            )
            return waiting
        return self._enter(rollout, rollout.stage_index + 1, CONTROLLER, now)

    def _stage_done(self, rollout: Rollout, decisions: list[Decision], now: datetime) -> bool:
        plan = rollout.parsed_plan
        elapsed = (now - rollout.stage_started_at).total_seconds()
        n_t, _ = stage_exposures(self.store, rollout, (plan.treatment, plan.control))
        judged = all(d.verdict is Verdict.PASS for d in decisions)
        return elapsed >= plan.min_duration_s and n_t >= plan.min_samples and judged

    # -- moves --------------------------------------------------------------------------------
    def _enter(self, rollout: Rollout, index: int, actor: str, now: datetime) -> Rollout:
        plan = rollout.parsed_plan
        if index >= len(plan.stages):
            raise RolloutError("the rollout is already at its last stage")
        percent = plan.stages[index].percent
        self._serve(rollout, _serve_at(plan, index), actor, f"rollout stage {index + 1}")
        if percent >= 100:
            done = rollout.moved(
                state=State.COMPLETED,
                stage_index=index,
                stage_started_at=now,
                finished_at=now,
                updated_at=now,
            )
            release = self._release(done, now, evidence=None)
            with self.store.transaction():
                self.store.write([done])
                self._deliver([release])
                self._event(
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
        self._event(moved, "advanced", actor, f"stage {index + 1}: {percent:g}% of traffic", now)
        return moved

    def _pause(
        self, rollout: Rollout, actor: str, reason: str, decisions: list[Decision] | None = None
    ) -> Rollout:
        now = self.clock()
        paused = rollout.moved(state=State.PAUSED, reason=reason, updated_at=now)
        self.store.write([paused])
        self._event(paused, "paused", actor, reason, now, decisions)
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
        release = self._release(done, rollout.started_at, evidence=reason)
        recovery = Deployment(
            source=SOURCE,
            source_id=f"rollout/{rollout.id}/rollback",
            service=rollout.service,
            environment=rollout.environment,
            started_at=now,
            finished_at=now,
            status="success",
            kind=DeploymentKind.ROLLBACK.value,
            version=f"{plan.flag}={plan.control}",
            trigger="rollout",
            recovers=release.id,
            evidence=f"{'automatic' if actor == CONTROLLER else 'manual'} rollback: {reason}",
        )
        with self.store.transaction():
            self.store.write([done])
            self._deliver([release, recovery])
            self._event(done, "rolled_back", actor, reason, now, decisions)
        return done

    def _release(self, rollout: Rollout, finished_at: datetime, evidence: str | None) -> Deployment:
        plan = rollout.parsed_plan
        return Deployment(
            source=SOURCE,
            source_id=f"rollout/{rollout.id}",
            service=rollout.service,
            environment=rollout.environment,
            started_at=rollout.started_at,
            finished_at=finished_at,
            status="success",
            kind=DeploymentKind.RELEASE.value,
            version=f"{plan.flag}={plan.treatment}",
            trigger="rollout",
            evidence=evidence,
        )

    def _approve(self, rollout: Rollout, actor: str, now: datetime) -> None:
        asked = rollout.waiting_since or now
        waited = max((now - asked).total_seconds(), 0.0)
        approval = Approval(
            source=SOURCE,
            source_id=f"rollout/{rollout.id}/stage/{rollout.stage_index + 1}",
            kind=ApprovalKind.ROLLOUT_STAGE.value,
            deployment_ref=f"{SOURCE}:rollout/{rollout.id}",
            service=rollout.service,
            requested_at=asked,
            decided_at=now,
            decision="approved",
            actor=actor,
        )
        self._deliver([approval])
        self._event(
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

    def _event(
        self,
        rollout: Rollout,
        kind: str,
        actor: str,
        explanation: str,
        now: datetime,
        decisions: list[Decision] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        detail: dict[str, Any] = dict(extra or {})
        if decisions:
            detail["decisions"] = [d.as_dict() for d in decisions]
        self.store.write(
            [
                RolloutEvent(
                    rollout_id=rollout.id,
                    seq=next_seq(self.store, rollout.id),
                    occurred_at=now,
                    kind=kind,
                    stage_index=rollout.stage_index,
                    percent=rollout.percent,
                    actor=actor,
                    explanation=explanation,
                    detail=json.dumps(detail, default=_json_number) if detail else None,
                )
            ]
        )

    def _active(self, flag: str, environment: str) -> Rollout:
        rollout = active_rollout(self.store, flag, environment)
        if rollout is None:
            raise RolloutNotFound(
                f"no rollout of {flag!r} is in progress in {environment}; "
                "start one with `headway rollout start`"
            )
        return rollout

    def _started_text(self, plan: RolloutPlan) -> str:
        stages = " → ".join(
            f"{s.percent:g}%{' (approval)' if s.approval else ''}" for s in plan.stages
        )
        guards = ", ".join(g.spec for g in plan.guardrails) or "no guardrails"
        return (
            f"rolling {plan.treatment!r} out over {plan.control!r}: {stages}; each stage at "
            f"least {plan.min_duration_s / 60:g} min and {plan.min_samples:,} exposures; "
            f"guarded by {guards} (alpha {plan.alpha:g})"
        )

    # -- reading --------------------------------------------------------------------------------
    def status(self, flag: str, environment: str) -> tuple[Rollout, list[RolloutEvent]]:
        rollout = active_rollout(self.store, flag, environment)
        if rollout is None:
            finished = [
                r for r in list_rollouts(self.store, flag=flag) if r.environment == environment
            ]
            if not finished:
                raise RolloutNotFound(f"flag {flag!r} has never been rolled out in {environment}")
            rollout = finished[-1]
        return rollout, events_of(self.store, rollout.id)

    def signals(self) -> dict[str, Any]:
        """Rollout confidence signals over every rollout in the store."""
        rollouts = list_rollouts(self.store)
        finished = [r for r in rollouts if r.state not in ACTIVE_STATES]
        stage_times: dict[str, list[float]] = {}
        waits: list[float] = []
        automatic = 0
        for rollout in rollouts:
            events = events_of(self.store, rollout.id)
            entries = [e for e in events if e.kind in ("started", "advanced", "completed")]
            ends = [*entries[1:], None]
            for entry, end in zip(entries, ends, strict=True):
                stop = end.occurred_at if end else rollout.finished_at
                if entry.kind != "completed" and stop is not None:
                    key = f"{entry.percent:g}%"
                    seconds = (stop - entry.occurred_at).total_seconds()
                    stage_times.setdefault(key, []).append(seconds)
            detail = [json.loads(e.detail) for e in events if e.kind == "approved" and e.detail]
            waits.append(sum(d.get("waited_s", 0.0) for d in detail))
            if any(e.kind == "rolled_back" and e.actor == CONTROLLER for e in events):
                automatic += 1

        def share(count: int) -> float | None:
            return count / len(finished) if finished else None

        return {
            "rollouts": len(rollouts),
            "finished": len(finished),
            "completion_rate": share(sum(r.state == State.COMPLETED for r in finished)),
            "abandon_rate": share(sum(r.state == State.ABORTED for r in finished)),
            "rollback_rate": share(sum(r.state == State.ROLLED_BACK for r in finished)),
            "automatic_rollback_rate": share(automatic),
            "median_seconds_per_stage": {
                k: statistics.median(v) for k, v in sorted(stage_times.items(), key=_by_percent)
            },
            "mean_human_wait_seconds_per_rollout": statistics.fmean(waits) if waits else None,
        }


def _serve_at(plan: RolloutPlan, index: int) -> Serve:
    return _split(plan.control, plan.treatment, plan.stages[index].percent)


def _by_percent(item: tuple[str, list[float]]) -> float:
    return float(item[0].rstrip("%"))


def _belongs(rollout: Rollout, variant: str, measured: tuple[datetime, datetime] | None) -> bool:
    plan = rollout.parsed_plan
    if variant not in (plan.treatment, plan.control):
        return False
    return measured is None or measured[1] > rollout.started_at


def _text(sample: Mapping[str, Any], key: str, i: int) -> str:
    value = sample.get(key)
    if not isinstance(value, str) or not value:
        raise PlanError(f"samples[{i}].{key} must be a non-empty string")
    return value


def _number(sample: Mapping[str, Any], key: str, i: int) -> float:
    value = sample.get(key, 0.0)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PlanError(f"samples[{i}].{key} must be a finite number, got {value!r}")
    return float(value)


def _json_number(value: Any) -> Any:
    return float(value)
