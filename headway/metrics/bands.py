"""Performance levels from the State of DevOps reports, per report year.

Each metric is placed on its own: the best level whose published band the value meets. The
reports describe clusters of respondents rather than thresholds, so where two clusters share a
band (2023's medium and low deployment frequency, 2024's high and medium recovery time) the
better level is given, and where a band is not monotonic (2024: medium's change fail rate of
10% is lower than high's 20%) the rate bands are read as "at most": ≤5% elite, ≤20% high,
≤40% low-band, so 2024 never assigns medium on change fail rate alone. Sources and the tables
themselves are in docs/definitions.md. The 2025 report publishes no levels.
"""

from __future__ import annotations

from typing import Literal

Year = Literal["2023", "2024", "2025"]
YEARS: tuple[str, ...] = ("2023", "2024", "2025")
NO_LEVELS_NOTE = (
    "The 2025 DORA report publishes no performance levels (it describes team archetypes instead)."
)

# The two factors DORA's research has grouped the five metrics into since the 2024 report:
# how fast change flows, and how often it has to be undone or repaired.
FACTORS: dict[str, tuple[str, ...]] = {
    "throughput": ("change_lead_time", "deployment_frequency", "failed_deployment_recovery_time"),
    "instability": ("change_fail_rate", "deployment_rework_rate"),
}

# Where each year's level table comes from (the tables are in docs/definitions.md).
SOURCES = {
    "2023": "DORA, Accelerate State of DevOps Report 2023: performance clusters",
    "2024": "DORA, Accelerate State of DevOps Report 2024: performance clusters",
    "2025": "DORA, State of AI-assisted Software Development 2025",
}

# Fewer counted deployments than this in a scope and period, and no level is given: a handful
# of deployments says more about chance than about a team (docs/definitions.md).
MIN_DEPLOYMENTS = 10

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY
MONTH = 30 * DAY

# (level, upper bound) pairs, best first; a value at or under the bound earns the level.
_LEAD = [("elite", DAY), ("high", WEEK), ("medium", MONTH)]
_RECOVERY = {
    "2023": [("elite", HOUR), ("high", DAY), ("medium", WEEK)],
    "2024": [("elite", HOUR), ("high", DAY)],
}
_FAIL = {
    "2023": [("elite", 0.05), ("high", 0.10), ("medium", 0.15)],
    "2024": [("elite", 0.05), ("high", 0.20)],
}


def _under(value: float | None, bands: list[tuple[str, float]], strict: bool) -> str | None:
    if value is None:
        return None
    for level, bound in bands:
        if value < bound or (not strict and value == bound):
            return level
    return "low"


def deployment_frequency(per_day: float | None, year: str) -> str | None:
    """On demand (daily or more) elite; at least weekly high; at least monthly medium."""
    if year == "2025" or per_day is None:
        return None
    if per_day >= 1:
        return "elite"
    if per_day * 7 >= 1:
        return "high"
    if per_day * 30 >= 1:
        return "medium"
    return "low"


def lead_time(median_s: float | None, year: str) -> str | None:
    return None if year == "2025" else _under(median_s, _LEAD, strict=True)


def change_fail_rate(rate: float | None, year: str) -> str | None:
    return None if year == "2025" else _under(rate, _FAIL[year], strict=False)


def recovery_time(median_s: float | None, year: str) -> str | None:
    return None if year == "2025" else _under(median_s, _RECOVERY[year], strict=True)


def too_few(deployments: int, year: str) -> str | None:
    """Why no level is given for so few deployments, or None when there are enough (or the
    year has no levels at all, which `levels.note` says)."""
    if year == "2025" or deployments >= MIN_DEPLOYMENTS:
        return None
    return (
        f"too few to rate: {deployments} counted deployment{'' if deployments == 1 else 's'}; "
        f"a level needs at least {MIN_DEPLOYMENTS}"
    )
