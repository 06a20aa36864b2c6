"""The 2025 DORA report's view of a scope: its two delivery factors, and the team profiles
its delivery is consistent with.

The 2025 report (*State of AI-assisted Software Development*) gives no elite–low levels. It
places teams in seven profiles found by clustering eight measures: team performance, product
performance, software delivery throughput, software delivery instability, individual
effectiveness, valuable work, friction and burnout. Headway's records measure two of the
eight, so this view does what the records allow and says what they do not:

* **Throughput** is where the scope's three throughput figures fall on the answer scales of
  the survey's own throughput questions (1 = the slowest answer, 6 = the fastest), and their
  mean. A question answered from records, not from memory.
* **Instability** is the mean of the two instability rates, which the survey asks as
  percentages.
* **Consistent with** lists the profiles whose published delivery signature (high or low
  throughput, high or low instability) the scope's matches. It is a list of what the
  delivery records allow, not a classification: the profiles are told apart, and confirmed,
  by the six survey measures Headway does not hold, which `unmeasured` names.

Sources, scales and thresholds are in docs/definitions.md ("2025 report").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headway.metrics.bands import DAY, HOUR, MIN_DEPLOYMENTS, MONTH, WEEK

__all__ = ["PROFILES", "SOURCE", "TeamProfile", "duration_answer", "frequency_answer", "place"]

SOURCE = "DORA, State of AI-assisted Software Development 2025: team profiles"

#: The highest answer of each throughput question (the survey offers six, best last).
TOP = 6
#: A mean throughput answer at or above this is high: 4 is "between one day and one week"
#: (lead and recovery time) and "between once per day and once per week" (deployments), the
#: band of the 2024 report's high cluster.
HIGH_THROUGHPUT = 4.0
#: A mean instability rate above this is high: 15% is the 2023 report's medium cluster's change
#: fail rate, the worst of every cluster but the low one.
HIGH_INSTABILITY = 0.15

# The survey's answers to "What is your lead time for changes?" and to "How long does it
# generally take to restore service ...?", slowest first, with the upper bound (exclusive) of
# each but the first.
_DURATIONS = (
    (1, "more than six months", None),
    (2, "between one month and six months", 6 * MONTH),
    (3, "between one week and one month", MONTH),
    (4, "between one day and one week", WEEK),
    (5, "less than one day", DAY),
    (6, "less than one hour", HOUR),
)
# "How often does your organization deploy code to production or release it to end users?",
# least often first, with how many deployments a day each answer starts at, as a fraction
# (deployments, days) so that 3 deployments in 21 days is exactly once a week.
_FREQUENCIES = (
    (1, "fewer than once per six months", (0, 1)),
    (2, "between once per month and once every six months", (1, 180)),
    (3, "between once per week and once per month", (1, 30)),
    (4, "between once per day and once per week", (1, 7)),
    (5, "between once per hour and once per day", (1, 1)),
    (6, "on demand (multiple deploys per day)", (2, 1)),
)
UNMEASURED = (
    "team performance",
    "product performance",
    "individual effectiveness",
    "valuable work",
    "friction",
    "burnout",
)


@dataclass(frozen=True)
class TeamProfile:
    """One of the report's seven profiles and its delivery signature: `high`, `low`, or None
    where the report's descriptions do not tie the profile to either side."""

    key: str
    name: str
    throughput: str | None
    instability: str | None
    summary: str


PROFILES = (
    TeamProfile(
        "foundational_challenges",
        "Foundational challenges",
        "low",
        "high",
        "in survival mode: gaps in process and environment hold back every measure",
    ),
    TeamProfile(
        "legacy_bottleneck",
        "The legacy bottleneck",
        None,
        "high",
        "unstable systems keep the team reacting and wear down morale",
    ),
    TeamProfile(
        "constrained_by_process",
        "Constrained by process",
        "low",
        "low",
        "stable systems, but inefficient process consumes the team's time",
    ),
    TeamProfile(
        "high_impact_low_cadence",
        "High impact, low cadence",
        "low",
        "high",
        "valuable work, shipped slowly and with instability",
    ),
    TeamProfile(
        "stable_and_methodical",
        "Stable and methodical",
        "low",
        "low",
        "high-quality work at a deliberate pace",
    ),
    TeamProfile(
        "pragmatic_performers",
        "Pragmatic performers",
        "high",
        "low",
        "fast and stable delivery, with engagement short of its peak",
    ),
    TeamProfile(
        "harmonious_high_achievers",
        "Harmonious high-achievers",
        "high",
        "low",
        "fast, stable delivery with low burnout and friction",
    ),
)


def duration_answer(seconds: float | None) -> tuple[int, str] | None:
    """The survey's answer for a lead or recovery time: (1 slowest … 6 fastest, its words)."""
    if seconds is None:
        return None
    for answer, words, bound in reversed(_DURATIONS):
        if bound is None or seconds < bound:
            return answer, words
    raise AssertionError("the slowest answer has no bound")  # pragma: no cover


def frequency_answer(deployments: int, days: float) -> tuple[int, str] | None:
    """The survey's answer for how often a scope deploys `deployments` times in `days`:
    (1 least … 6 most often, its words); None without deployments."""
    if not deployments or days <= 0:
        return None
    for answer, words, (times, every) in reversed(_FREQUENCIES):
        if deployments * every >= times * days:
            return answer, words
    raise AssertionError("the least frequent answer starts at zero")  # pragma: no cover


def place(figures: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The 2025 view of one scope from its five figures (as `MetricSet.to_json` holds them)."""
    frequency = figures["deployment_frequency"]
    answered = {
        "change_lead_time": duration_answer(figures["change_lead_time"]["median_s"]),
        "deployment_frequency": frequency_answer(frequency["deployments"], frequency["days"]),
        "failed_deployment_recovery_time": duration_answer(
            figures["failed_deployment_recovery_time"]["median_s"]
        ),
    }
    found = {metric: a for metric, a in answered.items() if a is not None}
    answers = [{"metric": m, "answer": a[0], "words": a[1]} for m, a in found.items()]
    rates = {
        metric: figures[metric]["rate"]
        for metric in ("change_fail_rate", "deployment_rework_rate")
        if figures[metric]["rate"] is not None
    }
    throughput = _mean([a[0] for a in found.values()]) if "deployment_frequency" in found else None
    instability = _mean(list(rates.values()))
    deployments = frequency["deployments"]
    reason = _too_few(deployments)
    fast = _side(throughput, throughput is not None and throughput >= HIGH_THROUGHPUT, reason)
    shaky = _side(instability, instability is not None and instability > HIGH_INSTABILITY, reason)
    return {
        "source": SOURCE,
        "throughput": {
            "score": throughput,
            "of": TOP,
            "side": fast,
            "answers": answers,
            "missing": [m for m, found in answered.items() if found is None],
        },
        "instability": {"score": instability, "side": shaky, "rates": rates},
        "consistent_with": [
            {"key": p.key, "name": p.name, "summary": p.summary}
            for p in PROFILES
            if fast and shaky and p.throughput in (fast, None) and p.instability in (shaky, None)
        ],
        "unmeasured": list(UNMEASURED),
        "reason": reason
        or (None if fast and shaky else "a factor has no records behind it in the period"),
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _side(score: float | None, high: bool, reason: str | None) -> str | None:
    if score is None or reason:
        return None
    return "high" if high else "low"


def _too_few(deployments: int) -> str | None:
    if deployments >= MIN_DEPLOYMENTS:
        return None
    return (
        f"too few to place: {deployments} counted deployment{'' if deployments == 1 else 's'};"
        f" a profile needs at least {MIN_DEPLOYMENTS}"
    )
