"""The vocabulary of judging a rollout: a guardrail's spec (`error_rate < +0.5%`), metric kinds
and directions, one variant's statistics, and the `Decision` every check returns (a verdict
and the action it calls for).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
ArrayLike = float | FloatArray


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
METRIC_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")
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
        if not METRIC_RE.match(self.metric):
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
            f"{format_percent(self.threshold)}:{self.action}"
        )

    @property
    def factor(self) -> float:
        """Treatment may be up to `factor` times control before it counts as harm."""
        if self.direction is Direction.INCREASE:
            return 1.0 + self.threshold
        return 1.0 - self.threshold


def format_percent(value: float) -> str:
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
