"""A team's records over the review's window and the same split by month, and the trend test
that reads a monthly series (Mann–Kendall).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from statistics import median
from typing import Any

from scipy import stats

from headway.definitions import Definition
from headway.interpret.evidence import rounded
from headway.interpret.sources import Records, records_of
from headway.metrics import signal_rows
from headway.metrics.durations import MIN_MEDIAN
from headway.metrics.scope import Period, bucket_starts, next_start
from headway.metrics.stages import ChangeFlow
from headway.store import Store

TREND_P = 0.05  # Mann–Kendall one-sided p below which a monthly series has a sustained trend
TREND_MONTHS = 4  # months with a value a trend needs


@dataclass
class Team:
    """One team's records over the window, and the same split by month."""

    name: str
    context: str
    window: Period
    rows: signal_rows.Rows
    flows: list[ChangeFlow]
    months: list[Period]

    @property
    def shipping(self) -> list[dict[str, Any]]:
        return [d for d in self.rows.deployments if d["kind"] in ("deploy", "hotfix")]

    def monthly(
        self, value: Callable[[list[dict[str, Any]], Period], float | None]
    ) -> list[float | None]:
        return [
            value([d for d in self.shipping if m.since <= d["finished_at"] < m.until], m)
            for m in self.months
        ]

    def lead_series(self) -> list[float | None]:
        out: list[float | None] = []
        for m in self.months:
            leads = [
                f.lead_s for f in self.flows if f.lead_s is not None and m.since <= f.at < m.until
            ]
            out.append(median(leads) if len(leads) >= MIN_MEDIAN else None)
        return out

    def defect_series(self) -> list[float | None]:
        def per(ships: list[dict[str, Any]], m: Period) -> float | None:
            found = sum(1 for d in self.rows.defects if m.since <= d["found_at"] < m.until)
            return found / len(ships) if ships else None

        return self.monthly(per)


def load(
    store: Store | Records,
    defn: Definition,
    team: str,
    members: list[tuple[str, str]],
    window: Period,
) -> Team:
    """A team's months over `window`, read from the store or the `Records` given."""
    records = records_of(store)
    names = [s for s, _ in members]
    contexts = sorted({c for _, c in members})
    months = [
        Period(max(s, window.since), min(next_start(s, "month"), window.until))
        for s in bucket_starts(window, "month")
    ]
    return Team(
        team,
        contexts[0] if len(contexts) == 1 else "mixed",
        window,
        records.rows(defn, names, window),
        records.change_flows(defn, names, window),
        months,
    )


# -- the trend test --------------------------------------------------------------------------


@dataclass(frozen=True)
class Trend:
    """A monthly series' direction: Kendall's tau against month order (the Mann–Kendall test)
    and the mean of its last two months against its first two."""

    tau: float
    p: float
    first: float
    last: float
    since: int  # index of the month the trend runs from

    @property
    def ratio(self) -> float | None:
        return self.last / self.first if self.first else None


def trend(series: list[float | None], rising: bool) -> Trend | None:
    """The series' sustained trend in one direction, or None: at least TREND_MONTHS months
    with a value and a one-sided Mann–Kendall p below TREND_P."""
    points = [(i, v) for i, v in enumerate(series) if v is not None]
    if len(points) < TREND_MONTHS or len({v for _, v in points}) < 2:
        return None
    xs, ys = [i for i, _ in points], [v for _, v in points]
    result = stats.kendalltau(xs, ys, alternative="greater" if rising else "less")
    if not result.pvalue < TREND_P:
        return None
    # the trend runs from its last extreme in the other direction
    start = min(ys) if rising else max(ys)
    since = max((i for i, v in points if v == start and i < xs[-1]), default=xs[0])
    return Trend(
        float(result.statistic),
        float(result.pvalue),
        sum(ys[:2]) / 2,
        sum(ys[-2:]) / 2,
        since,
    )


def by_halves(team: Team, hit: Callable[[dict[str, Any]], bool]) -> tuple[int, int, int, int]:
    """Hits and deployments in the first and second half of the window."""
    middle = team.window.since + (team.window.until - team.window.since) / 2
    first = [d for d in team.shipping if d["finished_at"] < middle]
    second = [d for d in team.shipping if d["finished_at"] >= middle]
    return (
        sum(1 for d in first if hit(d)),
        len(first),
        sum(1 for d in second if hit(d)),
        len(second),
    )


def defect_halves(team: Team) -> tuple[int, int, int, int]:
    middle = team.window.since + (team.window.until - team.window.since) / 2
    k0 = sum(1 for d in team.rows.defects if d["found_at"] < middle)
    _, n0, _, n1 = by_halves(team, lambda d: False)
    return k0, n0, len(team.rows.defects) - k0, n1


def month_labels(team: Team) -> list[str]:
    return [f"{m.since:%Y-%m}" for m in team.months]


def failed(d: dict[str, Any]) -> bool:
    return bool(d["failed"])


def monthly_series(team: Team, **values: list[float | None]) -> list[dict[str, Any]]:
    labels = month_labels(team)
    return [
        {"month": labels[i], **{k: rounded(v[i]) for k, v in values.items()}}
        for i in range(len(labels))
    ]


def window_for(current: Period, months: int = 6) -> Period:
    """The `months` calendar months ending with `current`."""
    start = current.since
    index = start.year * 12 + start.month - 1 - (months - 1)
    return Period(datetime(index // 12, index % 12 + 1, 1), current.until)
