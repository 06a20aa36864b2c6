"""Where the review's detectors read their records: the store's statements, or an analytics
engine's expressions (`engines.signal_rows`, `engines.flow`), which give the same rows.

A detector reads windows (`windows.Window`) and team months (`months.Team`): the friction
signals' record sets and the flow of each change, for some services over some period.
"""

from __future__ import annotations

from dataclasses import dataclass

from headway.definitions import Definition
from headway.metrics.flow_source import FlowSource, StoreFlow
from headway.metrics.scope import Period
from headway.metrics.signal_rows import Rows, SignalSource, StoreSignals
from headway.metrics.stages import NO_MOMENTS, ChangeFlow, cut
from headway.store import Store

__all__ = ["Records", "records_of"]


@dataclass(frozen=True)
class Records:
    """The record sets and the change flows, from one source."""

    signals: SignalSource
    flows: FlowSource

    def rows(self, defn: Definition, names: list[str], period: Period) -> Rows:
        return self.signals.rows(defn, names, period)

    def change_flows(self, defn: Definition, names: list[str], period: Period) -> list[ChangeFlow]:
        """As `metrics.stages.change_flows`: the changes the flow covers, cut into stages."""
        moments = self.flows.shipped(defn, names, period) if names else NO_MOMENTS
        return cut(defn, moments).listed()


def records_of(source: Store | Records) -> Records:
    """`source` itself, or the store's own statements."""
    if isinstance(source, Records):
        return source
    return Records(StoreSignals(source), StoreFlow(source))
