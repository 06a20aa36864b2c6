"""Rollout plans: the stages a flag's new variant goes through, and what guards each of them."""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from headway.flags.model import Flag, Serve, Split, WeightedVariant
from headway.rollouts.verdicts import Guardrail, GuardrailError, MetricKind, parse_guardrail

__all__ = [
    "ACTIVE_STATES",
    "PlanError",
    "RolloutError",
    "RolloutNotFound",
    "RolloutPlan",
    "Stage",
    "State",
    "parse_duration",
    "parse_stages",
]


class PlanError(ValueError):
    """A rollout request that cannot be carried out, saying what to change."""


class RolloutError(PlanError):
    """A rollout command that conflicts with the rollout's state."""


class RolloutNotFound(RolloutError):
    pass


class State(StrEnum):
    RUNNING = "running"
    WAITING_APPROVAL = "waiting_approval"
    PAUSED = "paused"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    ABORTED = "aborted"


ACTIVE_STATES = (State.RUNNING, State.WAITING_APPROVAL, State.PAUSED)

_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_DURATIONS_RE = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    """'90s', '10m', '1h30m', '2d' -> seconds."""
    compact = text.replace(" ", "").lower()
    if not _DURATIONS_RE.fullmatch(compact):
        raise PlanError(f"duration {text!r} is not like 30s, 10m, 1h30m or 2d")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION_RE.findall(compact))


@dataclass(frozen=True)
class Stage:
    percent: float
    approval: bool = False  # a person must approve before the rollout enters this stage


def parse_stages(text: str, approvals: Iterable[float] = ()) -> tuple[Stage, ...]:
    """'1,5,25,50,100' -> stages; each listed in `approvals` waits for a person first."""
    try:
        percents = [float(p.strip().rstrip("%")) for p in text.split(",") if p.strip()]
    except ValueError:
        raise PlanError(
            f"stages {text!r} must be percentages separated by commas, like 1,5,25,50,100"
        ) from None
    gated = set(approvals)
    unknown = gated - set(percents)
    if unknown:
        raise PlanError(
            f"approval asked for stage(s) {', '.join(f'{p:g}' for p in sorted(unknown))} that "
            f"the plan does not have (stages: {text})"
        )
    if percents and percents[0] in gated:
        raise PlanError(
            f"stage {percents[0]:g} is the first stage: starting the rollout approves it, so "
            "approval can only be asked for later stages"
        )
    return tuple(Stage(p, p in gated) for p in percents)


@dataclass(frozen=True)
class RolloutPlan:
    """Everything a rollout needs to run by itself, validated when built."""

    flag: str
    environment: str
    treatment: str
    control: str
    stages: tuple[Stage, ...]
    min_duration_s: float = 600.0
    min_samples: int = 500
    guardrails: tuple[Guardrail, ...] = ()
    alpha: float = 0.05
    srm_alpha: float = 0.001
    service: str = ""
    no_traffic_after_s: float | None = None  # default: the stage's minimum duration
    extra: dict[str, Any] = field(default_factory=dict)
    # Metrics whose events are read from Prometheus: (metric, PromQL with $variant, $window).
    prometheus_url: str = ""
    prometheus_queries: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        percents = [s.percent for s in self.stages]
        if not percents:
            raise PlanError(
                "a rollout needs at least one stage, for example --stages 1,5,25,50,100"
            )
        if any(not 0 < p <= 100 for p in percents):
            raise PlanError(f"stages {_fmt(percents)}: each must be above 0% and at most 100%")
        if any(b <= a for a, b in itertools.pairwise(percents)):
            raise PlanError(
                f"stages {_fmt(percents)} are out of order: each stage must expose more users "
                "than the one before, for example 1,5,25,50,100"
            )
        if percents[-1] != 100:
            raise PlanError(
                f"stages {_fmt(percents)} stop at {percents[-1]:g}%: the last stage must be 100 "
                "so that a completed rollout means everyone has the new variant"
            )
        if self.treatment == self.control:
            raise PlanError(f"treatment and control are both {self.treatment!r}; pick two variants")
        if self.min_duration_s < 0 or self.min_samples < 0:
            raise PlanError("minimum duration and minimum samples cannot be negative")
        if not 0 < self.alpha < 1 or not 0 < self.srm_alpha < 1:
            raise PlanError("alpha must be between 0 and 1, for example 0.05")
        specs = [g.spec for g in self.guardrails]
        metrics = [(g.metric, g.kind) for g in self.guardrails]
        if len(set(specs)) != len(specs):
            raise PlanError("the same guardrail is listed twice; remove one")
        if len(set(metrics)) != len(metrics):
            raise PlanError("a metric is guarded twice with the same kind; keep the strictest one")
        self._check_prometheus()

    def check_flag(self, flag: Flag) -> None:
        """The flag can carry this plan: it has the environment and both variants, and is on
        there (a rollout changes what an enabled flag serves)."""
        env = flag.environments.get(self.environment)
        if env is None:
            raise PlanError(
                f"flag {self.flag!r} has no environment {self.environment!r} "
                f"(it has {', '.join(sorted(flag.environments)) or 'none'})"
            )
        variants = {v.key for v in flag.variants}
        for role, key in (("treatment", self.treatment), ("control", self.control)):
            if key not in variants:
                raise PlanError(
                    f"{role} variant {key!r} is not a variant of {self.flag!r} "
                    f"(variants: {', '.join(sorted(variants))})"
                )
        if not env.enabled:
            raise PlanError(
                f"flag {self.flag!r} is off in {self.environment}: a rollout changes what an "
                "enabled flag serves; turn it on (serving the control variant) first"
            )

    def replaces(self, flag: Flag) -> str | None:
        """What the first stage takes the place of, when the flag serves more than its control
        variant to everyone no rule matches (a split, or another variant); else None."""
        serving = flag.environments[self.environment].default
        if serving.variant == self.control:
            return None
        if serving.split is not None:
            shares = ", ".join(f"{w.variant} {w.weight:g}%" for w in serving.split.weights)
            what = f"the split {shares}"
        else:
            what = f"variant {serving.variant!r}"
        return f"{what}, served in {self.environment} to everyone no rule matches"

    def serve_at(self, index: int) -> Serve:
        """What the flag serves at stage `index`: control and treatment split by its percent,
        or the treatment alone at 100%."""
        percent = self.stages[index].percent
        if percent >= 100:
            return Serve(variant=self.treatment)
        return Serve(
            split=Split(
                weights=[
                    WeightedVariant(variant=self.control, weight=round(100 - percent, 3)),
                    WeightedVariant(variant=self.treatment, weight=round(percent, 3)),
                ]
            )
        )

    def describe_stage(self, index: int) -> str:
        """What stage `index` serves, in words: `off 99%, on 1%` or `on to everyone`."""
        serve = self.serve_at(index)
        if serve.split is None:
            return f"{serve.variant} to everyone"
        return ", ".join(f"{w.variant} {w.weight:g}%" for w in serve.split.weights)

    def describe(self) -> str:
        """The plan in one sentence, as the rollout's first event tells it."""
        stages = " → ".join(
            f"{s.percent:g}%{' (approval)' if s.approval else ''}" for s in self.stages
        )
        guards = ", ".join(g.spec for g in self.guardrails) or "no guardrails"
        return (
            f"rolling {self.treatment!r} out over {self.control!r}: {stages}; each stage at "
            f"least {self.min_duration_s / 60:g} min and {self.min_samples:,} exposures; "
            f"guarded by {guards} (alpha {self.alpha:g})"
        )

    def _check_prometheus(self) -> None:
        if self.prometheus_queries and not self.prometheus_url.startswith(("http://", "https://")):
            raise PlanError(
                "Prometheus queries need --prometheus-url, the server's address, for example "
                "http://prometheus:9090"
            )
        kinds = {g.metric: g.kind for g in self.guardrails}
        for metric, query in self.prometheus_queries:
            if "$variant" not in query:
                raise PlanError(
                    f"the Prometheus query for {metric} has no $variant: each variant needs its "
                    f'own count, e.g. sum(increase(errors_total{{variant="$variant"}}[$window]))'
                )
            if metric not in kinds:
                raise PlanError(
                    f"the Prometheus query for {metric} guards nothing; add a guardrail"
                )
            if kinds[metric] is not MetricKind.RATE:
                raise PlanError(
                    f"{metric} comes from Prometheus, which gives event counts: guard it as a "
                    f"rate ({metric}:rate:…), or send its values with the SDK to guard a mean"
                )

    @property
    def guardrail_alpha(self) -> float:
        """Each guardrail gets alpha / k, so the plan's false-alarm rate is at most alpha."""
        return self.alpha / max(len(self.guardrails), 1)

    @property
    def traffic_window_s(self) -> float:
        return self.min_duration_s if self.no_traffic_after_s is None else self.no_traffic_after_s

    def to_json(self) -> str:
        return json.dumps(
            {
                "flag": self.flag,
                "environment": self.environment,
                "treatment": self.treatment,
                "control": self.control,
                "stages": [{"percent": s.percent, "approval": s.approval} for s in self.stages],
                "min_duration_s": self.min_duration_s,
                "min_samples": self.min_samples,
                "guardrails": [g.spec for g in self.guardrails],
                "alpha": self.alpha,
                "srm_alpha": self.srm_alpha,
                "service": self.service,
                "no_traffic_after_s": self.no_traffic_after_s,
                "extra": self.extra,
                "prometheus_url": self.prometheus_url,
                "prometheus_queries": [list(q) for q in self.prometheus_queries],
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> RolloutPlan:
        data = json.loads(text)
        data["stages"] = tuple(Stage(**s) for s in data["stages"])
        data["guardrails"] = tuple(parse_guardrail(g) for g in data["guardrails"])
        data["prometheus_queries"] = tuple(tuple(q) for q in data.get("prometheus_queries", []))
        return cls(**data)

    @classmethod
    def build(
        cls,
        *,
        flag: str,
        environment: str,
        treatment: str,
        control: str,
        stages: str,
        approvals: Iterable[float] = (),
        min_duration: str = "10m",
        min_samples: int = 500,
        guardrails: Iterable[str] = (),
        alpha: float = 0.05,
        service: str = "",
        prometheus_url: str | None = None,
        prometheus_queries: Mapping[str, str] | None = None,
    ) -> RolloutPlan:
        """Build a plan from the text a person typed (CLI flags or an API body)."""
        try:
            parsed = tuple(parse_guardrail(g) for g in guardrails)
        except GuardrailError as error:
            raise PlanError(str(error)) from None
        return cls(
            flag=flag,
            environment=environment,
            treatment=treatment,
            control=control,
            stages=parse_stages(stages, approvals),
            min_duration_s=parse_duration(min_duration),
            min_samples=min_samples,
            guardrails=parsed,
            alpha=alpha,
            service=service,
            prometheus_url=prometheus_url or "",
            prometheus_queries=tuple(sorted((prometheus_queries or {}).items())),
        )


def _fmt(percents: list[float]) -> str:
    return ",".join(f"{p:g}" for p in percents)
