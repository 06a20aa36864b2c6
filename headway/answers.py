"""The metric sets a reader asks for, computed where the settings say: by the store's own
statements (`metrics.dora`), or on the analytics engine HEADWAY_ENGINE names (`engines`,
docs/engines.md). The CLI, the API and the web app all ask here, so a server set to an engine
answers every surface from it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from headway.config import Settings
from headway.definitions import Definition
from headway.metrics import dora, flow, signals
from headway.metrics.dora import MetricSet, Period, Scope
from headway.metrics.flow import FlowBreakdown
from headway.metrics.record_reads import RecordSource, StoreRecords
from headway.metrics.signal_rows import StoreSignals
from headway.store import Store


class EngineUnavailable(ValueError):
    """The engine the settings name cannot run: the message says why and what to set."""


def metric_sets(
    settings: Settings,
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    year: str = "2024",
    by: str | None = None,
    each: str | None = None,
    server: bool = False,
) -> list[MetricSet]:
    """One metric set for `scope` (with a trend `by` week or month), or one per service,
    team or context inside it (`each`). `server`: keep a Spark session for the next request
    instead of stopping it after this one."""
    if settings.engine is None:
        if each:
            return dora.compute_each(store, defn, each, period, year=year, within=scope)
        return [dora.compute(store, defn, scope, period, year=year, by=by)]
    with engine_errors(settings):
        from headway.engines.sets import on_engine

        return on_engine(
            settings,
            store,
            defn,
            scope,
            period,
            year=year,
            by=by,
            each=each,
            spark=spark_for(settings, server),
        )
    raise AssertionError("unreachable")  # pragma: no cover


def overview(
    settings: Settings,
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    child: str | None,
    *,
    year: str = "2024",
    by: str | None = None,
) -> tuple[MetricSet, list[MetricSet]]:
    """The web overview's numbers: the scope with its trend, and each `child` scope inside
    it. On the store one pass per metric answers all three (`dora.compute_with_each`)."""
    if settings.engine is None:
        return dora.compute_with_each(store, defn, scope, period, child, year=year, by=by)
    [whole] = metric_sets(settings, store, defn, scope, period, year=year, by=by, server=True)
    each = (
        metric_sets(settings, store, defn, scope, period, year=year, each=child, server=True)
        if child
        else []
    )
    return whole, each


def flows(
    settings: Settings,
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    by: str | None = None,
    each: str | None = None,
    server: bool = False,
) -> list[FlowBreakdown]:
    """The flow breakdown of `scope`, or one per service, team or context inside it, where
    the settings say (as `metric_sets`). On an engine the release wait is left out."""
    if settings.engine is None:
        if each:
            return flow.breakdown_each(store, defn, each, period, scope, by)
        return [flow.breakdown(store, defn, scope, period, by)]
    with engine_errors(settings):
        from headway.engines.flow import on_engine_flows

        spark = spark_for(settings, server)
        return on_engine_flows(settings, store, defn, scope, period, by=by, each=each, spark=spark)
    raise AssertionError("unreachable")  # pragma: no cover


def signal_docs(
    settings: Settings,
    store: Store,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    by: str = "week",
    ai: signals.AiRule | None = None,
    each: str | None = None,
    server: bool = False,
) -> list[dict[str, Any]]:
    """Every friction signal of `scope`, or of each service, team or context inside it,
    where the settings say (as `metric_sets`)."""
    if settings.engine is None:
        source = StoreSignals(store)
        return signals.compute_each(source, defn, scope, period, by=by, ai=ai, each=each)
    with engine_errors(settings):
        from headway.engines.signal_rows import on_engine_signals

        spark = spark_for(settings, server)
        return on_engine_signals(
            settings, store, defn, scope, period, by=by, ai=ai, each=each, spark=spark
        )
    raise AssertionError("unreachable")  # pragma: no cover


@contextmanager
def record_source(
    settings: Settings, store: Store, *, server: bool = False
) -> Iterator[RecordSource]:
    """Where the records lists read their rows while the caller lists them
    (`metrics.records`): the store's statements, or the engine's expressions, connected
    until the block ends (as `metric_sets`)."""
    if settings.engine is None:
        yield StoreRecords(store)
        return
    with engine_errors(settings):
        from headway.engines.record_facts import on_engine

        with on_engine(settings, store, spark=spark_for(settings, server)) as source:
            yield source


@contextmanager
def engine_errors(settings: Settings) -> Iterator[None]:
    """The engines extra missing, or an engine refusing its settings, as EngineUnavailable."""
    try:
        from headway.engines import EngineError
    except ImportError as error:
        raise EngineUnavailable(
            f"HEADWAY_ENGINE={settings.engine} needs the engines extra: "
            f"pip install 'headway[spark]' ({error})"
        ) from None
    try:
        yield
    except EngineError as error:
        raise EngineUnavailable(str(error)) from None


def spark_for(settings: Settings, server: bool) -> Any:
    """A server's Spark session, kept for the next request; None lets each call make one."""
    if not (server and settings.engine == "spark"):
        return None
    from headway.engines.spark import session

    return session(settings.spark_url)
