"""Rollout records and what the controller reads of them, on top of the store.

Rollouts, their events and guardrail samples are written with `Store.write` like every other
record; the statements that read them are in `headway.store.rollouts`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, ClassVar

from headway.rollouts.plan import RolloutNotFound, RolloutPlan, State
from headway.rollouts.verdicts import Decision, MetricKind, VariantStats
from headway.store import Store, audit
from headway.store import rollouts as rows

log = logging.getLogger("headway.rollouts")

__all__ = [
    "EXPOSURES",
    "GuardrailSample",
    "Rollout",
    "RolloutEvent",
    "active_rollout",
    "events_of",
    "get_rollout",
    "known_metrics",
    "list_rollouts",
    "next_seq",
    "rollout_status",
    "stage_exposures",
    "variant_stats",
]

EXPOSURES = "$exposures"  # the metric name under which evaluations are counted


def aware(value: datetime | None) -> datetime | None:
    """Stored timestamps are naive UTC; give them their zone back."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Rollout:
    table: ClassVar[str] = "rollouts"
    flag: str
    environment: str
    service: str
    plan: str  # RolloutPlan.to_json()
    state: str
    stage_index: int
    stage_started_at: datetime
    started_at: datetime
    finished_at: datetime | None = None
    waiting_since: datetime | None = None  # meaningful only while waiting for approval
    reason: str | None = None
    judgement: str | None = None  # JSON list of the latest decisions
    created_by: str = "unknown"
    updated_at: datetime | None = None

    @property
    def id(self) -> str:
        return f"{self.flag}:{self.environment}:{self.started_at:%Y%m%dT%H%M%S%f}"

    @property
    def parsed_plan(self) -> RolloutPlan:
        return RolloutPlan.from_json(self.plan)

    @property
    def percent(self) -> float:
        if self.state in (State.ROLLED_BACK, State.ABORTED):
            return 0.0
        return self.parsed_plan.stages[self.stage_index].percent

    def moved(self, **changes: Any) -> Rollout:
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        plan = self.parsed_plan
        return {
            "id": self.id,
            "flag": self.flag,
            "environment": self.environment,
            "service": self.service,
            "state": self.state,
            "stage_index": self.stage_index,
            "percent": self.percent,
            "stages": [s.percent for s in plan.stages],
            "treatment": plan.treatment,
            "control": plan.control,
            "guardrails": [g.spec for g in plan.guardrails],
            "min_duration_s": plan.min_duration_s,
            "min_samples": plan.min_samples,
            "alpha": plan.alpha,
            "prometheus_url": plan.prometheus_url or None,
            "prometheus_queries": dict(plan.prometheus_queries),
            "started_at": self.started_at.isoformat(),
            "stage_started_at": self.stage_started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "waiting_since": (
                self.waiting_since.isoformat()
                if self.waiting_since and self.state == State.WAITING_APPROVAL
                else None
            ),
            "reason": self.reason or None,
            "created_by": self.created_by,
            "judgement": json.loads(self.judgement) if self.judgement else [],
        }


@dataclass(frozen=True, slots=True)
class RolloutEvent:
    table: ClassVar[str] = "rollout_events"
    rollout_id: str
    seq: int
    occurred_at: datetime
    kind: str  # started, advanced, approval_requested, approved, paused, resumed, warned,
    # judged, rolled_back, aborted, completed
    stage_index: int
    percent: float
    actor: str
    explanation: str
    detail: str | None = None  # JSON: decisions with their statistics

    @property
    def id(self) -> str:
        return f"{self.rollout_id}:{self.seq:06d}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "occurred_at": self.occurred_at.isoformat(),
            "kind": self.kind,
            "stage_index": self.stage_index,
            "percent": self.percent,
            "actor": self.actor,
            "explanation": self.explanation,
            "detail": json.loads(self.detail) if self.detail else None,
        }


@dataclass(frozen=True, slots=True)
class GuardrailSample:
    table: ClassVar[str] = "guardrail_samples"
    batch: str  # the sender's batch id: redelivering a batch changes nothing
    environment: str
    flag: str
    variant: str
    metric: str
    n: float
    total: float
    sumsq: float
    received_at: datetime
    source: str
    rollout_id: str | None = None
    stage_index: int | None = None

    @property
    def id(self) -> str:
        return f"{self.batch}:{self.flag}:{self.variant}:{self.metric}"


def _rollout(row: tuple[Any, ...]) -> Rollout:
    values = list(row)
    for i in (6, 7, 8, 9, 13):
        values[i] = aware(values[i])
    return Rollout(*values)


def get_rollout(store: Store, rollout_id: str) -> Rollout | None:
    row = rows.one(store, rollout_id)
    return _rollout(row) if row else None


def active_rollout(store: Store, flag: str, environment: str) -> Rollout | None:
    row = rows.active(store, flag, environment)
    return _rollout(row) if row else None


def list_rollouts(
    store: Store, *, active_only: bool = False, flag: str | None = None
) -> list[Rollout]:
    return [_rollout(r) for r in rows.all_rollouts(store, active_only=active_only, flag=flag)]


def events_of(store: Store, rollout_id: str) -> list[RolloutEvent]:
    return [
        RolloutEvent(r[0], r[1], aware(r[2]), *r[3:])  # type: ignore[arg-type]
        for r in rows.events(store, rollout_id)
    ]


def rollout_status(
    store: Store, flag: str, environment: str, rollout_id: str | None = None
) -> tuple[Rollout, list[RolloutEvent]]:
    """The rollout in progress (else the latest), or the one `rollout_id` names."""
    if rollout_id is not None:
        rollout = get_rollout(store, rollout_id)
        if rollout is None or (rollout.flag, rollout.environment) != (flag, environment):
            raise RolloutNotFound(
                f"no rollout {rollout_id!r} of {flag!r} in {environment}; "
                "`headway rollout list` (GET /api/rollouts) shows their ids"
            )
        return rollout, events_of(store, rollout.id)
    rollout = active_rollout(store, flag, environment)
    if rollout is None:
        finished = [r for r in list_rollouts(store, flag=flag) if r.environment == environment]
        if not finished:
            raise RolloutNotFound(f"flag {flag!r} has never been rolled out in {environment}")
        rollout = finished[-1]
    return rollout, events_of(store, rollout.id)


def next_seq(store: Store, rollout_id: str) -> int:
    return rows.next_seq(store, rollout_id)


def _sdk_exposures(store: Store, rollout: Rollout, since: datetime) -> dict[str, float]:
    """Exposures the SDK reported to the flags service (`flag_exposures`) since `since`."""
    until = rollout.finished_at or datetime(9999, 1, 1, tzinfo=UTC)
    return rows.sdk_exposures(store, rollout.environment, rollout.flag, since, until)


def variant_stats(
    store: Store, rollout: Rollout, metric: str, kind: MetricKind, variants: tuple[str, str]
) -> tuple[VariantStats, VariantStats]:
    """Cumulative statistics of `metric` for (treatment, control) over the whole rollout.

    For a rate the denominator is the variant's exposures (ingested ones plus those the SDK
    reported to the flags service) and the numerator the metric's events (the sum of tracked
    values, 1 per call by default).
    """
    found = rows.sums(store, rollout.id, metric, EXPOSURES)
    sdk = _sdk_exposures(store, rollout, rollout.started_at) if kind is MetricKind.RATE else {}

    def one(variant: str) -> VariantStats:
        n, total, sumsq = found.get((variant, metric), (0.0, 0.0, 0.0))
        if kind is MetricKind.RATE:
            exposures = found.get((variant, EXPOSURES), (0.0, 0.0, 0.0))[0]
            return VariantStats(exposures + sdk.get(variant, 0.0), total, sumsq)
        return VariantStats(n, total, sumsq)

    return one(variants[0]), one(variants[1])


def stage_exposures(
    store: Store, rollout: Rollout, variants: tuple[str, str]
) -> tuple[float, float]:
    """Exposures of (treatment, control) received while the current stage was live."""
    found = rows.exposures_in_stage(store, rollout.id, rollout.stage_index, EXPOSURES)
    sdk = _sdk_exposures(store, rollout, rollout.stage_started_at)
    return tuple(  # type: ignore[return-value]
        found.get(v, 0.0) + sdk.get(v, 0.0) for v in variants
    )


def known_metrics(store: Store, environment: str) -> set[str]:
    """Metrics that have reached Headway for this environment (exposures excluded)."""
    return rows.metrics_seen(store, environment, EXPOSURES)


def record_event(
    store: Store,
    rollout: Rollout,
    kind: str,
    actor: str,
    explanation: str,
    now: datetime,
    decisions: list[Decision] | None = None,
    extra: dict[str, Any] | None = None,
) -> None:
    """Append one move to the rollout's history, with the decisions that caused it."""
    detail: dict[str, Any] = dict(extra or {})
    if decisions:
        detail["decisions"] = [d.as_dict() for d in decisions]
    store.write(
        [
            RolloutEvent(
                rollout_id=rollout.id,
                seq=next_seq(store, rollout.id),
                occurred_at=now,
                kind=kind,
                stage_index=rollout.stage_index,
                percent=rollout.percent,
                actor=actor,
                explanation=explanation,
                detail=json.dumps(detail, default=json_number) if detail else None,
            )
        ]
    )
    if kind != "judged":  # a move that changes what users are served: in the audit chain too
        audit.append(
            store,
            actor=actor,
            entity="rollout",
            entity_id=f"{rollout.flag}/{rollout.environment}",
            action=kind,
            before=None,
            after={"state": rollout.state, "percent": rollout.percent, "why": explanation},
            at=now,
        )
    # One line per move for the server's log (a judgement that changes nothing only at DEBUG).
    log.log(
        logging.DEBUG if kind == "judged" else logging.INFO,
        "rollout of %s in %s %s at %g%% by %s: %s",
        rollout.flag,
        rollout.environment,
        kind,
        rollout.percent,
        actor,
        explanation,
    )


def json_number(value: Any) -> Any:
    """numpy's numbers in a judgement, as JSON numbers."""
    return float(value)
