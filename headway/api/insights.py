"""Read API for flow, signals, findings, the review and notes: the same JSON as the CLI."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from headway import answers
from headway.api.auth import Editor, acting
from headway.api.deps import ReaderDep, StoreDep
from headway.api.fields import STRICT
from headway.api.params import (
    DAY,
    MONTH_PATTERN,
    By,
    Context,
    Definition,
    Each,
    Levels,
    Month,
    PageDep,
    Service,
    Since,
    Team,
    Until,
)
from headway.api.responses import READ_ERRORS
from headway.api.scopes import note_scope, team_reader
from headway.interpret import notes, review
from headway.interpret.findings import detect_where
from headway.interpret.results import Findings, Note, NotedFlow, NotedSignals, Review
from headway.metrics import signals
from headway.metrics.scope import Period, Scope
from headway.query import definition_of, scope_of
from headway.query import inputs as query_inputs

# Reads need a viewer token (the router's dependency), narrowed to a team-scoped token's teams
# (headway.api.scopes); recording a note, an editor's.
router = APIRouter(
    prefix="/api",
    tags=["insights"],
    dependencies=[Depends(team_reader)],
    responses=READ_ERRORS,
)

AiList = Annotated[
    list[str] | None, Query(description="Replaces the default AI-assisted rule part.")
]


def _noted(store: Any, doc: dict[str, Any], period: Period) -> dict[str, Any]:
    """The interpretation notes on the document's scope, shown beside its numbers."""
    kind, name = doc["scope"]["kind"], doc["scope"]["name"]
    scope = Scope() if kind == "organisation" else Scope(kind, name)
    return {**doc, "notes": notes.for_scope(store, scope, period)}


@router.get("/flow", summary="Lead time split into stages, with where work waits longest")
def get_flow(
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
) -> NotedFlow | list[NotedFlow]:
    defn, scope, period = query_inputs(store, service, team, context, since, until, definition)
    settings = request.app.state.settings
    found = answers.flows(settings, store, defn, scope, period, by=by, each=each, server=True)
    docs = [NotedFlow.model_validate(_noted(store, b.to_json(), period)) for b in found]
    return docs if each else docs[0]


@router.get("/signals", summary="Friction signals: approval latency, batch size, variance, …")
def get_signals(
    request: Request,
    store: ReaderDep,
    service: Service = None,
    team: Team = None,
    context: Context = None,
    since: Since = None,
    until: Until = None,
    by: Annotated[Literal["week", "month"], Query()] = "week",
    each: Each = None,
    definition: Definition = None,
    ai_label: AiList = None,
    ai_author: AiList = None,
    ai_trailer: AiList = None,
) -> NotedSignals | list[NotedSignals]:
    default = signals.AiRule()
    rule = signals.AiRule(
        tuple(ai_label or default.labels),
        tuple(ai_author or default.authors),
        tuple(ai_trailer or default.trailers),
    )
    defn, scope, period = query_inputs(store, service, team, context, since, until, definition)
    settings = request.app.state.settings
    found = answers.signal_docs(
        settings, store, defn, scope, period, by=by, ai=rule, each=each, server=True
    )
    docs = [NotedSignals.model_validate(_noted(store, d, period)) for d in found]
    return docs if each else docs[0]


@router.get(
    "/findings",
    summary="Detector findings for a month, against the two months before",
    response_model_exclude_unset=True,  # a measure has the fields its detector gives it
)
def get_findings(
    request: Request,
    store: ReaderDep,
    period: Month,
    service: Service = None,
    team: Team = None,
    context: Context = None,
    definition: Definition = None,
) -> Findings:
    defn = definition_of(store, definition)
    scope = scope_of(service, team, context)
    settings = request.app.state.settings
    found = detect_where(settings, store, defn, scope, review.month(period), server=True)
    return Findings.model_validate(found)


@router.get(
    "/review", summary="The monthly review document (JSON)", response_model_exclude_unset=True
)
def get_review(
    request: Request,
    store: ReaderDep,
    period: Month,
    service: Service = None,
    team: Team = None,
    context: Context = None,
    definition: Definition = None,
    levels: Levels = "2024",
) -> Review:
    doc = _review(request, store, period, service, team, context, definition, levels)
    return Review.model_validate(doc)


def _review(
    request: Request,
    store: Any,
    period: str,
    service: str | None,
    team: str | None,
    context: str | None,
    definition: str | None,
    levels: str,
) -> dict[str, Any]:
    defn = definition_of(store, definition)
    scope, month = scope_of(service, team, context), review.month(period)
    settings = request.app.state.settings
    return review.build_where(settings, store, defn, scope, month, year=levels, server=True)


@router.get(
    "/review.html",
    summary="The monthly review as a self-contained page",
    response_class=HTMLResponse,
)
def get_review_html(
    request: Request,
    store: ReaderDep,
    period: Month,
    service: Service = None,
    team: Team = None,
    context: Context = None,
    definition: Definition = None,
    levels: Levels = "2024",
) -> HTMLResponse:
    return HTMLResponse(
        review.render_html(
            _review(request, store, period, service, team, context, definition, levels)
        )
    )


# What `notes.parse_scope` and `notes.parse_period` read. A range that ends before it starts
# is a rule between its two dates, answered 400.
SCOPE_PATTERN = r"^(organisation|(service|team|context):[\s\S]+)$"
PERIOD = {
    "anyOf": [
        {"type": "string", "pattern": MONTH_PATTERN},
        {"type": "string", "pattern": f"^{DAY}$"},
        {"type": "string", "pattern": f"^{DAY}\\.\\.{DAY}$"},
    ]
}
ScopeText = Annotated[
    str,
    Field(
        description="organisation, service:NAME, team:NAME or context:NAME",
        examples=["team:web"],
        pattern=SCOPE_PATTERN,
    ),
]
PeriodText = Annotated[
    str,
    Field(
        description="YYYY-MM, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD",
        examples=["2026-10"],
        json_schema_extra=PERIOD,
    ),
]


class NoteCreate(BaseModel):
    model_config = STRICT

    scope: ScopeText
    period: PeriodText
    text: str = Field(pattern=r"\S", description="What the numbers do not show; not blank.")
    author: str = Field(
        "",
        max_length=200,
        description="Who writes it; the note names the token first (`token:NAME for WHO`), "
        "and only the token when this is empty.",
    )


@router.post("/notes", status_code=201, summary="Record an interpretation note")
def post_note(store: StoreDep, body: NoteCreate, token: Editor) -> Note:
    note_scope(store, token, body.scope)
    added = notes.add(
        store,
        notes.parse_scope(body.scope),
        notes.parse_period(body.period),
        body.text,
        author=acting(token, body.author),
    )
    return Note.model_validate(added)


@router.get("/notes", summary="Notes on a scope overlapping a period")
def get_notes(
    request: Request,
    response: Response,
    store: StoreDep,
    page: PageDep,
    period: Annotated[str, Query(description="As for POST /api/notes.", json_schema_extra=PERIOD)],
    scope: Annotated[
        str, Query(description="As for POST /api/notes.", pattern=SCOPE_PATTERN)
    ] = "organisation",
) -> list[Note]:
    found = notes.for_scope(store, notes.parse_scope(scope), notes.parse_period(period))
    return [Note.model_validate(n) for n in page.window(found, request, response)]
