"""Where the review and its findings are computed: on the store, or on the analytics engine
HEADWAY_ENGINE names (`on_engine`, imported only then, since the engines need their extra)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from headway import answers
from headway.config import Settings
from headway.interpret.sources import Figures, StoreFigures
from headway.store import Store

__all__ = ["figures_where"]


@contextmanager
def figures_where(settings: Settings, store: Store, *, server: bool = False) -> Iterator[Figures]:
    """The figures where the settings say, for the block: the store's, or those of the
    analytics engine HEADWAY_ENGINE names, through one connection held until the block ends
    (`answers.EngineUnavailable` when it cannot run)."""
    if settings.engine is None:
        yield StoreFigures(store)
        return
    with answers.engine_errors(settings):
        from headway.engines.connect import connected
        from headway.interpret.on_engine import EngineFigures

        spark = answers.spark_for(settings, server)
        with connected(settings, store=store, spark=spark) as engine:
            yield EngineFigures(engine)
