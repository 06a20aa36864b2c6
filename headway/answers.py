"""The metric sets a reader asks for, computed where the settings say: by the store's own
statements (`metrics.dora`), or on the analytics engine HEADWAY_ENGINE names (`engines`,
docs/engines.md). The CLI, the API and the web app all ask here, so a server set to an engine
answers every surface from it.
"""

from __future__ import annotations

from typing import Any

from headway.config import Settings
from headway.definitions import Definition
from headway.metrics import dora
from headway.metrics.dora import MetricSet, Period, Scope
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
    try:
        from headway.engines import EngineError
        from headway.engines.sets import on_engine
        from headway.engines.spark import session
    except ImportError as error:
        raise EngineUnavailable(
            f"HEADWAY_ENGINE={settings.engine} needs the engines extra: "
            f"pip install 'headway[spark]' ({error})"
        ) from None
    spark: Any = None
    if server and settings.engine == "spark":
        spark = session(settings.spark_url)  # the process's session, reused request after request
    try:
        return on_engine(
            settings, store, defn, scope, period, year=year, by=by, each=each, spark=spark
        )
    except EngineError as error:
        raise EngineUnavailable(str(error)) from None
