"""Read API for the metrics and their records: the same JSON contracts as the CLI."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response

from headway import answers
from headway.api.deps import ReaderDep
from headway.api.params import (
    By,
    Context,
    Definition,
    Each,
    Levels,
    PageDep,
    Service,
    Since,
    Team,
    Until,
)
from headway.api.responses import READ_ERRORS
from headway.api.scopes import team_reader
from headway.metrics import records
from headway.metrics.links import Bases
from headway.metrics.refine import FILTERS, SEARCHED, SORTS, Refinement
from headway.metrics.results import (
    Change,
    DefinitionsDiff,
    Deployment,
    Incident,
    MetricSetResult,
)
from headway.query import inputs as query_inputs

router = APIRouter(
    prefix="/api",
    tags=["metrics"],
    dependencies=[Depends(team_reader)],  # viewers, narrowed to their teams
    responses=READ_ERRORS,
)
_RECORDS: dict[str, Any] = {
    "deployments": list[Deployment],
    "changes": list[Change],
    "incidents": list[Incident],
}


@router.get(
    "/metrics",
    summary="The five DORA metrics for a scope and period",
    response_model_exclude_unset=True,  # `trend` is there only with `by`
)
def get_metrics(
    request: Request,
    store: ReaderDep,
    service: Service = None,
    team: Team = None,
    context: Context = None,
    since: Since = None,
    until: Until = None,
    by: By = None,
    each: Each = None,
    definition: Definition = None,
    levels: Levels = "2024",
) -> MetricSetResult | list[MetricSetResult]:
    defn, scope, period = query_inputs(store, service, team, context, since, until, definition)
    settings = request.app.state.settings
    sets = answers.metric_sets(
        settings, store, defn, scope, period, year=levels, by=by, each=each, server=True
    )
    documents = [MetricSetResult.model_validate(m.to_json()) for m in sets]
    return documents if each else documents[0]


@router.get(
    "/definitions/diff",
    summary="One period under two definitions, and how far each differing rule moves each number",
    response_model=DefinitionsDiff,
    response_model_exclude_unset=True,  # the metric sets carry no `trend`
    responses=READ_ERRORS,
)
def get_definitions_diff(
    store: ReaderDep,
    a: Annotated[str, Query(description="First definition (name, NAME@VERSION or preset).")],
    b: Annotated[str, Query(description="Second definition.")],
    service: Service = None,
    team: Team = None,
    context: Context = None,
    since: Since = None,
    until: Until = None,
    levels: Levels = "2024",
) -> Any:
    from headway.metrics.compare import diff

    da, scope, period = query_inputs(store, service, team, context, since, until, a)
    db = query_inputs(store, service, team, context, since, until, b)[0]
    return DefinitionsDiff.model_validate(diff(store, da, db, scope, period, levels))


def _each(table: dict[str, Any]) -> str:
    return "; ".join(f"{kind}: {', '.join(names)}" for kind, names in table.items())


Only = Annotated[str | None, Query(description=f"Only the rows that are ({_each(FILTERS)}).")]
Search = Annotated[
    str | None, Query(max_length=200, description=f"Text searched in ({_each(SEARCHED)}).")
]
Sort = Annotated[str | None, Query(description=f"Order by ({_each(SORTS)}); ties by time.")]
Direction = Annotated[Literal["asc", "desc"], Query(description="The order's direction.")]


def _listing(kind: str):  # type: ignore[no-untyped-def]
    def handler(
        request: Request,
        response: Response,
        store: ReaderDep,
        page: PageDep,
        service: Service = None,
        team: Team = None,
        context: Context = None,
        since: Since = None,
        until: Until = None,
        definition: Definition = None,
        only: Only = None,
        q: Search = None,
        sort: Sort = None,
        dir: Direction = "asc",
    ) -> list[dict[str, Any]]:
        defn, scope, period = query_inputs(store, service, team, context, since, until, definition)
        refine = Refinement(only, q or None, sort, dir == "desc")
        more = page.limit + 1  # one past the page says whether there is a next one
        settings = request.app.state.settings
        bases = Bases(github=settings.github_web_url)
        # on the engine HEADWAY_ENGINE names, when it names one
        with answers.record_source(settings, store, server=True) as source:
            args = (store, defn, scope, period, more, page.offset, refine)
            if kind == "deployments":
                rows = records.deployments(*args, bases, source=source)
            elif kind == "changes":
                rows = records.changes(*args, bases, source=source)
            else:
                rows = records.incidents(*args, source=source)
        return page.fetched(rows, request, response)

    handler.__name__ = f"list_{kind}"
    return handler


for _kind in ("deployments", "changes", "incidents"):
    router.add_api_route(
        f"/{_kind}",
        _listing(_kind),
        methods=["GET"],
        response_model=_RECORDS[_kind],
        summary=f"The {_kind} behind the numbers, with derived facts",
    )
