"""Where the review reads: the store's statements, or an analytics engine's expressions
(`engines.sets`, `engines.signal_rows`, `engines.flow`), which give the same numbers.

A detector reads windows (`windows.Window`) and team months (`months.Team`): the friction
signals' record sets and the flow of each change, for some services over some period
(`Records`). The review reads metric sets, the flow breakdown and the signals besides
(`Figures`; `on_engine.EngineFigures` is the engine's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from headway.definitions import Definition
from headway.metrics import dora, flow, signals
from headway.metrics.dora import MetricSet
from headway.metrics.flow import FlowBreakdown
from headway.metrics.flow_source import FlowSource, StoreFlow
from headway.metrics.scope import Period, Scope
from headway.metrics.signal_rows import Rows, SignalSource, StoreSignals
from headway.metrics.stages import ChangeFlow, change_flows
from headway.store import Store

__all__ = ["Figures", "Records", "StoreFigures", "records_of"]


@dataclass(frozen=True)
class Records:
    """The record sets and the change flows, from one source."""

    signals: SignalSource
    flows: FlowSource

    def rows(self, defn: Definition, names: list[str], period: Period) -> Rows:
        return self.signals.rows(defn, names, period)

    def change_flows(self, defn: Definition, names: list[str], period: Period) -> list[ChangeFlow]:
        return change_flows(self.flows, defn, names, period)


def records_of(source: Store | Records) -> Records:
    """`source` itself, or the store's own statements."""
    if isinstance(source, Records):
        return source
    return Records(StoreSignals(source), StoreFlow(source))


class Figures(Protocol):
    """What the review computes beside its findings, and the records its detectors read."""

    @property
    def records(self) -> Records: ...

    def metric_set(
        self, defn: Definition, scope: Scope, period: Period, *, year: str, by: str | None = None
    ) -> MetricSet: ...

    def each(
        self, defn: Definition, kind: str, period: Period, *, year: str, within: Scope
    ) -> list[MetricSet]: ...

    def flow(self, defn: Definition, scope: Scope, period: Period, by: str) -> FlowBreakdown: ...

    def signals(
        self, defn: Definition, scope: Scope, period: Period, *, by: str, ai: Any
    ) -> dict[str, Any]: ...

    def team_metrics(self, defn: Definition, scope: Scope, period: Period) -> dict[str, Any]: ...


@dataclass(frozen=True)
class StoreFigures:
    """Every figure by the store's own statements."""

    store: Store

    @property
    def records(self) -> Records:
        return records_of(self.store)

    def metric_set(
        self, defn: Definition, scope: Scope, period: Period, *, year: str, by: str | None = None
    ) -> MetricSet:
        return dora.compute(self.store, defn, scope, period, year=year, by=by)

    def each(
        self, defn: Definition, kind: str, period: Period, *, year: str, within: Scope
    ) -> list[MetricSet]:
        return dora.compute_each(self.store, defn, kind, period, year=year, within=within)

    def flow(self, defn: Definition, scope: Scope, period: Period, by: str) -> FlowBreakdown:
        return flow.breakdown(self.store, defn, scope, period, by=by)

    def signals(
        self, defn: Definition, scope: Scope, period: Period, *, by: str, ai: Any
    ) -> dict[str, Any]:
        return signals.compute(self.store, defn, scope, period, by=by, ai=ai)

    def team_metrics(self, defn: Definition, scope: Scope, period: Period) -> dict[str, Any]:
        return dora.compute(self.store, defn, scope, period).to_json()
