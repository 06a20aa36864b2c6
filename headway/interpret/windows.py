"""The windows a detector compares: what one team did in a period (deployments, changes,
incidents, defects, flows), and the baseline window just before the current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median
from typing import Any

from headway.definitions import Definition
from headway.interpret.sources import Records, records_of
from headway.metrics.scope import Period
from headway.metrics.stages import ChangeFlow
from headway.store import Store

MIN_STAGE_CHANGES = 10


@dataclass
class Window:
    """What one team did in one window: the numbers every detector reads."""

    period: Period
    days: float
    deployments: list[dict[str, Any]]
    changes: list[dict[str, Any]]
    incidents: list[dict[str, Any]]
    defects: list[dict[str, Any]]
    flows: list[ChangeFlow]

    @property
    def n(self) -> int:
        return len(self.deployments)

    @property
    def per_day(self) -> float:
        return self.n / self.days if self.days else 0.0

    @property
    def failed(self) -> int:
        return sum(1 for d in self.deployments if d["failed"])

    @property
    def cfr(self) -> float | None:
        return self.failed / self.n if self.n else None

    @property
    def shipping(self) -> list[dict[str, Any]]:
        return [d for d in self.deployments if d["kind"] in ("deploy", "hotfix")]

    @property
    def invisible(self) -> list[dict[str, Any]]:
        return [d for d in self.shipping if not d["visible"] and not d["repeat_version"]]

    @property
    def rework(self) -> int:
        return sum(d["rework"] for d in self.deployments)

    def stage_median(self, stage: str) -> tuple[float | None, int]:
        values = [v for f in self.flows if (v := f.stages[stage]) is not None]
        return (median(values) if len(values) >= MIN_STAGE_CHANGES else None), len(values)

    @property
    def lead_median(self) -> float | None:
        leads = [f.lead_s for f in self.flows if f.lead_s is not None]
        return median(leads) if len(leads) >= MIN_STAGE_CHANGES else None

    def share(self, items: list[Any], of: list[Any]) -> float | None:
        return len(items) / len(of) if of else None


def window(store: Store | Records, defn: Definition, services: list[str], period: Period) -> Window:
    """What `services` did in `period`, read from the store or the `Records` given."""
    records = records_of(store)
    rows = records.rows(defn, services, period)
    return Window(
        period,
        period.days,
        rows.deployments,
        rows.changes,
        rows.incidents,
        rows.defects,
        records.change_flows(defn, services, period),
    )


def baseline_for(current: Period, factor: int = 2) -> Period:
    """The window just before `current`, `factor` times as long (more data, steadier rates)."""
    length = current.until - current.since
    return Period(current.since - factor * length, current.since)
