"""Flags control plane over HTTP: flags (segments and environments: `api.segments`; tokens:
`api.tokens`).

The router's lifespan builds the flag service, the token service and the SDK hub on
`app.state`, and on PostgreSQL starts the LISTEN loop that carries changes between replicas.
The SDK stream (`headway.api.stream`) and OFREP (`headway.api.ofrep`) routers use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from headway.api.fields import STRICT
from headway.api.flag_calls import (
    ChangeAction,
    Document,
    IfMatch,
    Service,
    actor,
    caller,
    if_match_version,
    run,
)
from headway.api.params import PageDep
from headway.api.responses import (
    WRITE_ERRORS,
    AuditEntry,
    FlagVersion,
)
from headway.api.scopes import in_environment
from headway.flags.evaluate import explain
from headway.flags.hub import FlagHub, PgListener, end_streams_on_exit_signals
from headway.flags.model import Flag
from headway.flags.results import Explanation
from headway.flags.service import FlagService, on_store_change
from headway.flags.tokens import Token, TokenService
from headway.flags.users import UserService
from headway.store import StoreUnavailable

__all__ = ["install", "lifespan", "router", "routers"]

T = TypeVar("T")
log = logging.getLogger("headway.flags")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    store = app.state.store
    service = FlagService(store)
    # Reloads and token checks read through connections of their own (store.readers).
    lookups = app.state.lookups
    hub = FlagHub(service, reads=lookups.lend)
    hub.bind(asyncio.get_running_loop())
    # Any flag service writing to this store (ours, the rollout controller's) wakes the streams.
    stop_listening = on_store_change(store, hub.refresh)
    app.state.flags = service
    app.state.flag_hub = hub
    app.state.tokens = TokenService(
        store, app.state.settings.credential_recheck_s, reads=lookups.lend
    )
    app.state.users = UserService(store)
    listener = None
    if store.dialect == "postgres":
        listener = PgListener(store.url, hub.refresh)
        listener.start()
    app.state.flag_listener = listener
    every = app.state.settings.credential_recheck_s
    recheck = asyncio.create_task(_recheck_credentials(hub, app.state.tokens, every))
    try:
        with end_streams_on_exit_signals(hub):
            yield
    finally:
        recheck.cancel()
        stop_listening()
        hub.close()
        if listener is not None:
            await asyncio.to_thread(listener.stop)


async def _recheck_credentials(hub: FlagHub, tokens: TokenService, every: float) -> None:
    """End the streams of tokens revoked since they connected, here or on another replica.

    A stream authenticates once, when it opens; this asks the store every `every` seconds
    which of the tokens holding streams are still live. One query per server process covers
    every stream, and it needs no message between replicas: a revocation made anywhere is in
    the shared store.
    """
    while True:
        await asyncio.sleep(every)
        holders = hub.holders()
        if not holders:
            continue
        try:
            live = await asyncio.to_thread(tokens.live_ids, holders)
        except StoreUnavailable as error:  # ends no stream; the next look tries again
            log.warning("could not re-check the credentials of open streams: %s", error)
            continue
        except Exception:
            log.exception("could not re-check the credentials of open streams")
            continue
        hub.end_streams_of(holders - live)


router = APIRouter(
    prefix="/api",
    tags=["flags"],
    lifespan=lifespan,
    dependencies=[Depends(caller)],
    responses=WRITE_ERRORS,
)


# --- flags ---------------------------------------------------------------------------------


@router.get("/flags", summary="List flags", response_model=list[Flag])
def list_flags(
    request: Request,
    response: Response,
    page: PageDep,
    service: Service,
    archived: bool = False,
    tag: str | None = None,
    owner: str | None = None,
    stale: Annotated[
        bool, Query(description="only temporary flags past their expected removal date")
    ] = False,
) -> Any:
    if stale:
        return run(request, lambda _: page.window(service.stale_flags(), request, response))
    return run(
        request,
        lambda _: page.window(
            service.list_flags(include_archived=archived, tag=tag, owner=owner), request, response
        ),
    )


@router.post("/flags", summary="Create a flag", status_code=201, response_model=Flag)
def create_flag(request: Request, service: Service, document: Document) -> Any:
    return run(request, lambda t: service.create_flag(document, actor=actor(t)), status=201)


# Each flag is written with its audit row, tens of milliseconds apiece: a thousand is a
# large flagd file and still an answer within a minute. Larger imports go through the CLI.
IMPORT_FLAGS_MAX = 1000


class FlagImport(BaseModel):
    model_config = STRICT

    flags: list[dict[str, Any]] = Field(
        max_length=IMPORT_FLAGS_MAX, description=f"At most {IMPORT_FLAGS_MAX} flag documents."
    )


@router.post(
    "/flags/import",
    summary="Create many flags at once, all or none",
    status_code=201,
    response_model=list[Flag],
)
def import_flags(request: Request, service: Service, body: FlagImport) -> Any:
    return run(request, lambda t: service.import_flags(body.flags, actor=actor(t)), status=201)


@router.get("/flags/{key}", summary="One flag", response_model=Flag)
def get_flag(request: Request, service: Service, key: str) -> Any:
    return run(request, lambda _: service.require_flag(key))


@router.put("/flags/{key}", summary="Replace a flag document", response_model=Flag)
def replace_flag(
    request: Request, service: Service, key: str, document: Document, if_match: IfMatch = None
) -> Any:
    return run(
        request,
        lambda t: service.replace_flag(
            key, document, actor=actor(t), expected_version=if_match_version(if_match)
        ),
    )


@router.patch(
    "/flags/{key}",
    summary="Change description, owner, service, tags, lifecycle, variants or client_side",
    response_model=Flag,
)
def patch_flag(
    request: Request, service: Service, key: str, fields: Document, if_match: IfMatch = None
) -> Any:
    return run(
        request,
        lambda t: service.update_flag(
            key, fields, actor=actor(t), expected_version=if_match_version(if_match)
        ),
    )


@router.patch(
    "/flags/{key}/environments/{environment}",
    response_model=Flag,
    summary="Change one environment: enabled, off_variant, rules, default",
)
def patch_environment(
    request: Request,
    service: Service,
    key: str,
    environment: str,
    fields: Document,
    if_match: IfMatch = None,
    action: Annotated[
        ChangeAction, Query(description="how the change is named in the flag's history")
    ] = "update",
) -> Any:
    return run(
        request,
        lambda t: service.update_environment(
            key,
            environment,
            fields,
            actor=actor(t),
            action=action,
            expected_version=if_match_version(if_match),
        ),
    )


class KillRequest(BaseModel):
    model_config = STRICT

    environment: str | None = Field(None, description="omit to switch off everywhere")
    reason: str | None = None


@router.post("/flags/{key}/kill", summary="Kill switch: off at once", response_model=Flag)
def kill_flag(request: Request, service: Service, key: str, body: KillRequest | None = None) -> Any:
    body = body or KillRequest(environment=None)
    in_environment(request.state.token, body.environment, "switch a flag off")
    return run(
        request,
        lambda t: service.kill(
            key, actor=actor(t), environment=body.environment, reason=body.reason
        ),
    )


@router.post("/flags/{key}/archive", summary="Archive (leaves SDK configs)", response_model=Flag)
def archive_flag(request: Request, service: Service, key: str) -> Any:
    return run(request, lambda t: service.archive(key, actor=actor(t)))


@router.post("/flags/{key}/unarchive", summary="Bring an archived flag back", response_model=Flag)
def unarchive_flag(request: Request, service: Service, key: str) -> Any:
    return run(request, lambda t: service.archive(key, actor=actor(t), archived=False))


@router.get(
    "/flags/{key}/history",
    summary="Every version, with who and when",
    response_model=list[FlagVersion],
)
def flag_history(
    request: Request, response: Response, page: PageDep, service: Service, key: str
) -> Any:
    return run(
        request,
        lambda _: page.window(
            [
                {
                    "version": v.version,
                    "action": v.action,
                    "actor": v.actor,
                    "comment": v.comment,
                    "at": v.created_at.isoformat(),
                    "document": v.document,
                }
                for v in service.history(key)
            ],
            request,
            response,
        ),
    )


@router.get(
    "/flags/{key}/audit",
    summary="Audit log rows (before and after) of a flag",
    response_model=list[AuditEntry],
)
def flag_audit(
    request: Request, response: Response, page: PageDep, service: Service, key: str
) -> Any:
    return run(
        request,
        lambda _: page.window(
            [
                {
                    "at": e.occurred_at.isoformat(),
                    "actor": e.actor,
                    "action": e.action,
                    "before": e.before,
                    "after": e.after,
                }
                for e in service.audit(key)
            ],
            request,
            response,
        ),
    )


class ExplainRequest(BaseModel):
    model_config = STRICT

    environment: str = "production"
    context: dict[str, Any] = Field(default_factory=dict)


@router.post(
    "/flags/{key}/explain",
    summary="Evaluate for a context and say why",
    response_model=Explanation,
)
def explain_flag(request: Request, service: Service, key: str, body: ExplainRequest) -> Any:
    def action(_: Token) -> dict[str, Any]:
        flag = service.require_flag(key)
        segments = {s.key: s for s in service.list_segments()}
        flags = {f.key: f for f in service.list_flags()}
        result, lines = explain(flag, body.environment, body.context, segments, flags)
        return {
            "value": result.value,
            "variant": result.variant,
            "reason": result.reason,
            "error_code": result.error_code,
            "error_message": result.error_message,
            "rule": result.rule,
            "explanation": lines,
        }

    return run(request, action)


@router.get(
    "/flags/{key}/exposures",
    summary="Evaluations reported by SDKs, per variant",
    response_model=dict[str, int],
)
def flag_exposures(
    request: Request, service: Service, key: str, environment: str = "production"
) -> Any:
    return run(request, lambda _: service.exposures(environment, key))


def routers() -> list[APIRouter]:
    """The flag routers, for `headway.api.app` to include."""
    from headway.api import ofrep, schedules, segments, stream, tokens, users

    return [
        router,
        schedules.router,
        segments.router,
        tokens.router,
        users.router,
        stream.router,
        ofrep.router,
    ]


def install(app: FastAPI) -> FastAPI:
    """Include the flag routers in `app` unless the app factory already does."""
    if "/sdk/stream" not in {getattr(r, "path", "") for r in app.routes}:
        for r in routers():
            app.include_router(r)
    return app
