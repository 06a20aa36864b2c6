"""The developer confidence pulse in the app: `/pulse` for people signed in (answer for one of
their teams, read the results per team and month), and `/pulse/CODE`, a survey link that
anyone holding it may answer without a token.

An answer keeps only its team, month and scores (`headway.interpret.pulse`). What stops one
person answering twenty times, as far as anonymity allows (docs/decisions.md): a signed cookie
that marks the link (or the team and month) answered in this browser, and two limits, per
client address (HEADWAY_PULSE_RATE_LIMIT) and per link (HEADWAY_PULSE_LINK_RATE_LIMIT).
The link's form carries a CSRF token of a nonce in its own cookie, as the login form does.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from headway.interpret import pulse, pulse_links
from headway.ratelimit import shared
from headway.store import Store
from headway.web.render import Denied, Posted, Viewing, posted, read_form, render
from headway.web.session import Keys, Session
from headway.web.store import INPUT_ERRORS, WebStore
from headway.web.throttle import client_address

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
AnswerForm = Annotated[Posted, Depends(posted("viewer"))]

NONCE_COOKIE = "headway_pulse_form"
DONE_COOKIE = "headway_pulse_done"
_DONE_KEPT = 50  # the latest answers a browser remembers


def _now() -> datetime:
    return datetime.now(UTC)


def _set(request: Request, response: Response, name: str, value: str) -> None:
    # Lax, not Strict: a link opened from a chat or an e-mail must show "answered" at once.
    response.set_cookie(
        name,
        value,
        max_age=400 * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/pulse",
    )


def _done(request: Request) -> list[str]:
    """What this browser answered already: `link:DIGEST` and `team:NAME:MONTH` entries."""
    keys: Keys = request.app.state.web_keys
    sealed = request.cookies.get(DONE_COOKIE)
    text = keys.open_value("pulse-done", sealed) if sealed else None
    return text.split("\n") if text else []


def _mark(request: Request, response: Response, entry: str) -> None:
    keys: Keys = request.app.state.web_keys
    entries = [*_done(request), entry][-_DONE_KEPT:]
    _set(request, response, DONE_COOKIE, keys.seal_value("pulse-done", "\n".join(entries)))


def _held(request: Request, *keys: tuple[str, str, str]) -> HTMLResponse | None:
    """Count one answer against each (limit, setting, key); the 429 page once one is over."""
    for name, setting, key in keys:
        wait = shared(request.app, name, setting).retry_after(key)
        if wait is not None:
            env = f"HEADWAY_{setting.upper()}"
            page = render(
                request,
                "pulse_link.html",
                None,
                429,
                title="Too many answers",
                state="problem",
                why=f"Too many answers ({env}): try again in {wait} s.",
            )
            page.headers["Retry-After"] = str(wait)
            return page
    return None


# -- signed in ------------------------------------------------------------------------------


def _teams(store: Store, session: Session) -> list[str]:
    return list(session.teams) if session.teams is not None else pulse.teams(store)


def _page(
    request: Request, store: Store, session: Session, status: int = 200, **more: Any
) -> HTMLResponse:
    teams = _teams(store, session)
    found = pulse.results(store) if session.teams is None else _only(store, teams)
    return render(
        request,
        "pulse.html",
        session,
        status,
        title="Developer confidence pulse",
        teams=teams,
        questions=pulse.QUESTIONS,
        results=found,
        answered=request.query_params.get("answered"),
        **more,
    )


def _only(store: Store, teams: list[str]) -> dict[str, Any]:
    shown = pulse.results(store, include=teams)
    return {**shown, "teams": [t for t in shown["teams"] if t["team"] in teams]}


@router.get("/pulse")
def pulse_page(request: Request, store: WebStore, session: Viewing) -> HTMLResponse:
    return _page(request, store, session)


@router.post("/pulse")
def answer_signed_in(request: Request, store: WebStore, form: AnswerForm) -> Response:
    session = form.session
    team = form.get("team")
    if team not in _teams(store, session):
        raise Denied(f"You may answer for teams {', '.join(_teams(store, session))} only.")
    now = _now()
    entry = f"team:{team}:{pulse.month_of(now)}"
    if entry in _done(request):
        why = f"This browser answered for {team} this month already: thank you."
        return _page(request, store, session, 409, problem=why, chosen=team)
    held = _held(
        request,
        ("pulse_limit", "pulse_rate_limit", client_address(request)),
        ("pulse_people", "pulse_rate_limit", session.actor),
    )
    if held is not None:
        return held
    try:
        pulse.answer(store, team, form.fields, now)
    except INPUT_ERRORS as error:
        return _page(
            request,
            store,
            session,
            422,
            problem=str(error),
            field=getattr(error, "field", None),
            chosen=team,
            given=form.fields,
        )
    answer = RedirectResponse(f"/pulse?{urlencode({'answered': team})}", status_code=303)
    _mark(request, answer, entry)
    return answer


# -- through a link, without a token --------------------------------------------------------


def _link_page(
    request: Request, code: str, state: str, status: int = 200, **more: Any
) -> HTMLResponse:
    keys: Keys = request.app.state.web_keys
    nonce = request.cookies.get(NONCE_COOKIE) or secrets.token_hex(16)
    page = render(
        request,
        "pulse_link.html",
        None,
        status,
        title="Developer confidence pulse",
        state=state,
        code=code,
        questions=pulse.QUESTIONS,
        form_csrf=keys.seal_value("pulse-form", nonce),
        **more,
    )
    _set(request, page, NONCE_COOKIE, nonce)
    return page


def _team_of(request: Request, store: Store, code: str) -> str | HTMLResponse:
    """The link's team, or the page saying it is unknown (404) or expired (410)."""
    try:
        return pulse_links.resolve(store, code, _now())
    except pulse_links.LinkNotFound:
        why = "There is no survey at this address: check the link you were sent."
        return render(
            request, "pulse_link.html", None, 404, title="No such survey", state="problem", why=why
        )
    except pulse_links.LinkExpired as error:
        why = f"This survey is closed: {error}. Ask for this month's link."
        return render(
            request, "pulse_link.html", None, 410, title="Survey closed", state="problem", why=why
        )


@router.get("/pulse/{code}")
def link_page(request: Request, store: WebStore, code: str) -> Response:
    team = _team_of(request, store, code)
    if isinstance(team, HTMLResponse):
        return team
    if f"link:{pulse_links.digest(code)[:16]}" in _done(request):
        return _link_page(request, code, "thanks", team=team)
    return _link_page(request, code, "form", team=team)


@router.post("/pulse/{code}")
async def answer_by_link(request: Request, store: WebStore, code: str) -> Response:
    held = _held(request, ("pulse_limit", "pulse_rate_limit", client_address(request)))
    if held is not None:
        return held
    team = await run_in_threadpool(_team_of, request, store, code)
    if isinstance(team, HTMLResponse):
        return team
    fields = await read_form(request)
    keys: Keys = request.app.state.web_keys
    nonce = request.cookies.get(NONCE_COOKIE)
    sent = keys.open_value("pulse-form", fields.get("csrf", ""))
    if nonce is None or sent is None or not secrets.compare_digest(nonce, sent):
        why = "The form is out of date or came from another site: reload the page and answer again."
        return _link_page(request, code, "form", 403, team=team, problem=why)
    entry = f"link:{pulse_links.digest(code)[:16]}"
    if entry in _done(request):
        return _link_page(request, code, "thanks", 409, team=team)
    held = _held(request, ("pulse_link_limit", "pulse_link_rate_limit", entry))
    if held is not None:
        return held
    try:
        await run_in_threadpool(pulse.answer, store, team, fields, _now())
    except INPUT_ERRORS as error:
        return _link_page(
            request,
            code,
            "form",
            422,
            team=team,
            problem=str(error),
            field=getattr(error, "field", None),
            given=fields,
        )
    answer = RedirectResponse(f"/pulse/{code}", status_code=303)
    _mark(request, answer, entry)
    return answer
