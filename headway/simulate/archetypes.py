"""What is simulated: the options, the archetypes and their delivery patterns, the layout of
services and teams, and the patterns planted for the detectors to find.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

SOURCE = "sim"
HOUR = 3600.0
DAY = 86400.0


@dataclass(frozen=True)
class Archetype:
    name: str
    context: str
    rate: float  # deployments per day, relative to --deploys-per-day
    batch: float  # mean changes per deployment
    change_lines: float  # mean lines changed per change
    coding_h: float
    pickup_h: float
    review_h: float
    approval_h: float  # change-advisory / security wait after review (regulated only)
    merge_wait_h: float
    fail: float  # probability a deployment fails
    recovery_h: float
    empty_share: float = 0.0  # deployments that ship nothing
    ramp: float = 0.0  # speeding: how much faster/failier by the end of the period
    slice_ramp: float = 0.0  # slicing: deployments (and 1/size) grow by 1 + slice_ramp·progress²
    drift: str | None = None  # local | theatre | redefined | hidden (see the module docstring)
    defects: float = 0.01  # escaped defects per deployment that shipped something


ARCHETYPES = {
    "regulated": Archetype("regulated", "regulated", 0.06, 10, 220, 20, 6, 10, 70, 4, 0.05, 3.0),
    "healthy": Archetype(
        "healthy", "customer-facing", 1.0, 1.5, 60, 6, 1.0, 1.5, 0, 0.3, 0.05, 0.6
    ),
    "speeding": Archetype(
        "speeding", "customer-facing", 0.3, 3, 160, 16, 8, 8, 0, 4, 0.06, 2.0, ramp=3.0
    ),
    "slicing": Archetype(
        "slicing",
        "internal",
        1.5,
        0.7,
        40,
        2,
        0.5,
        0.5,
        0,
        0.2,
        0.04,
        1.0,
        empty_share=0.3,
        slice_ramp=3.0,
    ),
    "local": Archetype(
        "local", "customer-facing", 0.5, 2, 80, 8, 3, 12, 0, 2, 0.05, 1.0, drift="local"
    ),
    "theatre": Archetype(
        "theatre", "customer-facing", 0.4, 2, 90, 8, 2, 4, 0, 1, 0.05, 1.0, drift="theatre"
    ),
    "redefined": Archetype(
        "redefined", "customer-facing", 0.4, 2, 100, 8, 2, 4, 0, 1, 0.25, 2.0, drift="redefined"
    ),
    "hidden": Archetype(
        "hidden", "internal", 1.0, 2, 100, 8, 2, 4, 0, 1, 0.06, 2.0, drift="hidden"
    ),
}
# (service, team, archetype) for the first services; more are named after these.
LAYOUT = [
    ("payments-ledger", "payments", "regulated"),
    ("storefront", "web", "healthy"),
    ("search", "growth", "speeding"),
    ("notifications", "messaging", "slicing"),
    ("checkout", "web", "healthy"),
    ("card-gateway", "payments", "regulated"),
    ("recommendations", "growth", "speeding"),
    ("email-digest", "messaging", "slicing"),
    ("billing-api", "billing", "local"),
    ("mobile-api", "mobile", "theatre"),
    ("auth", "identity", "redefined"),
    ("pipelines", "data", "hidden"),
]
# Teams whose archetype plants nothing a detector should find.
HEALTHY_TEAMS = ("web",)
# Team → the detector its archetype plants (docs/detectors.md).
PLANTED = {
    "growth": "speed_outcomes",
    "messaging": "slicing",
    "billing": "local_optimisation",
    "mobile": "theatre",
    "identity": "redefined",
    "data": "hidden_quality",
}


# The calendar every organisation is drawn in: its history ends here, then every time moves
# to the asked `end`. Drawing in one calendar keeps the draws (weekday release windows
# included) the same whatever the end, so the figures depend on the seed alone.
ANCHOR = datetime(2026, 11, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Options:
    seed: int = 1
    services: int = 4
    days: int = 120
    deploys_per_day: float = 4.0
    end: datetime = ANCHOR  # when the history ends; `headway demo` and `simulate` pass today


def layout(n: int) -> list[tuple[str, str, str]]:
    out = []
    for i in range(n):
        name, team, kind = LAYOUT[i % len(LAYOUT)]
        out.append((name if i < len(LAYOUT) else f"{name}-{i // len(LAYOUT) + 1}", team, kind))
    return out
