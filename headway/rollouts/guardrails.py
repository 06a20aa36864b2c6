"""The always-valid sequential judge that compares treatment with control on a guardrail.

The judge is a one-sided mixture sequential probability ratio test (mSPRT): its evidence is a
test martingale under "no harm beyond the tolerance", so by Ville's inequality the chance it
ever reaches 1/alpha stays below alpha however often it is evaluated. What a guardrail says
and what a check answers are in `verdicts`; the checks on the traffic itself in `traffic`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import optimize, special

from headway.rollouts.verdicts import (
    Action,
    ArrayLike,
    Decision,
    Direction,
    FloatArray,
    Guardrail,
    GuardrailError,
    MetricKind,
    VariantStats,
    Verdict,
    format_percent,
    parse_guardrail,
)

# GuardrailError, MetricKind and parse_guardrail live in `verdicts`; the CLI imports them here.
__all__ = [
    "DEFAULT_SENSITIVITY",
    "GuardrailError",
    "MetricKind",
    "contrast",
    "judge_guardrail",
    "log_evidence",
    "parse_guardrail",
]

# The normal mixture is centred on no effect with a spread of this share of the control level:
# the evidence grows fastest for regressions of about this relative size (+50 %).
DEFAULT_SENSITIVITY = 0.5


def contrast(
    kind: MetricKind,
    direction: Direction,
    factor: float,
    treatment: tuple[ArrayLike, ArrayLike, ArrayLike],
    control: tuple[ArrayLike, ArrayLike, ArrayLike],
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Harm estimate, its variance and the mixture variance, element-wise over arrays.

    Harm is `treatment - factor * control` oriented so that positive means worse. For rates
    the variance is evaluated where the null is tight (treatment = factor * control, fitted to
    both arms' events): early on, with a handful of events, a plug-in variance can be near zero
    and fake certainty.
    """
    sign = 1.0 if direction is Direction.INCREASE else -1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        n_t, t_total, t_sumsq = (np.asarray(v, dtype=np.float64) for v in treatment)
        n_c, c_total, c_sumsq = (np.asarray(v, dtype=np.float64) for v in control)
        if kind is MetricKind.RATE:
            estimate = sign * (t_total / n_t - factor * c_total / n_c)
            p_c0 = np.clip((t_total + c_total) / (factor * n_t + n_c), 0.0, 1.0)
            p_t0 = np.clip(factor * p_c0, 0.0, 1.0)
            variance = p_t0 * (1 - p_t0) / n_t + factor**2 * p_c0 * (1 - p_c0) / n_c
            scale = p_c0
        else:
            mean_t, mean_c = t_total / n_t, c_total / n_c
            var_t = np.maximum(t_sumsq - n_t * mean_t**2, 0.0) / (n_t - 1)
            var_c = np.maximum(c_sumsq - n_c * mean_c**2, 0.0) / (n_c - 1)
            estimate = sign * (mean_t - factor * mean_c)
            variance = var_t / n_t + factor**2 * var_c / n_c
            pooled = (t_total + c_total) / (n_t + n_c)
            scale = np.where(pooled != 0, np.abs(pooled), np.sqrt((var_t + var_c) / 2))
        tau2 = (sensitivity * scale) ** 2
    return estimate, variance, tau2


def log_evidence(estimate: ArrayLike, variance: ArrayLike, tau2: ArrayLike) -> FloatArray:
    """Log of the one-sided mixture likelihood ratio for harm > 0 against harm = 0.

    With the harm estimate D ~ N(theta, V) and a half-normal mixture of scale tau over
    theta > 0, integrating the likelihood ratio exp((theta*D - theta^2/2)/V) gives
        Lambda = 2 * sqrt(V / (V + tau^2)) * exp(D^2 tau^2 / (2 V (V + tau^2)))
                 * Phi(D tau / sqrt(V (V + tau^2))).
    Where there is no variance yet (no events, no spread) the evidence is 1 (log 0).
    """
    d = np.asarray(estimate, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    t2 = np.asarray(tau2, dtype=np.float64)
    ok = np.isfinite(d) & np.isfinite(v) & (v > 0) & (t2 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        total = v + t2
        value = (
            math.log(2.0)
            + 0.5 * np.log(v / total)
            + d**2 * t2 / (2 * v * total)
            + special.log_ndtr(d * np.sqrt(t2) / np.sqrt(v * total))
        )
    return np.where(ok, value, 0.0)


def judge_guardrail(
    guardrail: Guardrail,
    treatment: VariantStats,
    control: VariantStats,
    *,
    alpha: float,
    min_samples: int,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> Decision:
    """Judge one guardrail on the cumulative statistics of both variants."""
    if not 0 < alpha < 1:
        raise GuardrailError(f"alpha {alpha} must be between 0 and 1, for example 0.05")
    metric, unit = guardrail.metric, "exposures" if guardrail.kind is MetricKind.RATE else "values"
    stats: dict[str, float] = {
        "n_treatment": treatment.n,
        "n_control": control.n,
        "treatment": treatment.mean,
        "control": control.mean,
        "threshold": guardrail.threshold,
        "alpha": alpha,
        "evidence_needed": 1 / alpha,
    }
    if min(treatment.n, control.n) < max(min_samples, 2):
        return Decision(
            guardrail.spec,
            Verdict.INSUFFICIENT_DATA,
            Action.NONE,
            stats,
            f"{metric}: waiting for at least {max(min_samples, 2):,} {unit} on each variant "
            f"(treatment {treatment.n:,.0f}, control {control.n:,.0f}) before judging.",
        )

    def evidence_at(factor: float) -> float:
        d, v, t2 = contrast(
            guardrail.kind,
            guardrail.direction,
            factor,
            (treatment.n, treatment.total, treatment.sumsq),
            (control.n, control.total, control.sumsq),
            sensitivity,
        )
        return float(log_evidence(d, v, t2))

    log_e = evidence_at(guardrail.factor)
    relative = treatment.mean / control.mean - 1 if control.mean != 0 else math.nan
    bound = _harm_bound(guardrail.direction, evidence_at, math.log(1 / alpha))
    stats |= {
        "relative_change": relative,
        "evidence": math.exp(min(log_e, 700.0)),
        "log_evidence": log_e,
        "harm_bound": bound,
    }
    worse = "higher" if guardrail.direction is Direction.INCREASE else "lower"
    observed = (
        f"{metric} is {_fmt(guardrail.kind, treatment.mean)} on treatment against "
        f"{_fmt(guardrail.kind, control.mean)} on control ({_signed(relative)})"
    )
    tolerance = (
        f"{worse} than control"
        if guardrail.threshold == 0
        else f"more than {format_percent(guardrail.threshold)} {worse} than control"
    )
    evidence = f"evidence {_evidence_text(log_e)} of the {1 / alpha:,.0f} needed"
    if log_e >= math.log(1 / alpha):
        return Decision(
            guardrail.spec,
            Verdict.BREACH,
            guardrail.action,
            stats,
            f"{observed}. The {evidence} shows treatment is {tolerance}: at least "
            f"{abs(bound):.1%} {worse}, with at most a {alpha:.1%} chance that this is a false "
            f"alarm however often the rollout was checked. Action: {guardrail.action}.",
        )
    return Decision(
        guardrail.spec,
        Verdict.PASS,
        Action.NONE,
        stats,
        f"{observed}. {evidence.capitalize()}: no sign yet that treatment is {tolerance}.",
    )


def _evidence_text(log_e: float) -> str:
    return "over 1,000,000" if log_e > math.log(1e6) else f"{math.exp(log_e):,.1f}"


def _harm_bound(direction: Direction, evidence_at: Any, log_needed: float) -> float:
    """The largest relative harm m that the evidence still rules in (NaN if none).

    Evidence falls as the tolerated harm m grows, so the bound is where it meets 1/alpha.
    """
    low, high = (-0.999, 100.0) if direction is Direction.INCREASE else (-100.0, 0.999)

    def excess(m: float) -> float:
        factor = 1 + m if direction is Direction.INCREASE else 1 - m
        return float(evidence_at(factor)) - log_needed

    if excess(low) <= 0 or excess(high) >= 0:
        return math.nan
    return float(optimize.brentq(excess, low, high, xtol=1e-6))


def _fmt(kind: MetricKind, value: float) -> str:
    if math.isnan(value):
        return "n/a"
    return f"{value:.2%}" if kind is MetricKind.RATE else f"{value:,.4g}"


def _signed(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.1%}"
