"""Simulated rollouts: how often a guardrail fires on harmless changes, how fast on harmful ones.

Everything is vectorised over (runs, looks): each look adds one batch of exposures to both
variants, the judges see the cumulative statistics, and a run "fires" at its first alarm.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

from headway.rollouts.guardrails import DEFAULT_SENSITIVITY, contrast, log_evidence
from headway.rollouts.verdicts import Guardrail, GuardrailError, MetricKind

__all__ = [
    "METHODS",
    "MethodResult",
    "Sample",
    "Traffic",
    "asymptotic_cs_alarms",
    "draw",
    "headway_alarms",
    "simulate",
    "summarise",
    "ztest_alarms",
]

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True)
class Traffic:
    """`looks` batches of `per_look` exposures; `shares[k]` of batch k goes to treatment."""

    looks: int = 30
    per_look: int = 2_000
    shares: tuple[float, ...] = (0.5,)

    def __post_init__(self) -> None:
        if self.looks < 1 or self.per_look < 2:
            raise GuardrailError("traffic needs at least 1 look and 2 exposures per look")
        if len(self.shares) not in (1, self.looks):
            raise GuardrailError(f"give 1 treatment share or one per look ({self.looks})")
        if not all(0 < s < 1 for s in self.shares):
            raise GuardrailError("treatment shares must be between 0 and 1 (exclusive)")

    @classmethod
    def staged(cls, percents: Sequence[float], looks: int, per_look: int) -> Traffic:
        """Spread the looks evenly over the stages below 100 % (at 100 % there is no control)."""
        judged = [p / 100 for p in percents if p < 100]
        if not judged:
            raise GuardrailError("at least one stage must be below 100% to compare with control")
        shares = tuple(judged[min(k * len(judged) // looks, len(judged) - 1)] for k in range(looks))
        return cls(looks=looks, per_look=per_look, shares=shares)

    def batch_sizes(self) -> tuple[FloatArray, FloatArray]:
        shares = np.resize(np.asarray(self.shares, dtype=np.float64), self.looks)
        n_t = np.maximum(np.round(self.per_look * shares), 1.0)
        return n_t, self.per_look - n_t


@dataclass(frozen=True)
class Sample:
    """Cumulative statistics, each of shape (runs, looks)."""

    treatment: tuple[FloatArray, FloatArray, FloatArray]
    control: tuple[FloatArray, FloatArray, FloatArray]


def draw(
    kind: MetricKind,
    baseline: float,
    effect: float,
    traffic: Traffic,
    runs: int,
    rng: np.random.Generator,
    baseline_sd: float = 1.0,
) -> Sample:
    """Draw `runs` rollouts; treatment's level is `baseline * effect`.

    Means are normal values: a batch's sum is N(n mu, n sigma^2) and its spread around its own
    mean sigma^2 chi^2(n - 1), independent of the sum, so sums of squares are exact too.
    """
    n_t, n_c = traffic.batch_sizes()
    shape = (runs, traffic.looks)

    def arm(n: FloatArray, level: float) -> tuple[FloatArray, FloatArray, FloatArray]:
        counts = np.broadcast_to(n, shape).astype(np.float64)
        if kind is MetricKind.RATE:
            if not 0 <= level <= 1:
                raise GuardrailError(f"a rate must be between 0 and 1, got {level}")
            total = rng.binomial(counts.astype(np.int64), level).astype(np.float64)
            sumsq = total
        else:
            total = rng.normal(counts * level, np.sqrt(counts) * baseline_sd)
            spread = baseline_sd**2 * rng.chisquare(np.maximum(counts - 1, 1))
            sumsq = spread + total**2 / counts
        return (
            np.cumsum(counts, axis=1),
            np.cumsum(total, axis=1),
            np.cumsum(sumsq, axis=1),
        )

    return Sample(arm(n_t, baseline * effect), arm(n_c, baseline))


def _gate(sample: Sample, min_samples: int) -> BoolArray:
    return (sample.treatment[0] >= min_samples) & (sample.control[0] >= min_samples)


def headway_alarms(
    guardrail: Guardrail,
    sample: Sample,
    *,
    alpha: float,
    min_samples: int,
    sensitivity: float = DEFAULT_SENSITIVITY,
) -> BoolArray:
    """Headway's judge: the one-sided mixture SPRT of `guardrails.judge_guardrail`."""
    d, v, t2 = contrast(
        guardrail.kind,
        guardrail.direction,
        guardrail.factor,
        sample.treatment,
        sample.control,
        sensitivity,
    )
    return _gate(sample, min_samples) & (log_evidence(d, v, t2) >= math.log(1 / alpha))


def _plug_in(guardrail: Guardrail, sample: Sample) -> tuple[FloatArray, FloatArray]:
    """Harm estimate and its plug-in (unpooled) variance, as textbook tests compute them."""
    (n_t, s_t, q_t), (n_c, s_c, q_c) = sample.treatment, sample.control
    sign = 1.0 if guardrail.direction.value == "increase" else -1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        m_t, m_c = s_t / n_t, s_c / n_c
        if guardrail.kind is MetricKind.RATE:
            var_t, var_c = m_t * (1 - m_t), m_c * (1 - m_c)
        else:
            var_t = np.maximum(q_t - n_t * m_t**2, 0) / (n_t - 1)
            var_c = np.maximum(q_c - n_c * m_c**2, 0) / (n_c - 1)
        estimate = sign * (m_t - guardrail.factor * m_c)
        variance = var_t / n_t + guardrail.factor**2 * var_c / n_c
    return estimate, variance


def ztest_alarms(
    guardrail: Guardrail, sample: Sample, *, alpha: float, min_samples: int
) -> BoolArray:
    """Baseline (a): a one-sided z-test at level alpha, repeated at every look."""
    d, v = _plug_in(guardrail, sample)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(v > 0, d / np.sqrt(v), 0.0)
    return _gate(sample, min_samples) & (z >= float(stats.norm.ppf(1 - alpha)))


def asymptotic_cs_alarms(
    guardrail: Guardrail, sample: Sample, *, alpha: float, min_samples: int
) -> BoolArray:
    """Baseline (b): a one-sided asymptotic confidence sequence (Waudby-Smith et al. style).

    The lower bound of the harm is D - sqrt(V * 2 (t rho^2 + 1) / (t rho^2)
    * log(1 + sqrt(t rho^2 + 1) / (2 alpha))) with t the exposures so far and rho tuned, as the
    authors recommend, to be tightest at the planned final sample size t*.
    """
    d, v = _plug_in(guardrail, sample)
    t = sample.treatment[0] + sample.control[0]
    t_star = float(t[0, -1])
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / t_star
    tr = t * rho2
    with np.errstate(divide="ignore", invalid="ignore"):
        radius = np.sqrt(v * 2 * (tr + 1) / tr * np.log(1 + np.sqrt(tr + 1) / (2 * alpha)))
    return _gate(sample, min_samples) & (v > 0) & (d - radius > 0)


Judge = Callable[..., BoolArray]
METHODS: dict[str, Judge] = {
    "headway (mSPRT)": headway_alarms,
    "repeated z-test": ztest_alarms,
    "asymptotic CS": asymptotic_cs_alarms,
}


@dataclass(frozen=True)
class MethodResult:
    """How often and how fast one judge fired over many simulated rollouts."""

    method: str
    effect: float
    runs: int
    alarm_rate: float  # false-rollback rate when effect is harmless, power when harmful
    median_looks: float  # among runs that fired; NaN if none did
    median_exposures: float  # exposures (both variants) at the first alarm

    def as_dict(self) -> dict[str, float | str | int]:
        return {
            "method": self.method,
            "effect": self.effect,
            "runs": self.runs,
            "alarm_rate": self.alarm_rate,
            "median_looks": self.median_looks,
            "median_exposures": self.median_exposures,
        }


def summarise(method: str, effect: float, alarms: BoolArray, sample: Sample) -> MethodResult:
    fired = alarms.any(axis=1)
    first = alarms.argmax(axis=1)
    exposures = (sample.treatment[0] + sample.control[0])[0]
    if fired.any():
        median_looks = float(np.median(first[fired] + 1))
        median_exposures = float(np.median(exposures[first[fired]]))
    else:
        median_looks = median_exposures = math.nan
    return MethodResult(
        method, effect, alarms.shape[0], float(fired.mean()), median_looks, median_exposures
    )


def simulate(
    guardrail: Guardrail,
    *,
    baseline: float,
    effects: Sequence[float],
    traffic: Traffic,
    runs: int = 2_000,
    seed: int = 0,
    alpha: float = 0.05,
    min_samples: int = 500,
    sensitivity: float = DEFAULT_SENSITIVITY,
    baseline_sd: float = 1.0,
    methods: Sequence[str] = ("headway (mSPRT)",),
) -> list[MethodResult]:
    """For each effect, draw `runs` rollouts once and judge them with every method.

    An effect of 1.0 is a harmless change, so its alarm rate is the false-rollback rate.
    """
    rng = np.random.default_rng(seed)
    results = []
    for effect in effects:
        sample = draw(guardrail.kind, baseline, effect, traffic, runs, rng, baseline_sd)
        for name in methods:
            options: dict[str, float | int] = {"alpha": alpha, "min_samples": min_samples}
            if name == "headway (mSPRT)":
                options["sensitivity"] = sensitivity
            alarms = METHODS[name](guardrail, sample, **options)
            results.append(summarise(name, effect, alarms, sample))
    return results
