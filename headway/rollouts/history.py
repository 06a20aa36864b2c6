"""What a rollout did over time: each stage's exposures per arm, each guardrail replayed as
its samples arrived, and the deployments it left in the delivery records.

The replay judges, at each moment a sample reached Headway, the cumulative statistics up to
that moment exactly as the controller's judge does (`judge_guardrail` on the rollout's
samples and the SDK's exposure reports since it started). Its last point is therefore the
judge's view of everything received; the evidence line against `1 / alpha` is the decision
boundary the controller acts on.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import numpy as np

from headway.rollouts.delivery import SOURCE
from headway.rollouts.guardrails import judge_guardrail
from headway.rollouts.store import EXPOSURES, Rollout, RolloutEvent
from headway.rollouts.verdicts import Guardrail, MetricKind, VariantStats
from headway.store import Store
from headway.store import rollouts as rows

__all__ = ["POINTS", "delivered", "document", "exposures_by_stage", "guardrail_history"]

POINTS = 60  # at most this many moments in a guardrail's history
_NEVER = datetime(9999, 1, 1, tzinfo=UTC)


def document(store: Store, rollout: Rollout, events: Sequence[RolloutEvent]) -> dict[str, Any]:
    """A rollout as `GET /api/rollouts/{flag}/{environment}` answers it (`RolloutStatus`)."""
    return {
        **rollout.as_dict(),
        "events": [e.as_dict() for e in events],
        "exposures": exposures_by_stage(store, rollout, events),
        "history": guardrail_history(store, rollout),
        "delivered": delivered(store, rollout),
    }


def exposures_by_stage(
    store: Store, rollout: Rollout, events: Sequence[RolloutEvent]
) -> list[dict[str, Any]]:
    """Each stage the rollout reached: its percent, when it began, and the exposures of the
    treatment and the control received while it was live (ingested samples by their stage,
    the SDK's reports by when they arrived)."""
    plan = rollout.parsed_plan
    starts = [rollout.started_at]
    for event in events:
        if event.kind in ("advanced", "completed") and event.stage_index == len(starts):
            starts.append(event.occurred_at)
    ingested = rows.stage_exposure_counts(store, rollout.id, EXPOSURES)
    counts = [dict.fromkeys((plan.treatment, plan.control), 0.0) for _ in starts]
    for (stage, variant), n in ingested.items():
        if stage < len(counts) and variant in counts[stage]:
            counts[stage][variant] += n
    until = rollout.finished_at or _NEVER
    for at, variant, count in rows.sdk_exposures_in_order(
        store, rollout.environment, rollout.flag, rollout.started_at, until
    ):
        stage = bisect.bisect_right(starts, _utc(at)) - 1
        if stage >= 0 and variant in counts[stage]:
            counts[stage][variant] += float(count)
    return [
        {
            "stage": i + 1,
            "percent": plan.stages[i].percent,
            "started_at": start.isoformat(),
            "treatment": counts[i][plan.treatment],
            "control": counts[i][plan.control],
        }
        for i, start in enumerate(starts)
    ]


def guardrail_history(store: Store, rollout: Rollout, points: int = POINTS) -> list[dict[str, Any]]:
    """Each guardrail judged at up to `points` moments, from the first sample to the last."""
    plan = rollout.parsed_plan
    samples = rows.samples_in_order(store, rollout.id)
    sdk = rows.sdk_exposures_in_order(
        store, rollout.environment, rollout.flag, rollout.started_at, rollout.finished_at or _NEVER
    )
    moments = _moments(sorted({r[0] for r in samples} | {r[0] for r in sdk}), points)
    needed = 1 / plan.guardrail_alpha
    history = []
    for guardrail in plan.guardrails:
        arms = [
            _cumulative(samples, sdk, guardrail, variant, moments)
            for variant in (plan.treatment, plan.control)
        ]
        judged = []
        for i, moment in enumerate(moments):
            decision = judge_guardrail(
                guardrail,
                arms[0][i],
                arms[1][i],
                alpha=plan.guardrail_alpha,
                min_samples=plan.min_samples,
            )
            stats = decision.statistics
            judged.append(
                {
                    "at": _utc(moment).isoformat(),
                    "verdict": str(decision.verdict),
                    "n_treatment": float(stats["n_treatment"]),
                    "n_control": float(stats["n_control"]),
                    "treatment": _finite(stats["treatment"]),
                    "control": _finite(stats["control"]),
                    "relative_change": _finite(stats.get("relative_change")),
                    "evidence": _finite(stats.get("evidence")),
                }
            )
        history.append(
            {
                "check": guardrail.spec,
                "metric": guardrail.metric,
                "kind": str(guardrail.kind),
                "evidence_needed": needed,
                "points": judged,
            }
        )
    return history


def delivered(store: Store, rollout: Rollout) -> list[dict[str, Any]]:
    """The release a finished rollout recorded and, when it was rolled back, the rollback that
    recovered it (which makes the release a failed deployment in the DORA figures)."""
    release = f"rollout/{rollout.id}"
    found = rows.delivered(store, SOURCE, release, f"{release}/rollback")
    recovered = {r[5] for r in found if r[5]}
    return [
        {
            "id": id_,
            "kind": kind,
            "status": status,
            "started_at": _utc(started).isoformat() if started else None,
            "finished_at": _utc(finished).isoformat(),
            "recovers": recovers,
            "failed": id_ in recovered,
            "evidence": evidence,
        }
        for id_, kind, status, started, finished, recovers, evidence in found
    ]


def _moments(times: list[datetime], points: int) -> list[datetime]:
    """`times` itself when few, else `points` of them spread evenly, the last always in
    (the last alone when one point is asked for)."""
    if len(times) <= points:
        return times
    if points < 2:
        return times[-1:]
    picked = {round(i * (len(times) - 1) / (points - 1)) for i in range(points)}
    return [times[i] for i in sorted(picked)]


def _cumulative(
    samples: Sequence[tuple[Any, ...]],
    sdk: Sequence[tuple[Any, ...]],
    guardrail: Guardrail,
    variant: str,
    moments: list[datetime],
) -> list[VariantStats]:
    """The variant's statistics of the guardrail's metric as they stood at each moment: what
    `headway.rollouts.store.variant_stats` answered then."""

    def running(rows_: list[tuple[datetime, float, float, float]]) -> np.ndarray:
        if not rows_:
            return np.zeros((len(moments), 3))
        times = [r[0] for r in rows_]
        sums = np.vstack([np.zeros(3), np.cumsum(np.array([r[1:] for r in rows_]), axis=0)])
        return sums[[bisect.bisect_right(times, m) for m in moments]]

    metric = running(
        [(r[0], r[3], r[4], r[5]) for r in samples if r[1:3] == (variant, guardrail.metric)]
    )
    if guardrail.kind is MetricKind.RATE:
        exposed = running(
            sorted(
                [(r[0], r[3], 0.0, 0.0) for r in samples if r[1:3] == (variant, EXPOSURES)]
                + [(r[0], float(r[2]), 0.0, 0.0) for r in sdk if r[1] == variant],
                key=lambda r: r[0],
            )
        )
        return [
            VariantStats(float(e[0]), float(m[1]), float(m[2]))
            for e, m in zip(exposed, metric, strict=True)
        ]
    return [VariantStats(float(m[0]), float(m[1]), float(m[2])) for m in metric]


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _utc(value: datetime) -> datetime:
    """A store's naive UTC timestamp, made aware."""
    return value.replace(tzinfo=UTC)
