"""Judging a rollout's current stage: traffic, sample ratio, Prometheus and every guardrail,
and whether the stage has done enough to move on.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx

from headway.rollouts.guardrails import judge_guardrail
from headway.rollouts.prometheus import events_since
from headway.rollouts.store import Rollout, stage_exposures, variant_stats
from headway.rollouts.traffic import check_srm, check_traffic
from headway.rollouts.verdicts import Decision, Verdict
from headway.store import Store


def judge(
    store: Store,
    rollout: Rollout,
    now: datetime,
    read_prometheus: Callable[[Rollout, datetime], Decision],
) -> list[Decision]:
    """Every check of the stage, in order. `read_prometheus` stores the Prometheus metrics'
    samples before the guardrails read them, and says whether it could."""
    plan = rollout.parsed_plan
    variants = (plan.treatment, plan.control)
    n_t, n_c = stage_exposures(store, rollout, variants)
    elapsed = (now - rollout.stage_started_at).total_seconds()
    decisions = [check_traffic(n_t, n_c, elapsed, plan.traffic_window_s)]
    share = plan.stages[rollout.stage_index].percent / 100
    if 0 < share < 1:
        decisions.append(check_srm(n_t, n_c, share, alpha=plan.srm_alpha))
    if plan.prometheus_queries:
        decisions.append(read_prometheus(rollout, now))
    for guardrail in plan.guardrails:
        treatment, control = variant_stats(
            store, rollout, guardrail.metric, guardrail.kind, variants
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


def stage_done(store: Store, rollout: Rollout, decisions: list[Decision], now: datetime) -> bool:
    """The stage ran long enough, saw enough exposures, and every check passed."""
    plan = rollout.parsed_plan
    elapsed = (now - rollout.stage_started_at).total_seconds()
    n_t, _ = stage_exposures(store, rollout, (plan.treatment, plan.control))
    judged = all(d.verdict is Verdict.PASS for d in decisions)
    return elapsed >= plan.min_duration_s and n_t >= plan.min_samples and judged


def prometheus_samples(
    client: httpx.Client, rollout: Rollout, now: datetime
) -> list[dict[str, Any]]:
    """Each Prometheus metric's events per variant since the rollout started, as samples;
    a PrometheusError when Prometheus cannot answer."""
    plan = rollout.parsed_plan
    samples = []
    for metric, query in plan.prometheus_queries:
        for variant in (plan.treatment, plan.control):
            events = events_since(
                client, plan.prometheus_url, query, variant, rollout.started_at, now
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
    return samples
