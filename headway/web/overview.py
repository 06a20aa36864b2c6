"""The delivery overview: the five DORA metrics of a scope and window, with their levels, the
number of records behind each and a trend chart, and the scopes one level down to drill into.

Its JSON twin is `GET /api/metrics` with the same query (plus `by` for the trend, and
`each=<child kind>` for the table below): the page calls the same functions that route calls.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from headway import answers
from headway.metrics import bands
from headway.metrics.results import MetricSetResult
from headway.web.charts import Point, trend
from headway.web.format import figure
from headway.web.render import Reading, render
from headway.web.store import INPUT_ERRORS, WebStore, refused, unavailable
from headway.web.view import CHILD, View

__all__ = ["FIGURES", "Figure", "router"]

router = APIRouter(include_in_schema=False)


@dataclass(frozen=True)
class Figure:
    """One of the five metrics: how to read its value and its records from a metric set."""

    key: str
    title: str
    unit: str
    value: Callable[[Any], float | None]
    count: Callable[[Any], int]  # the records behind the value
    noun: str
    records: str  # the records page listing them
    only: str | None = None  # and its filter

    def read(self, metrics: MetricSetResult) -> tuple[float | None, int]:
        """The value and its count; no value where no record stands behind it (a gap)."""
        part = getattr(metrics, self.key)
        n = self.count(part)
        return (self.value(part) if n else None), n


# In the order of DORA's factors: throughput, then instability (`bands.FACTORS`).
FIGURES = (
    Figure(
        "change_lead_time",
        "Change lead time (median)",
        "s",
        lambda m: m.median_s,
        lambda m: m.changes,
        "changes",
        "changes",
        "shipped",
    ),
    Figure(
        "deployment_frequency",
        "Deployment frequency",
        "per week",
        lambda m: m.per_week,
        lambda m: m.deployments,
        "deployments",
        "deployments",
    ),
    Figure(
        "failed_deployment_recovery_time",
        "Failed deployment recovery time (median)",
        "s",
        lambda m: m.median_s,
        lambda m: m.recoveries,
        "recoveries",
        "deployments",
        "recovered",
    ),
    Figure(
        "change_fail_rate",
        "Change fail rate",
        "%",
        lambda m: m.rate,
        lambda m: m.deployments,
        "deployments",
        "deployments",
        "failed",
    ),
    Figure(
        "deployment_rework_rate",
        "Deployment rework rate",
        "%",
        lambda m: m.rate,
        lambda m: m.deployments,
        "deployments",
        "deployments",
        "rework",
    ),
)


@dataclass(frozen=True)
class Card:
    figure: Figure
    value: str
    level: str | None
    count: int
    href: str
    chart: str
    reason: str | None = None  # why there is no value, or why no level ("too few to rate")


def _records(view: View, fig: Figure) -> str:
    return view.link(f"/records/{fig.records}", {"only": fig.only} if fig.only else None)


def _card(view: View, fig: Figure, metrics: MetricSetResult) -> Card:
    value, n = fig.read(metrics)
    points = []
    for bucket in metrics.trend or []:
        v, k = fig.read(bucket)
        label = bucket.period.since[5:10] if view.by == "week" else bucket.period.since[:7]
        start = bucket.period.since[:10]
        tip = (
            f"{view.by} of {start}: {figure(v, fig.unit)} from {k} {fig.noun}"
            if v is not None
            else f"{view.by} of {start}: no {fig.noun}"
        )
        within = view.window(bucket.period.since, bucket.period.until)
        points.append(Point(label, v, tip, _records(within, fig)))
    part = getattr(metrics, fig.key)
    level = getattr(part, "level", None)
    too_few = getattr(part, "level_reason", None) if value is not None else None
    return Card(
        fig,
        "no data" if value is None else figure(value, fig.unit),
        level or ("too few to rate" if too_few else None),
        n,
        _records(view, fig),
        trend(fig.title, points, fig.unit),
        part.reason if value is None else too_few,
    )


@router.get("/")
def overview(request: Request, store: WebStore, session: Reading) -> HTMLResponse:
    try:
        view = View.of(request)
        defn, scope, period = view.inputs(store)
        child = CHILD[scope.kind]
        # the scope, its trend and the table below it, where HEADWAY_ENGINE says (on the
        # store, from one pass per metric)
        settings = request.app.state.settings
        doc, each = answers.overview(
            settings, store, defn, scope, period, child, year=view.levels, by=view.by
        )
        metrics = MetricSetResult.model_validate(doc.to_json())
        rows = [MetricSetResult.model_validate(m.to_json()) for m in each]
    except INPUT_ERRORS as error:
        return refused(request, session, error)
    except answers.EngineUnavailable as error:
        return unavailable(request, session, error)
    return render(
        request,
        "overview.html",
        session,
        title=f"Delivery · {scope.describe()}",
        view=view,
        metrics=metrics,
        factors=_factors([_card(view, f, metrics) for f in FIGURES]),
        figures=FIGURES,
        child=child,
        rows=rows,
        trail=_trail(view, metrics),
        api=view.link("/api/metrics", {"by": view.by}),  # the trend, even by the default week
        read=lambda m, f: f.read(m),
        shipped=_records(view, FIGURES[0]),  # release lead time counts the shipped changes
    )


def _factors(cards: list[Card]) -> list[tuple[str, list[Card]]]:
    """The cards under DORA's two factors: throughput first, then instability."""
    by_key = {card.figure.key: card for card in cards}
    return [(factor, [by_key[k] for k in keys]) for factor, keys in bands.FACTORS.items()]


def _trail(view: View, metrics: MetricSetResult) -> list[tuple[str, str | None]]:
    """The breadcrumb: the organisation, the one context a narrower scope lies in, the scope."""
    crumbs: list[tuple[str, str | None]] = [
        ("Organisation", view.scoped("organisation", None).link("/"))
    ]
    kind, name = metrics.scope.kind, metrics.scope.name
    if kind in ("team", "service") and len(metrics.scope.contexts) == 1:
        context = metrics.scope.contexts[0]
        crumbs.append((f"context {context}", view.scoped("context", context).link("/")))
    if kind != "organisation":
        crumbs.append((f"{kind} {name}", None))
    else:
        crumbs[0] = ("Organisation", None)
    return crumbs
