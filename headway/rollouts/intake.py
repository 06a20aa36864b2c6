"""Guardrail samples as they arrive (from SDKs, the API or Prometheus): checked, and tagged
with the live rollout stage of their flag when they are that rollout's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from headway.rollouts.plan import PlanError
from headway.rollouts.samples import check_sample
from headway.rollouts.store import EXPOSURES, GuardrailSample, Rollout, active_rollout
from headway.rollouts.verdicts import METRIC_RE
from headway.store import Store


def sample_records(
    store: Store,
    environment: str,
    samples: Iterable[Mapping[str, Any]],
    *,
    batch: str,
    source: str,
    measured: tuple[datetime, datetime] | None,
    now: datetime,
) -> list[GuardrailSample]:
    """The rows to store for `samples`; a malformed sample is a PlanError naming its index.

    A sample is its flag's rollout's only when it is about a variant the rollout serves and,
    when the sender says when it was `measured` (from, to), when that window reaches past the
    rollout's start: samples of other variants, or counted before the rollout began, are
    stored but judge nothing.
    """
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
            live[flag] = active_rollout(store, flag, environment)
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
    return records


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
