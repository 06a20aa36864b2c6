"""The review's figures on an analytics engine (`sources.Figures`), all read through one
connection: imported only when HEADWAY_ENGINE is set, since the engines need their extra."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from headway.definitions import Definition
from headway.engines.connect import Engine
from headway.engines.flow import EngineFlow
from headway.engines.sets import metric_sets
from headway.engines.signal_rows import EngineSignals
from headway.interpret.sources import Records
from headway.metrics import flow, signals
from headway.metrics.dora import MetricSet
from headway.metrics.flow import FlowBreakdown
from headway.metrics.scope import Period, Scope

__all__ = ["EngineFigures"]


@dataclass(frozen=True)
class EngineFigures:
    engine: Engine

    @property
    def records(self) -> Records:
        return Records(EngineSignals(self.engine), EngineFlow(self.engine))

    def metric_set(
        self, defn: Definition, scope: Scope, period: Period, *, year: str, by: str | None = None
    ) -> MetricSet:
        return metric_sets(self.engine, defn, scope, period, year=year, by=by)[0]

    def each(
        self, defn: Definition, kind: str, period: Period, *, year: str, within: Scope
    ) -> list[MetricSet]:
        return metric_sets(self.engine, defn, within, period, year=year, each=kind)

    def flow(self, defn: Definition, scope: Scope, period: Period, by: str) -> FlowBreakdown:
        return flow.breakdown(EngineFlow(self.engine), defn, scope, period, by=by)

    def signals(
        self, defn: Definition, scope: Scope, period: Period, *, by: str, ai: Any
    ) -> dict[str, Any]:
        source = EngineSignals(self.engine)
        return signals.compute(None, defn, scope, period, by=by, ai=ai, source=source)

    def team_metrics(self, defn: Definition, scope: Scope, period: Period) -> dict[str, Any]:
        return self.metric_set(defn, scope, period, year="2024").to_json()
