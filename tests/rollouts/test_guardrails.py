"""Guardrail specs and the sequential judge, with expected values worked by hand."""

from __future__ import annotations

import math

import pytest

from headway.rollouts.guardrails import contrast, judge_guardrail, log_evidence
from headway.rollouts.traffic import check_srm, check_traffic, srm_log_bayes_factor
from headway.rollouts.verdicts import (
    Action,
    Direction,
    Guardrail,
    GuardrailError,
    MetricKind,
    VariantStats,
    Verdict,
    parse_guardrail,
)

ERRORS = parse_guardrail("errors:rate:increase:0%:rollback")


def test_parse_reads_every_part_and_round_trips() -> None:
    g = parse_guardrail(" latency_ms : MEAN : increase : 12.5% : pause ")
    assert g == Guardrail("latency_ms", MetricKind.MEAN, Direction.INCREASE, 0.125, Action.PAUSE)
    assert g.spec == "latency_ms:mean:increase:12.5%:pause"
    assert parse_guardrail(g.spec) == g
    assert g.factor == pytest.approx(1.125)
    assert parse_guardrail("conversion:rate:decrease:5%:warn").factor == pytest.approx(0.95)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("errors:rate:increase:10%", "has 4 parts, not 5"),
        ("errors:p95:increase:10%:rollback", "kind 'p95' is not one of rate, mean"),
        ("errors:rate:up:10%:rollback", "direction 'up' is not one of increase, decrease"),
        ("errors:rate:increase:10%:panic", "action 'panic' is not one of warn, pause, rollback"),
        ("errors:rate:increase:0.1:rollback", "must be a percentage such as 10%"),
        ("errors:rate:increase:-10%:rollback", "write increase:10%, not increase:-10%"),
        ("conversion:rate:decrease:100%:warn", "use a threshold below 100%"),
        ("9lives:rate:increase:10%:warn", "is not a metric name"),
        ("errors:rate:increase:10%:none", "action must be warn, pause or rollback"),
    ],
)
def test_bad_specs_are_refused_with_the_fix(spec: str, message: str) -> None:
    with pytest.raises(GuardrailError, match=message):
        parse_guardrail(spec)


def test_judge_statistic_on_a_hand_worked_example() -> None:
    # Treatment 20 errors in 1,000 exposures, control 10 in 1,000, tolerance 0 %.
    # Null-tight rates: (20 + 10) / (1,000 + 1,000) = 0.015 on both arms.
    # D = 0.020 - 0.010 = 0.01;  V = 2 * 0.015 * 0.985 / 1,000 = 2.955e-5
    # tau = 0.5 * 0.015 = 0.0075, tau^2 = 5.625e-5;  V + tau^2 = 8.58e-5
    # log 2                                        =  0.693147
    # 0.5 log(V / (V + tau^2)) = 0.5 log(0.344406) = -0.532966
    # D^2 tau^2 / (2 V (V + tau^2)) = 5.625e-9 / 5.07078e-9 = 1.109297
    # log Phi(D tau / sqrt(V (V + tau^2))) = log Phi(1.48950) = log 0.931822 = -0.070613
    # log Lambda = 1.198865, Lambda = 3.316 < 20 = 1 / alpha: pass.
    d, v, tau2 = contrast(MetricKind.RATE, Direction.INCREASE, 1.0, (1000, 20, 20), (1000, 10, 10))
    assert (float(d), float(v), float(tau2)) == pytest.approx((0.01, 2.955e-5, 5.625e-5))
    assert float(log_evidence(d, v, tau2)) == pytest.approx(1.198865, abs=1e-5)

    decision = judge_guardrail(
        ERRORS, VariantStats(1000, 20), VariantStats(1000, 10), alpha=0.05, min_samples=500
    )
    assert decision.verdict is Verdict.PASS
    assert decision.action is Action.NONE
    assert decision.statistics["evidence"] == pytest.approx(3.3163, abs=1e-3)
    assert "Evidence 3.3 of the 20 needed" in decision.explanation


def test_mean_contrast_uses_sample_variances() -> None:
    # Treatment values 3, 5: n 2, sum 8, sumsq 34, mean 4, variance (34 - 2 * 16) / 1 = 2.
    # Control values 1, 3:   n 2, sum 4, sumsq 10, mean 2, variance (10 - 2 * 4) / 1 = 2.
    # D = 4 - 2 = 2; V = 2/2 + 2/2 = 2; pooled mean 12 / 4 = 3, tau^2 = (0.5 * 3)^2 = 2.25.
    d, v, tau2 = contrast(MetricKind.MEAN, Direction.INCREASE, 1.0, (2, 8, 34), (2, 4, 10))
    assert (float(d), float(v), float(tau2)) == pytest.approx((2.0, 2.0, 2.25))


def test_a_clear_regression_breaches_and_explains_itself() -> None:
    # 1.5 % against 1.0 % on 20,000 exposures each: z is about 0.005 / 0.00109 = 4.6.
    decision = judge_guardrail(
        ERRORS, VariantStats(20_000, 300), VariantStats(20_000, 200), alpha=0.05, min_samples=500
    )
    assert decision.verdict is Verdict.BREACH
    assert decision.action is Action.ROLLBACK
    assert decision.statistics["relative_change"] == pytest.approx(0.5)
    # The bound is where the evidence against "at most +bound" falls back to 1 / alpha.
    bound = decision.statistics["harm_bound"]
    assert 0 < bound < 0.5
    d, v, tau2 = contrast(
        MetricKind.RATE, Direction.INCREASE, 1 + bound, (20_000, 300, 300), (20_000, 200, 200)
    )
    assert float(log_evidence(d, v, tau2)) == pytest.approx(math.log(20), abs=1e-4)
    assert "1.50% on treatment against 1.00% on control (+50.0%)" in decision.explanation
    assert f"at least {bound:.1%} higher" in decision.explanation
    assert "Action: rollback" in decision.explanation


def test_tolerance_and_direction_are_respected() -> None:
    # A 25 % drop in conversion breaches a 5 % tolerance on the decrease side ...
    conversion = parse_guardrail("conversion:rate:decrease:5%:warn")
    drop = judge_guardrail(
        conversion,
        VariantStats(20_000, 1500),
        VariantStats(20_000, 2000),
        alpha=0.05,
        min_samples=500,
    )
    assert (drop.verdict, drop.action) == (Verdict.BREACH, Action.WARN)
    assert "more than 5% lower than control" in drop.explanation
    # ... while the same data seen as an increase guardrail is an improvement, not harm.
    rise = judge_guardrail(
        parse_guardrail("conversion:rate:increase:0%:warn"),
        VariantStats(20_000, 1500),
        VariantStats(20_000, 2000),
        alpha=0.05,
        min_samples=500,
    )
    assert rise.verdict is Verdict.PASS
    # A +50 % rise tolerated up to +60 % never fires.
    tolerant = judge_guardrail(
        parse_guardrail("errors:rate:increase:60%:rollback"),
        VariantStats(200_000, 3000),
        VariantStats(200_000, 2000),
        alpha=0.05,
        min_samples=500,
    )
    assert tolerant.verdict is Verdict.PASS


def test_min_sample_gate_waits_even_for_striking_data() -> None:
    decision = judge_guardrail(
        ERRORS, VariantStats(100, 50), VariantStats(10_000, 100), alpha=0.05, min_samples=500
    )
    assert decision.verdict is Verdict.INSUFFICIENT_DATA
    assert decision.action is Action.NONE
    assert "at least 500 exposures on each variant (treatment 100, control 10,000)" in (
        decision.explanation
    )


def test_no_events_means_no_evidence() -> None:
    decision = judge_guardrail(
        ERRORS, VariantStats(1000, 0), VariantStats(1000, 0), alpha=0.05, min_samples=500
    )
    assert decision.verdict is Verdict.PASS
    assert decision.statistics["evidence"] == 1.0


def test_sample_ratio_mismatch() -> None:
    # No exposures: B(a, b) / B(a, b) = 1, log 0.
    assert float(srm_log_bayes_factor(0, 0, 0.05)) == 0.0
    # 5,500 / 4,500 against 50 %: z = 500 / 50 = 10. The Beta(5,000, 5,000) prior is nearly
    # normal with variance 0.25 / 10,000, so log BF ~ (z^2 / 2) * n / (n + c) - 0.5 log(1 + n/c)
    # = 50 * 0.5 - 0.5 log 2 = 25 - 0.347 = 24.65, far above log(1,000) = 6.9.
    assert float(srm_log_bayes_factor(5500, 4500, 0.5)) == pytest.approx(24.65, abs=0.05)
    skewed = check_srm(5500, 4500, 0.5, alpha=0.001)
    assert (skewed.verdict, skewed.action) == (Verdict.SAMPLE_RATIO_MISMATCH, Action.PAUSE)
    assert "treatment received 55.00% of 10,000 exposures in this stage, 50.00% expected" in (
        skewed.explanation
    )
    # An exact 50/50 split only pays the Occam penalty: log BF = -0.5 log 2 = -0.347.
    even = check_srm(5000, 5000, 0.5, alpha=0.001)
    assert even.verdict is Verdict.PASS
    assert even.statistics["bayes_factor"] == pytest.approx(math.sqrt(0.5), abs=1e-3)


def test_no_traffic_pauses_after_the_window() -> None:
    assert check_traffic(0, 0, 599, 600).verdict is Verdict.PASS
    assert check_traffic(3, 900, 3600, 600).verdict is Verdict.PASS
    quiet = check_traffic(0, 900, 900, 600)
    assert (quiet.verdict, quiet.action) == (Verdict.NO_TRAFFIC, Action.PAUSE)
    assert "control is served but treatment is not" in quiet.explanation
    assert "check that the SDK sends telemetry" in check_traffic(0, 0, 900, 600).explanation
