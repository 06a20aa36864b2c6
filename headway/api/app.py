"""The FastAPI application factory.

The app owns one `Store` for its lifetime (`app.state.store`); routers get it through the
`StoreDep` dependency, and long reads (the metrics) a reader of it through `ReaderDep`
(`app.state.readers`); token checks and the flag hub's reloads read through readers of their
own (`app.state.lookups`). Routers for each resource live in their own module and are
included here, so there is exactly one app.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from headway import __version__
from headway.answers import EngineUnavailable
from headway.api.access import AccessLog
from headway.api.auth import AuthError, answer
from headway.api.cors import ClientCors
from headway.api.limits import BodyLimit
from headway.api.nul import RefuseNul
from headway.api.ofrep import OfrepErrors
from headway.api.params import declare_page_max
from headway.api.responses import Health, json_errors, refusal
from headway.config import Settings, get_settings
from headway.definitions import DefinitionError, UnknownDefinition
from headway.metrics.refine import RefineError
from headway.metrics.scope import ScopeError, UnknownScope
from headway.query import QueryError
from headway.store import Store, StoreError, StoreUnavailable, open_store
from headway.store.readers import LOOKUPS, Readers

HEALTH_WAIT = 0.05  # seconds /healthz waits for the store before calling it busy


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = store is None
        app.state.store = store or open_store(settings)
        app.state.readers = Readers(app.state.store, settings.read_connections)
        # token checks and the flag hub's reloads: a few of their own (store.readers)
        app.state.lookups = Readers(app.state.store, LOOKUPS)
        app.state.settings = settings
        for hook in app.state.startup_hooks:
            await hook(app)
        try:
            yield
        finally:
            for hook in app.state.shutdown_hooks:
                await hook(app)
            app.state.readers.close()
            app.state.lookups.close()
            if owned:
                app.state.store.close()

    # /docs and /redoc load Swagger UI and ReDoc from files in a pip package, never a CDN, so
    # the API's reference works on a network with no way out.
    app = FastAPIOffline(
        title="Headway",
        version=__version__,
        description="Delivery metrics, flow signals, feature flags and guarded rollouts.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Middleware added last runs first: bodies are bounded before anything reads them.
    app.add_middleware(RefuseNul)
    app.add_middleware(BodyLimit, settings=settings)
    app.add_middleware(OfrepErrors)  # the refusals above, in OFREP's shape on its routes
    app.add_middleware(ClientCors)  # a preflight is answered before anything else
    if settings.access_log:
        app.add_middleware(AccessLog)  # outermost: every answer is logged, refusals included
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []

    @app.exception_handler(RequestValidationError)
    async def bad_request(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]}
            for e in error.errors()
        ]
        return refusal(422, "invalid request", problems=problems)

    # Every HTTPException (a bad import line, a body or batch too large, an unknown path or
    # method) answers the one shape too, not FastAPI's `{"detail": …}`.
    @app.exception_handler(StarletteHTTPException)
    async def http_refusal(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = dict(error.headers or {})
        if error.status_code == 405:
            # Starlette names only the methods of the first route matching the path; a path
            # such as /api/flags/{key} is served by three routes, and `Allow` must name all.
            headers["Allow"] = ", ".join(_methods(request.app, request))
        return refusal(error.status_code, str(error.detail), headers=headers or None)

    # Bad report options (an unknown scope name, a date that is not one, an unknown
    # definition, a list's unknown sort column or filter) are answered the same way by every
    # route: 404 for a name the store does not know, 400 otherwise. Routes let them rise.
    async def report_input(_: Request, error: Exception) -> JSONResponse:
        status = 404 if isinstance(error, UnknownScope | UnknownDefinition) else 400
        return refusal(status, str(error))

    for kind in (QueryError, ScopeError, DefinitionError, RefineError):
        app.add_exception_handler(kind, report_input)

    @app.exception_handler(AuthError)
    async def refused(_: Request, error: AuthError) -> JSONResponse:
        return answer(error)

    @app.exception_handler(StoreError)
    async def store_error(_: Request, error: StoreError) -> JSONResponse:
        return refusal(503, str(error), headers=_retry(error))

    @app.exception_handler(EngineUnavailable)
    async def engine_down(_: Request, error: EngineUnavailable) -> JSONResponse:
        return refusal(503, f"the analytics engine cannot answer: {error}")

    # Its own thread, so a health check never queues behind requests in the shared pool, and
    # a bounded wait on the store lock: a store busy with a long write is busy, not down.
    pinger = ThreadPoolExecutor(1, thread_name_prefix="headway-healthz")

    async def close_pinger(_: FastAPI) -> None:
        pinger.shutdown(wait=False, cancel_futures=True)

    app.state.shutdown_hooks.append(close_pinger)

    @app.get(
        "/healthz",
        tags=["health"],
        response_model=Health,
        response_model_exclude_none=True,
        responses={503: {"model": Health, "description": "The store cannot be reached"}},
    )
    async def healthz(request: Request) -> Health | JSONResponse:
        # No dependencies: a sync one would wait for a thread of the shared pool.
        store: Store = request.app.state.store
        ping = asyncio.get_running_loop().run_in_executor(pinger, store.ping, HEALTH_WAIT)
        try:
            free = await asyncio.wait_for(ping, HEALTH_WAIT * 2)
        except TimeoutError:
            free = False
        except StoreUnavailable as error:  # down, not busy: a load balancer should look elsewhere
            down = Health(
                status="store unavailable",
                version=__version__,
                store=store.dialect,
                store_busy=False,
                error=str(error),
            )
            return JSONResponse(down.model_dump(), status_code=503, headers=_retry(error))
        return Health(status="ok", version=__version__, store=store.dialect, store_busy=not free)

    for router in _routers():
        app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = json_errors(
                declare_page_max(FastAPI.openapi(app), settings.page_max)
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def _methods(app: FastAPI, request: Request) -> list[str]:
    """Every method some route serves at the request's path (asked of the router, as included
    routers are not listed route by route)."""
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL
            for route in app.router.routes
        )
    ]


def _retry(error: StoreError) -> dict[str, str]:
    """A store that is down now may be back soon: say when a sender should try again."""
    if isinstance(error, StoreUnavailable):
        return {"Retry-After": str(error.retry_after)}
    return {}


def _routers() -> list[Any]:
    """Every resource router. Add a new one here, once."""
    from headway.api import (
        audit,
        definitions,
        exports,
        flag_code,
        flags,
        github,
        github_rules,
        hooks,
        imports,
        insights,
        metrics,
        prometheus,
        pulse,
        releases,
        rollouts,
    )

    return [
        metrics.router,
        insights.router,  # read API: metrics, records, flow, signals, review
        pulse.router,  # the developer confidence pulse
        definitions.router,
        audit.router,
        exports.router,  # the canonical tables as Parquet
        hooks.router,
        imports.router,  # webhooks and remote import
        *flags.routers(),  # flag admin API, SDK config and stream, OFREP
        flag_code.router,  # flag lifecycle, stale flags, code references
        github.api_router,
        github.callback_router,
        github.hook_router,  # the GitHub App: manifest, callback, installation webhook
        github_rules.router,  # its risky-code rules
        rollouts.router,
        releases.router,  # release plans, moved by the rollouts' control loop
        rollouts.sdk_router,
        prometheus.router,
    ]
