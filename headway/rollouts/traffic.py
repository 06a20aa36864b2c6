"""Checks on the traffic itself, before any guardrail: exposures arriving at all, and the
split between the variants matching the plan (a sample-ratio mismatch means the assignment,
not the treatment, is broken).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from headway.rollouts.verdicts import (
    Action,
    ArrayLike,
    Decision,
    FloatArray,
    GuardrailError,
    Verdict,
)

# Concentration of the Beta prior of the sample-ratio test: deviations of about
# 1/sqrt(concentration) of the split (1 %) are the ones it is tuned to see.
SRM_CONCENTRATION = 10_000.0


def srm_log_bayes_factor(
    n_treatment: ArrayLike, n_control: ArrayLike, expected_share: float
) -> FloatArray:
    """Log Bayes factor of "the split is not `expected_share`" against "it is".

    The alternative draws the treatment share from Beta(c*p, c*(1-p)), so the factor is
    B(a + n_t, b + n_c) / B(a, b) / (p^n_t (1-p)^n_c): a test martingale under the expected
    split, valid at every look.
    """
    p = expected_share
    a, b = SRM_CONCENTRATION * p, SRM_CONCENTRATION * (1 - p)
    n_t = np.asarray(n_treatment, dtype=np.float64)
    n_c = np.asarray(n_control, dtype=np.float64)
    return np.asarray(
        special.betaln(a + n_t, b + n_c)
        - special.betaln(a, b)
        - n_t * math.log(p)
        - n_c * math.log(1 - p),
        dtype=np.float64,
    )


def check_srm(
    n_treatment: float, n_control: float, expected_share: float, *, alpha: float
) -> Decision:
    """Sample-ratio mismatch: are exposures split as the stage says they should be?"""
    if not 0 < expected_share < 1:
        raise GuardrailError(f"expected treatment share {expected_share} must be in (0, 1)")
    log_bf = float(srm_log_bayes_factor(n_treatment, n_control, expected_share))
    total = n_treatment + n_control
    observed = n_treatment / total if total else math.nan
    stats = {
        "n_treatment": n_treatment,
        "n_control": n_control,
        "expected_share": expected_share,
        "observed_share": observed,
        "bayes_factor": math.exp(min(log_bf, 700.0)),
        "evidence_needed": 1 / alpha,
    }
    split = (
        f"treatment received {observed:.2%} of {total:,.0f} exposures in this stage, "
        f"{expected_share:.2%} expected"
    )
    if log_bf >= math.log(1 / alpha):
        return Decision(
            "sample_ratio",
            Verdict.SAMPLE_RATIO_MISMATCH,
            Action.PAUSE,
            stats,
            f"Sample ratio mismatch: {split} (Bayes factor {stats['bayes_factor']:,.0f}, above "
            f"{1 / alpha:,.0f}). Assignment or telemetry is skewed, so guardrail comparisons "
            "cannot be trusted; the rollout pauses until someone checks targeting and the SDK.",
        )
    return Decision(
        "sample_ratio",
        Verdict.PASS,
        Action.NONE,
        stats,
        f"The split looks as planned: {split}." if total else "No exposures yet in this stage.",
    )


def check_traffic(
    n_treatment: float, n_control: float, elapsed_seconds: float, window_seconds: float
) -> Decision:
    """Pause a stage that has run for `window_seconds` without a single treatment exposure."""
    stats = {
        "n_treatment": n_treatment,
        "n_control": n_control,
        "elapsed_seconds": elapsed_seconds,
        "window_seconds": window_seconds,
    }
    if n_treatment > 0 or elapsed_seconds < window_seconds:
        return Decision("traffic", Verdict.PASS, Action.NONE, stats, "Traffic is arriving.")
    where = (
        "no exposures at all reached Headway: check that the SDK sends telemetry"
        if n_control == 0
        else "control is served but treatment is not: check targeting and the stage percentage"
    )
    return Decision(
        "traffic",
        Verdict.NO_TRAFFIC,
        Action.PAUSE,
        stats,
        f"No treatment traffic for {elapsed_seconds / 60:.0f} minutes in this stage; {where}. "
        "A stage cannot prove itself safe without traffic, so the rollout pauses.",
    )
