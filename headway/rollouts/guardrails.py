"""Guardrail specs and the always-valid sequential judge that compares treatment with control.

The judge is a one-sided mixture sequential probability ratio test (mSPRT): its evidence is a
test martingale under "no harm beyond the tolerance", so by Ville's inequality the chance it
ever reaches 1/alpha stays below alpha however often it is evaluated.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import optimize, special

__all__ = [
    "DEFAULT_SENSITIVITY",
    "Action",
    "Decision",
    "Direction",
    "Guardrail",
    "GuardrailError",
    "MetricKind",
    "VariantStats",
    "Verdict",
    "check_srm",
    "check_traffic",
    "contrast",
    "judge_guardrail",
    "log_evidence",
    "parse_guardrail",
    "srm_log_bayes_factor",
]

FloatArray = npt.NDArray[np.float64]
ArrayLike = float | FloatArray

# The normal mixture is centred on no effect with a spread of this share of the control level:
# the evidence grows fastest for regressions of about this relative size (+50 %).
DEFAULT_SENSITIVITY = 0.5
# Concentration of the Beta prior of the sample-ratio test: deviations of about
# 1/sqrt(concentration) of the split (1 %) are the ones it is tuned to see.
SRM_CONCENTRATION = 10_000.0


class GuardrailError(ValueError):
    """A guardrail spec or a judge input that cannot be used, with what to write instead."""


class MetricKind(StrEnum):
    RATE = "rate"  # events per exposure, e.g. errors: count of events / exposures
    MEAN = "mean"  # average of tracked values, e.g. latency: sum / count


class Direction(StrEnum):
    """The direction in which the metric gets worse."""

    INCREASE = "increase"
    DECREASE = "decrease"


class Action(StrEnum):
    NONE = "none"
    WARN = "warn"
    PAUSE = "pause"
    ROLLBACK = "rollback"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {Action.NONE: 0, Action.WARN: 1, Action.PAUSE: 2, Action.ROLLBACK: 3}


class Verdict(StrEnum):
    INSUFFICIENT_DATA = "insufficient_data"
    PASS = "pass"
    BREACH = "breach"
    SAMPLE_RATIO_MISMATCH = "sample_ratio_mismatch"
    NO_TRAFFIC = "no_traffic"


_SPEC_HELP = (
    "write METRIC:KIND:DIRECTION:THRESHOLD:ACTION, for example "
    "'errors:rate:increase:10%:rollback' or 'latency_ms:mean:increase:5%:pause'"
)
_METRIC_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")
_PERCENT_RE = re.compile(r"^([+-]?\d+(?:\.\d+)?)%$")


@dataclass(frozen=True)
class Guardrail:
    """One guarded metric.

    `threshold` is the tolerated relative worsening (0.1 = 10 %): the guardrail fires only when
    the evidence says treatment is worse than control by more than this.
    """

    metric: str
    kind: MetricKind
    direction: Direction
    threshold: float
    action: Action

    def __post_init__(self) -> None:
        if not _METRIC_RE.match(self.metric):
            raise GuardrailError(
                f"guardrail metric {self.metric!r} is not a metric name: use letters, digits, "
                "'_', '.', '-', starting with a letter or '_'"
            )
        if not math.isfinite(self.threshold) or self.threshold < 0:
            raise GuardrailError(
                f"guardrail {self.metric!r}: threshold {self.threshold:+.0%} must be zero or "
                f"positive; it is the tolerated worsening in the {self.direction} direction "
                f"(write {self.direction}:10%, not {self.direction}:-10%)"
            )
        if self.direction is Direction.DECREASE and self.threshold >= 1:
            raise GuardrailError(
                f"guardrail {self.metric!r}: a decrease of {self.threshold:.0%} or more can never "
                "happen to a positive metric; use a threshold below 100%"
            )
        if self.action is Action.NONE:
            raise GuardrailError(
                f"guardrail {self.metric!r}: action must be warn, pause or rollback"
            )

    @property
    def spec(self) -> str:
        """The canonical text form, which `parse_guardrail` reads back unchanged."""
        return (
            f"{self.metric}:{self.kind}:{self.direction}:"
            f"{_format_percent(self.threshold)}:{self.action}"
        )

    @property
    def factor(self) -> float:
        """Treatment may be up to `factor` times control before it counts as harm."""
        if self.direction is Direction.INCREASE:
            return 1.0 + self.threshold
        return 1.0 - self.threshold


def _format_percent(value: float) -> str:
    return f"{value * 100:.6g}%"


def parse_guardrail(text: str) -> Guardrail:
    """Read `METRIC:KIND:DIRECTION:THRESHOLD:ACTION`; every mistake names the part to fix."""
    parts = [part.strip() for part in text.strip().split(":")]
    if len(parts) != 5:
        raise GuardrailError(f"guardrail {text!r} has {len(parts)} parts, not 5: {_SPEC_HELP}")
    metric, kind, direction, threshold, action = parts

    def choice(value: str, enum: type[StrEnum], part: str) -> Any:
        try:
            return enum(value.lower())
        except ValueError:
            allowed = ", ".join(member.value for member in enum if member.value != "none")
            raise GuardrailError(
                f"guardrail {text!r}: {part} {value!r} is not one of {allowed}"
            ) from None

    match = _PERCENT_RE.match(threshold)
    if match is None:
        raise GuardrailError(
            f"guardrail {text!r}: threshold {threshold!r} must be a percentage such as 10% "
            "(the tolerated relative worsening)"
        )
    return Guardrail(
        metric=metric,
        kind=choice(kind, MetricKind, "kind"),
        direction=choice(direction, Direction, "direction"),
        threshold=float(match.group(1)) / 100.0,
        action=choice(action, Action, "action"),
    )


@dataclass(frozen=True)
class VariantStats:
    """Sufficient statistics of one metric on one variant.

    For a rate, `n` is exposures and `total` the number of events; for a mean, `n` is the
    number of tracked values, `total` their sum and `sumsq` the sum of their squares.
    """

    n: float = 0.0
    total: float = 0.0
    sumsq: float = 0.0

    def __add__(self, other: VariantStats) -> VariantStats:
        return VariantStats(self.n + other.n, self.total + other.total, self.sumsq + other.sumsq)

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n > 0 else math.nan


@dataclass(frozen=True)
class Decision:
    """What one check concluded at one look, with the numbers behind it and why, in words."""

    check: str
    verdict: Verdict
    action: Action
    statistics: dict[str, float] = field(default_factory=dict)
    explanation: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "verdict": str(self.verdict),
            "action": str(self.action),
            # JSON has no NaN or infinity: an estimate that does not exist yet is null.
            "statistics": {
                k: float(v) if math.isfinite(v) else None for k, v in self.statistics.items()
            },
            "explanation": self.explanation,
        }


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
        else f"more than {_format_percent(guardrail.threshold)} {worse} than control"
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
