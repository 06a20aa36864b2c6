"""The monthly review in the app: the questions with the evidence that answers them, the
delivery-flow picture, the findings with their evidence and remedy, and the notes people
wrote on the scope, with a form to add one (editors); exported as HTML or Markdown as
`headway review` writes them.

From `headway.interpret.review.build`, as `GET /api/review` (the page's JSON twin), and notes
through `headway.interpret.notes`, as `POST /api/notes`.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from headway import answers
from headway.interpret import charts, notes, review
from headway.interpret.results import Review
from headway.interpret.review_tables import confidence_rows
from headway.metrics.dora import Scope, default_period
from headway.query import OutsideScope, within_teams
from headway.store import Store
from headway.web.render import HEADERS, Denied, Posted, Reading, posted, render
from headway.web.store import INPUT_ERRORS, WebStore, refused, unavailable
from headway.web.view import View

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
NoteForm = Annotated[Posted, Depends(posted("editor"))]


def _month(request: Request, store: Store) -> str:
    """The month asked for, else the month of today (the default period's last day)."""
    given = request.query_params.get("month")
    if given:
        return given
    return (default_period().until - timedelta(days=1)).strftime("%Y-%m")


def _build(request: Request, store: Store) -> tuple[View, str, dict[str, Any]]:
    view = View.of(request)
    month = _month(request, store)
    defn, scope, _ = view.inputs(store)
    settings = request.app.state.settings
    doc = review.build_where(
        settings, store, defn, scope, review.month(month), year=view.levels, server=True
    )
    return view, month, doc


def _scope_text(scope: Scope) -> str:
    return "organisation" if scope.kind == "organisation" else f"{scope.kind}:{scope.name}"


@router.get("/review")
def review_page(request: Request, store: WebStore, session: Reading) -> HTMLResponse:
    try:
        view, month, doc = _build(request, store)
        _, scope, _ = view.inputs(store)
    except INPUT_ERRORS as error:
        return refused(request, session, error)
    except answers.EngineUnavailable as error:
        return unavailable(request, session, error)
    shown = Review.model_validate(doc)
    here = {**view.params(), "month": month}
    return render(
        request,
        "review.html",
        session,
        title=shown.title,
        doc=shown,
        month=month,
        view=view,
        here=here,
        note_scope=_scope_text(scope),
        picture=Markup(charts.flow_picture(doc["flow"], doc["signals"], doc["metrics"])),
        confidence_rows=confidence_rows(doc["confidence"]),
        export=f"/review/export?{urlencode(here)}",
        api=f"/api/review?{urlencode({**view.params(), 'period': month})}",
    )


@router.get("/review/export")
def export(request: Request, store: WebStore, session: Reading, format: str = "html") -> Response:
    if format not in ("html", "md"):
        why = f"format must be html or md, not {format!r}"
        return render(request, "error.html", session, 400, title="Bad request", why=why)
    try:
        _, month, doc = _build(request, store)
    except INPUT_ERRORS as error:
        return refused(request, session, error)
    except answers.EngineUnavailable as error:
        return unavailable(request, session, error)
    body = review.render_html(doc) if format == "html" else review.render_markdown(doc)
    name = f"review-{review.file_part(doc['scope'].get('name') or 'organisation')}-{month}.{format}"
    # A download, not a page of the app: its own inline style stays its own.
    headers = {k: v for k, v in HEADERS.items() if k != "Content-Security-Policy"}
    headers["Content-Disposition"] = f'attachment; filename="{name}"'
    kind = "text/html" if format == "html" else "text/markdown"
    return Response(body, media_type=f"{kind}; charset=utf-8", headers=headers)


@router.post("/review/notes")
def add_note(request: Request, store: WebStore, form: NoteForm) -> Response:
    back = form.get("back") if form.get("back").startswith("/review") else "/review"
    teams = form.session.teams
    if teams is not None:
        kind, _, name = form.get("scope").partition(":")
        try:
            within_teams(
                store, teams, *(name if kind == k else None for k in ("service", "team", "context"))
            )
        except OutsideScope as error:
            raise Denied(
                f"You may write notes on teams {', '.join(teams)} only: {error}."
            ) from None
        if kind not in ("service", "team", "context"):
            raise Denied(f"You may write notes on teams {', '.join(teams)} only.")
    try:
        notes.add(
            store,
            notes.parse_scope(form.get("scope")),
            notes.parse_period(form.get("period")),
            form.get("text"),
            author=form.session.name,
            kind=form.get("kind") or "note",
        )
    except INPUT_ERRORS as error:
        return refused(request, form.session, error)
    return RedirectResponse(back, status_code=303)
