"""Rendering pages and guarding them: templates, security headers, the session a page needs,
and the checked form a write posts.

Every page is rendered here with the same headers: a Content-Security-Policy that admits only
this server's own style sheet, script and images (no inline script, no other origin), no
framing, no caching. A page without a session redirects to the login page; a session whose
role is too weak gets a 403 page naming the role it takes; a write whose CSRF token does not
match gets a 403 too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool

from headway.query import OutsideScope, within_teams
from headway.web import format as fmt
from headway.web.session import Keys, Session, WebRole, current

__all__ = [
    "CSP",
    "Denied",
    "Editing",
    "Posted",
    "Reading",
    "SignIn",
    "Viewing",
    "denied",
    "may_change",
    "posted",
    "render",
    "safe_next",
    "signed_in",
]

CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HSTS = "max-age=31536000"  # a year, this host only (subdomains may be other services)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}

_templates = Environment(
    loader=PackageLoader("headway.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_templates.filters.update(fmt.FILTERS)


class SignIn(Exception):
    """The page needs a session and the request has none: go to the login page, then back."""

    def __init__(self, back: str) -> None:
        super().__init__(back)
        self.back = back


class Denied(Exception):
    """The session may not do this (its role is too weak, or the form's CSRF token is wrong)."""


def render(
    request: Request,
    template: str,
    session: Session | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    keys: Keys = request.app.state.web_keys
    html = _templates.get_template(template).render(
        request=request,
        session=session,
        csrf=keys.csrf(session) if session else "",
        path=request.url.path,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=headers_for(request))


def headers_for(request: Request) -> dict[str, str]:
    """A page's security headers; over https, browsers are also told to keep to https."""
    if request.url.scheme == "https":
        return {**HEADERS, "Strict-Transport-Security": HSTS}
    return HEADERS


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (never `//host` or a URL)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return "/"


def to_login(error: SignIn) -> RedirectResponse:
    return RedirectResponse(f"/login?next={quote(error.back, safe='')}", status_code=303)


def denied(request: Request, error: Exception) -> HTMLResponse:
    return render(request, "error.html", current(request), 403, title="Not allowed", why=str(error))


def _back(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def signed_in(role: WebRole) -> Callable[[Request], Session]:
    """A dependency: the session, of `role` or a stronger one."""

    def check(request: Request) -> Session:
        session = current(request)
        if session is None:
            raise SignIn(_back(request) if request.method == "GET" else "/")
        if not session.may(role):
            raise Denied(f"This takes {_a(role)} token; you signed in with {_a(session.kind)} one.")
        return session

    check.__name__ = f"signed_in_{role}"
    return check


def reading(request: Request) -> Session:
    """A page of delivery records: any role, narrowed to a team-scoped session's teams.

    As the API's reads (`headway.api.scopes`): a page naming no scope shows the session's one
    team (the team is added to the query the page reads, so its links keep it), a page of
    another team, another team's service or a context is refused."""
    session = signed_in("viewer")(request)
    if session.teams is None:
        return session
    given = request.query_params
    try:
        team = within_teams(
            request.app.state.store,
            session.teams,
            given.get("service"),
            given.get("team"),
            given.get("context"),
        )
    except OutsideScope as error:
        raise Denied(f"You may read teams {', '.join(session.teams)} only: {error}.") from None
    if team is not None:
        query = [(k, v) for k, v in given.multi_items() if k not in ("team", "service", "context")]
        request.scope["query_string"] = urlencode([*query, ("team", team)]).encode()
        request.__dict__.pop("_query_params", None)  # parsed again from the new query
    return session


def may_change(session: Session, environment: str | None) -> None:
    """Refuse a change to what `environment` serves (None: every one) outside the session's
    environments."""
    problem = session.may_change(environment)
    if problem:
        raise Denied(problem)


# A page's session: any role may see a Viewing page, an editor or admin an Editing one; a
# Reading page shows delivery records, narrowed to a team-scoped session's teams.
Viewing = Annotated[Session, Depends(signed_in("viewer"))]
Reading = Annotated[Session, Depends(reading)]
Editing = Annotated[Session, Depends(signed_in("editor"))]


class Posted:
    """A write form's fields, from a session allowed to write and with its CSRF token checked."""

    def __init__(self, session: Session, fields: dict[str, str]) -> None:
        self.session = session
        self.fields = fields

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (bounded by the app's body limit); the last of repeated fields."""
    kind = request.headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/x-www-form-urlencoded":
        return {}
    body = (await request.body()).decode("utf-8", errors="replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def posted(role: WebRole) -> Callable[[Request], Awaitable[Posted]]:
    """A dependency for a write: a session of `role` and a form whose CSRF token matches."""

    async def check(request: Request) -> Posted:
        session = await run_in_threadpool(signed_in(role), request)
        fields = await read_form(request)
        keys: Keys = request.app.state.web_keys
        if not keys.csrf_ok(session, fields.get("csrf")):
            raise Denied(
                "The form's security token is missing or out of date: reload the page and "
                "send it again."
            )
        return Posted(session, fields)

    check.__name__ = f"posted_{role}"
    return check
