"""Signing in with a Headway token and out again, and the app's own assets.

The login form posts the token's secret once; the answer sets the session cookie
(`headway.web.session`) and the secret is not kept anywhere the browser can read. Only role
tokens (viewer, editor, admin) sign in: scrape tokens and SDK keys are for programs.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from headway.flags.tokens import Token
from headway.web.oidc import login_link
from headway.web.render import HEADERS, Posted, posted, read_form, render, safe_next
from headway.web.session import (
    LOGIN_COOKIE,
    ROLES,
    Keys,
    current,
    keep_login_nonce,
    login_nonce,
    start,
    stop,
)
from headway.web.throttle import failed, held

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

# The files the app serves, by name; nothing else under /static is reachable.
ASSETS = {
    "app.css": "text/css; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "favicon.ico": "image/x-icon",
}


def _form(request: Request, target: str, status: int = 200, problem: str | None = None) -> Response:
    """The login form, with the CSRF token of this browser's login nonce."""
    keys: Keys = request.app.state.web_keys
    nonce = login_nonce(request)
    page = render(
        request,
        "login.html",
        None,
        status,
        title="Sign in",
        next=target,
        problem=problem,
        login_csrf=keys.login_csrf(nonce),
        sso=login_link(request, target),
    )
    keep_login_nonce(request, page, nonce)
    return page


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if current(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return _form(request, safe_next(next))


@router.post("/login")
async def login(request: Request) -> Response:
    fields = await read_form(request)
    secret = fields.get("token", "").strip()
    target = safe_next(fields.get("next"))
    keys: Keys = request.app.state.web_keys
    wait = held(request)
    if wait is not None:
        why = (
            "Too many failed sign-ins from this address (HEADWAY_LOGIN_RATE_LIMIT): "
            f"try again in {wait} s."
        )
        page = _form(request, target, 429, why)
        page.headers["Retry-After"] = str(wait)
        return page
    if not keys.login_ok(request.cookies.get(LOGIN_COOKIE), fields.get("csrf")):
        why = "The sign-in form is out of date or came from another site: send it again."
        return _form(request, target, 403, why)
    token: Token | None = (
        await run_in_threadpool(request.app.state.tokens.verify, secret) if secret else None
    )
    problem = None
    if token is None:
        problem = (
            "That token is unknown, expired or revoked. Paste a viewer, editor or admin token."
        )
    elif token.kind not in ROLES:
        problem = (
            f"A {token.kind} token is for programs, not people: sign in with a viewer, editor or "
            "admin token (`headway tokens create --kind viewer`)."
        )
    if problem or token is None:
        failed(request)
        return _form(request, target, 401, problem)
    answer = RedirectResponse(target, status_code=303)
    answer.delete_cookie(LOGIN_COOKIE, path="/login")
    role = ROLES[ROLES.index(token.kind)]  # the token's kind, as a web role
    start(request, answer, token.id, role, token.name)
    return answer


@router.post("/logout")
def logout(form: Annotated[Posted, Depends(posted("viewer"))]) -> Response:
    answer = RedirectResponse("/login", status_code=303)
    stop(answer)
    return answer


def _asset(name: str) -> Response:
    body = files("headway.web").joinpath("static", name).read_bytes()
    headers = {**HEADERS, "Cache-Control": "public, max-age=3600"}
    return Response(body, media_type=ASSETS[name], headers=headers)


@router.get("/favicon.ico")
def favicon() -> Response:
    return _asset("favicon.ico")


@router.get("/static/{name}")
def static(name: str) -> Response:
    if name not in ASSETS:
        return HTMLResponse("no such file", status_code=404, headers=HEADERS)
    return _asset(name)
