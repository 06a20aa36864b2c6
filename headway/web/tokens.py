"""Tokens, for admins: who holds which kind, making one (its secret shown once) and revoking
one behind a confirmation page. Through `headway.flags.tokens.TokenService`, as the API's
`/api/tokens` routes (the page's JSON twin) and `headway tokens`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from headway.flags.model import ConfigError
from headway.flags.tokens import Token, TokenService
from headway.ratelimit import shared
from headway.web.render import Posted, posted, render, signed_in
from headway.web.session import Session

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
# The least power first, so the form's default is a viewer token.
OFFERED = ("viewer", "editor", "admin", "scrape", "server", "client")
Admin = Annotated[Session, Depends(signed_in("admin"))]
AdminForm = Annotated[Posted, Depends(posted("admin"))]


def _tokens(request: Request) -> TokenService:
    tokens: TokenService = request.app.state.tokens
    return tokens


Tokens = Annotated[TokenService, Depends(_tokens)]


def _page(
    request: Request,
    tokens: TokenService,
    session: Session,
    status: int = 200,
    **context: object,
) -> HTMLResponse:
    now = datetime.now(UTC)
    listed = sorted(tokens.list(), key=lambda t: (not t.live(now), t.created_at))
    return render(
        request,
        "tokens.html",
        session,
        status,
        title="Tokens",
        tokens=listed,
        now=now,
        kinds=OFFERED,
        environments=[e.key for e in request.app.state.flags.environments()],
        **context,
    )


@router.get("/tokens")
def token_list(request: Request, tokens: Tokens, session: Admin) -> HTMLResponse:
    return _page(request, tokens, session)


def _names(text: str) -> list[str] | None:
    """A form's comma-separated names; blank means every one."""
    names = [n.strip() for n in text.split(",") if n.strip()]
    return names or None


@router.post("/tokens")
def make_token(request: Request, tokens: Tokens, form: AdminForm) -> HTMLResponse:
    name, kind = form.get("name").strip(), form.get("kind")
    environment = form.get("environment") or None
    teams, environments = form.get("teams"), form.get("environments")
    asked = {
        "name": name,
        "kind": kind,
        "environment": environment or "",
        "teams": teams,
        "environments": environments,
    }
    # The same allowance as POST /api/tokens: one admin cannot mint tokens by the thousand.
    wait = shared(request.app, "token_limit", "token_rate_limit").retry_after(form.session.actor)
    if wait is not None:
        why = f"Too many tokens made (HEADWAY_TOKEN_RATE_LIMIT): try again in {wait} s."
        page = _page(request, tokens, form.session, 429, problems={"name": why}, asked=asked)
        page.headers["Retry-After"] = str(wait)
        return page
    problems: dict[str, str] = {}
    if not name:
        problems["name"] = "give the token a name, such as who or what holds it"
    if not problems:
        try:
            made, secret = tokens.create(
                kind,
                name=name,
                actor=form.session.actor,
                environment=environment,
                teams=_names(teams),
                environments=_names(environments),
            )
        except ConfigError as error:
            problems = {i.path: i.message for i in error.issues}
        else:
            return _page(request, tokens, form.session, 201, made=made, secret=secret)
    return _page(request, tokens, form.session, 422, problems=problems, asked=asked)


def _find(tokens: TokenService, token_id: str) -> Token | None:
    return next((t for t in tokens.list() if t.id == token_id), None)


@router.get("/tokens/{token_id}/revoke")
def confirm_revoke(request: Request, token_id: str, tokens: Tokens, session: Admin) -> Response:
    token = _find(tokens, token_id)
    if token is None:
        why = f"no token {token_id!r}; the tokens page lists them"
        return render(request, "error.html", session, 404, title="Not found", why=why)
    return render(request, "revoke.html", session, title=f"Revoke {token.name}?", token=token)


@router.post("/tokens/{token_id}/revoke")
def revoke(request: Request, token_id: str, tokens: Tokens, form: AdminForm) -> Response:
    if not tokens.revoke(token_id, actor=form.session.actor):
        why = f"no live token {token_id!r}; it may be revoked already"
        return render(request, "error.html", form.session, 404, title="Not found", why=why)
    return RedirectResponse("/tokens", status_code=303)
