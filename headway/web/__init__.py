"""The web app served at `/` by `headway serve`: server-rendered pages for people in a browser
over the same services the API routes call (docs/web.md).

Owns: pages, templates, SVG charts, sessions and CSRF tokens, single sign-on with OpenID
Connect (`oidc.py`) and the limit on failed sign-ins (`throttle.py`), the app's own assets,
and the developer confidence pulse's pages (`pulse.py`), whose survey links need no sign-in.
May import: every layer below the surfaces (services, domain, store, config); never
`headway.api` (nor does the API import it: the two share the app's state, the store and the
token and flag services) and never `headway.cli`. `install` adds the pages to the API's app.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

__all__ = ["install", "routers"]


def routers() -> list[APIRouter]:
    """The web app's routers: sign-in and assets, then one per page family."""
    from headway.web import (
        definitions,
        flags,
        flow,
        login,
        oidc,
        overview,
        pulse,
        records,
        review,
        rollouts,
        segments,
        targeting,
        tokens,
        users,
    )

    return [
        login.router,
        oidc.router,
        overview.router,
        records.router,
        flow.router,
        review.router,
        pulse.router,
        definitions.router,
        flags.router,
        targeting.router,
        segments.router,
        rollouts.router,
        tokens.router,
        users.router,
    ]


def install(app: FastAPI) -> FastAPI:
    """Add the web app's pages to `app` (the API app), once."""
    from headway.web.render import Denied, SignIn, denied, to_login
    from headway.web.session import keys_of, session_token

    if getattr(app.state, "web_keys", None) is not None:
        return app
    app.state.web_keys = keys_of(app.state.settings)
    app.state.session_token = session_token  # the API's reads accept a signed-in browser

    async def sign_in(_: Request, error: Exception) -> Response:
        assert isinstance(error, SignIn)
        return to_login(error)

    app.add_exception_handler(SignIn, sign_in)
    app.add_exception_handler(Denied, denied)
    for router in routers():
        app.include_router(router)
    return app
