"""The simulator, and the property the judge exists for: peeking does not inflate false alarms."""

from __future__ import annotations

import numpy as np
import pytest

from headway.rollouts.simulate import Traffic, draw, simulate
from headway.rollouts.verdicts import MetricKind, parse_guardrail

ERRORS = parse_guardrail("errors:rate:increase:0%:rollback")
ALL = ("headway (mSPRT)", "repeated z-test", "asymptotic CS")


def test_staged_traffic_spreads_looks_over_stages_below_100() -> None:
    # 6 looks over stages 1, 5, 25 (100 is left out): looks 0-1 at 1 %, 2-3 at 5 %, 4-5 at 25 %.
    traffic = Traffic.staged([1, 5, 25, 100], looks=6, per_look=1000)
    assert traffic.shares == (0.01, 0.01, 0.05, 0.05, 0.25, 0.25)
    n_t, n_c = traffic.batch_sizes()
    assert n_t.tolist() == [10, 10, 50, 50, 250, 250]
    assert n_c.tolist() == [990, 990, 950, 950, 750, 750]


def test_draw_accumulates_exposures_and_events() -> None:
    sample = draw(
        MetricKind.RATE, 0.01, 1.0, Traffic(3, 1000), runs=4, rng=np.random.default_rng(0)
    )
    # 500 exposures per arm per look, cumulated: 500, 1,000, 1,500.
    assert sample.treatment[0][0].tolist() == [500, 1000, 1500]
    assert np.all(np.diff(sample.control[1], axis=1) >= 0)


def test_mean_draws_have_the_right_moments() -> None:
    sample = draw(
        MetricKind.MEAN, 200.0, 1.1, Traffic(1, 20_000), 50, np.random.default_rng(1), 40.0
    )
    n, total, sumsq = (a[:, 0] for a in sample.treatment)
    mean = total / n
    variance = (sumsq - n * mean**2) / (n - 1)
    # Treatment mean 200 * 1.1 = 220 (s.e. 40 / sqrt(10,000) = 0.4), variance 40^2 = 1,600.
    assert mean.mean() == pytest.approx(220, abs=0.5)
    assert variance.mean() == pytest.approx(1600, rel=0.02)


def test_repeated_z_test_peeks_into_false_alarms_and_headway_does_not() -> None:
    # 2,000 harmless rollouts, 30 looks. A 5 % one-sided z-test looked at 30 times fires on
    # roughly a quarter of them (its level is only 5 % at a single planned look); the
    # always-valid judges must stay at or below alpha = 5 % (binomial s.e. ~0.5 %).
    results = simulate(
        ERRORS,
        baseline=0.01,
        effects=[1.0, 1.5],
        traffic=Traffic(30, 2000),
        runs=2000,
        seed=11,
        methods=ALL,
    )
    rate = {(r.method, r.effect): r for r in results}
    assert rate[("repeated z-test", 1.0)].alarm_rate > 0.15
    assert rate[("headway (mSPRT)", 1.0)].alarm_rate <= 0.05
    assert rate[("asymptotic CS", 1.0)].alarm_rate <= 0.05
    # A +50 % regression is caught in nearly every run, no later than the asymptotic CS.
    assert rate[("headway (mSPRT)", 1.5)].alarm_rate > 0.95
    assert rate[("headway (mSPRT)", 1.5)].median_looks <= rate[("asymptotic CS", 1.5)].median_looks


def test_tolerance_holds_false_alarms_down_for_mean_metrics() -> None:
    latency = parse_guardrail("latency_ms:mean:increase:0%:pause")
    results = simulate(
        latency,
        baseline=200.0,
        baseline_sd=80.0,
        effects=[1.0, 1.05],
        traffic=Traffic(20, 1000),
        runs=1000,
        seed=3,
    )
    harmless, harmful = results
    assert harmless.alarm_rate <= 0.05
    # +5 % on 200 ms with sd 80: at the end 10,000 per arm, z = 10 / (80 sqrt(2 / 10,000))
    # = 8.8, far beyond any boundary, so every run is caught.
    assert harmful.alarm_rate == 1.0
