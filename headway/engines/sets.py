"""Metric sets on an engine: what `headway metrics` and `GET /api/metrics` answer, with the
five figures computed by the engine's expressions instead of the store's statements.

The scope, its services and contexts, the warnings and the trend come out as
`metrics.dora.compute` makes them, so a document differs from the store's only where the
engine's numbers would (and they are held equal by tests/engines). Release lead time reads the
flags' history, which lives on the transactional store only; on an engine it is left out and a
warning says so (docs/engines.md).
"""

from __future__ import annotations

from typing import Any

from headway.config import Settings
from headway.definitions import Definition
from headway.engines.connect import Engine, connected
from headway.engines.dora import Query
from headway.engines.run import (
    empty,
    figures,
    latest_deployments,
    render,
    scope_services,
    service_rows,
    trend,
)
from headway.metrics import dora
from headway.metrics.dora import MetricSet, Period, Scope
from headway.metrics.scope import bucket_starts, next_start
from headway.store import Store

NO_RELEASE = (
    "Release lead time is computed on the store only (it reads the flags' history): "
    "unset HEADWAY_ENGINE to see it."
)


def metric_sets(
    engine: Engine,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    year: str = "2024",
    by: str | None = None,
    each: str | None = None,
) -> list[MetricSet]:
    """One metric set for `scope` (with a trend `by` week or month), or one per service, team
    or context inside it (`each`)."""
    services = scope_services(engine, scope)
    if each:
        return _each(engine, defn, services, each, period, year)
    q = Query(defn, tuple(s for s, _ in services), period)
    found = figures(engine, q).get("organisation")
    one = dora.assemble(
        defn, scope, period, services, year, render(defn, period, found or empty(), year)
    )
    if by:
        parts = trend(engine, defn, scope, period, by, year=year)
        for start, figs in zip(bucket_starts(period, by), parts, strict=True):
            sub = Period(max(start, period.since), min(next_start(start, by), period.until))
            one.trend.append(dora.assemble(defn, scope, sub, services, year, figs))
    dora.warn_when_blended(one)
    _say_when_empty(engine, defn, [one])
    return [one]


def _each(
    engine: Engine,
    defn: Definition,
    services: list[tuple[str, str]],
    kind: str,
    period: Period,
    year: str,
) -> list[MetricSet]:
    names = {s for s, _ in services}
    key_of = {row["name"]: row[kind] for row in service_rows(engine) if row["name"] in names}
    q = Query(defn, tuple(sorted(names)), period, group=kind)
    found = figures(engine, q)
    out = []
    for key in sorted(set(key_of.values())):
        members = [(s, c) for s, c in services if key_of[s] == key]
        raw = found.get(key) or empty()
        figs = render(defn, period, raw, year)
        out.append(dora.assemble(defn, Scope(kind, key), period, members, year, figs))
    _say_when_empty(engine, defn, out)
    return out


def _say_when_empty(engine: Engine, defn: Definition, sets: list[MetricSet]) -> None:
    """As the store says it (an empty scope names its latest deployment), and that release
    lead time is not on an engine."""
    dora.say_when_empty(sets, lambda services: latest_deployments(engine, defn, services))
    for m in sets:
        m.warnings.append(NO_RELEASE)


def on_engine(
    settings: Settings,
    store: Store | None,
    defn: Definition,
    scope: Scope,
    period: Period,
    *,
    year: str = "2024",
    by: str | None = None,
    each: str | None = None,
    spark: Any = None,
) -> list[MetricSet]:
    """`metric_sets` on the engine the settings name, connected for this call: through
    `store` when it is the DuckDB store this process has open, on `spark` (a session kept by
    the caller, as a server does) or on a session made and stopped here."""
    with connected(settings, store=store, spark=spark) as engine:
        return metric_sets(engine, defn, scope, period, year=year, by=by, each=each)
