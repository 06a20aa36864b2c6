"""Flags control plane over HTTP: flags, segments, environments and tokens.

The router's lifespan builds the flag service, the token service and the SDK hub on
`app.state`, and on PostgreSQL starts the LISTEN loop that carries changes between replicas.
The SDK stream (`headway.api.stream`) and OFREP (`headway.api.ofrep`) routers use them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from headway.api.auth import Role, require
from headway.api.fields import STRICT, AwareInstant
from headway.api.params import PageDep
from headway.api.responses import (
    WRITE_ERRORS,
    AuditEntry,
    Environment,
    FlagVersion,
    NewToken,
    TokenInfo,
)
from headway.flags.evaluate import explain
from headway.flags.hub import FlagHub, PgListener, end_streams_on_exit_signals
from headway.flags.model import KEY_PATTERN, ConfigError, Flag, Segment
from headway.flags.results import Explanation
from headway.flags.service import Conflict, FlagService, NotFound, on_store_change
from headway.flags.store import EnvironmentRow
from headway.flags.tokens import Token, TokenKind, TokenService
from headway.store import StoreUnavailable

__all__ = ["install", "lifespan", "router", "routers"]

T = TypeVar("T")
log = logging.getLogger("headway.flags")


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    store = app.state.store
    service = FlagService(store)
    hub = FlagHub(service)
    hub.bind(asyncio.get_running_loop())
    # Any flag service writing to this store (ours, the rollout controller's) wakes the streams.
    stop_listening = on_store_change(store, hub.refresh)
    app.state.flags = service
    app.state.flag_hub = hub
    app.state.tokens = TokenService(store, app.state.settings.credential_recheck_s)
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


# --- authentication -------------------------------------------------------------------------


def _role(request: Request) -> Role:
    """Reads (and `explain`) need a viewer token, changes an editor's, tokens and changes to
    environments (new ones, their CORS origins) an admin's."""
    path = request.url.path
    if path.startswith("/api/tokens") or (
        path.startswith("/api/environments") and request.method != "GET"
    ):
        return "admin"
    if request.method == "GET" or path.endswith("/explain"):
        return "viewer"
    return "editor"


def _caller(request: Request) -> Token:
    """Checked as the router's dependency, so before any body is read or validated."""
    token = require(_role(request))(request)
    request.state.token = token
    return token


router = APIRouter(
    prefix="/api",
    tags=["flags"],
    lifespan=lifespan,
    dependencies=[Depends(_caller)],
    responses=WRITE_ERRORS,
)


def _service(request: Request) -> FlagService:
    service: FlagService = request.app.state.flags
    return service


Service = Annotated[FlagService, Depends(_service)]


def _actor(token: Token) -> str:
    return f"token:{token.name}"


def run(request: Request, action: Callable[[Token], T], status: int = 200) -> Any:
    """Run `action` as the caller the router authenticated, turning domain errors into 4xx
    responses."""
    try:
        result = action(request.state.token)
    except ConfigError as exc:
        problems = [{"field": i.path, "problem": i.message} for i in exc.issues]
        return JSONResponse(
            {"error": "invalid configuration", "problems": problems}, status_code=422
        )
    except NotFound as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    except Conflict as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    if status != 200:
        return JSONResponse(_jsonable(result), status_code=status)
    return _jsonable(result)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().strip('"').removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else None


IfMatch = Annotated[str | None, Header(description="the flag version your change is based on")]
Document = Annotated[dict[str, Any], Body()]
# The names the CLI gives environment changes, so history reads the same whichever way they came.
ChangeAction = Literal["update", "split", "rule-add", "rule-remove"]


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
    return run(request, lambda t: service.create_flag(document, actor=_actor(t)), status=201)


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
    return run(request, lambda t: service.import_flags(body.flags, actor=_actor(t)), status=201)


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
            key, document, actor=_actor(t), expected_version=_version(if_match)
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
            key, fields, actor=_actor(t), expected_version=_version(if_match)
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
            actor=_actor(t),
            action=action,
            expected_version=_version(if_match),
        ),
    )


class KillRequest(BaseModel):
    model_config = STRICT

    environment: str | None = Field(None, description="omit to switch off everywhere")
    reason: str | None = None


@router.post("/flags/{key}/kill", summary="Kill switch: off at once", response_model=Flag)
def kill_flag(request: Request, service: Service, key: str, body: KillRequest | None = None) -> Any:
    body = body or KillRequest(environment=None)
    return run(
        request,
        lambda t: service.kill(
            key, actor=_actor(t), environment=body.environment, reason=body.reason
        ),
    )


@router.post("/flags/{key}/archive", summary="Archive (leaves SDK configs)", response_model=Flag)
def archive_flag(request: Request, service: Service, key: str) -> Any:
    return run(request, lambda t: service.archive(key, actor=_actor(t)))


@router.post("/flags/{key}/unarchive", summary="Bring an archived flag back", response_model=Flag)
def unarchive_flag(request: Request, service: Service, key: str) -> Any:
    return run(request, lambda t: service.archive(key, actor=_actor(t), archived=False))


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
        result, lines = explain(flag, body.environment, body.context, segments)
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


# --- segments, environments ------------------------------------------------------------------


@router.get("/segments", tags=["flags"], response_model=list[Segment])
def list_segments(request: Request, response: Response, page: PageDep, service: Service) -> Any:
    return run(request, lambda _: page.window(service.list_segments(), request, response))


@router.put("/segments/{key}", summary="Create or replace a segment", response_model=Segment)
def put_segment(request: Request, service: Service, key: str, document: Document) -> Any:
    return run(request, lambda t: service.put_segment({**document, "key": key}, actor=_actor(t)))


@router.get("/segments/{key}", response_model=Segment)
def get_segment(request: Request, service: Service, key: str) -> Any:
    return run(request, lambda _: service.get_segment(key))


@router.delete("/segments/{key}", status_code=204, response_model=None)
def delete_segment(request: Request, service: Service, key: str) -> Any:
    result = run(request, lambda t: service.delete_segment(key, actor=_actor(t)))
    return result if isinstance(result, JSONResponse) else Response(status_code=204)


@router.get("/environments", response_model=list[Environment])
def list_environments(request: Request, response: Response, page: PageDep, service: Service) -> Any:
    return run(
        request,
        lambda _: page.window(
            [_environment_json(e) for e in service.environments()],
            request,
            response,
        ),
    )


class EnvironmentCreate(BaseModel):
    model_config = STRICT

    key: str = Field(pattern=KEY_PATTERN, description="Letters, digits, '.', '_' or '-'.")
    name: str | None = None
    description: str | None = None


@router.post("/environments", status_code=201, response_model=Environment)
def create_environment(request: Request, service: Service, body: EnvironmentCreate) -> Any:
    def action(t: Token) -> dict[str, Any]:
        env = service.create_environment(
            body.key, name=body.name, description=body.description, actor=_actor(t)
        )
        return _environment_json(env)

    return run(request, action, status=201)


def _environment_json(env: EnvironmentRow) -> dict[str, Any]:
    return {
        "key": env.key,
        "name": env.name,
        "description": env.description,
        "cors_origins": list(env.cors_origins),
    }


class CorsOrigins(BaseModel):
    model_config = STRICT

    origins: list[str] = Field(
        max_length=1000,
        description="browser origins such as https://app.example.com; [] allows none",
    )


@router.put(
    "/environments/{key}/cors-origins",
    summary="Replace the browser origins allowed to call this environment's client endpoints",
    response_model=Environment,
)
def put_cors_origins(request: Request, service: Service, key: str, body: CorsOrigins) -> Any:
    return run(
        request,
        lambda t: _environment_json(service.set_cors_origins(key, body.origins, actor=_actor(t))),
    )


# --- tokens ----------------------------------------------------------------------------------


class TokenCreate(BaseModel):
    model_config = STRICT

    kind: TokenKind = Field(
        description="viewer (reads), editor (also changes flags, segments, notes, rollouts), "
        "admin (also tokens, environments, imports), scrape (/metrics only), "
        "server (SDK key) or client (OFREP key, client-side flags only)"
    )
    name: str
    environment: str | None = Field(None, description="The environment of a server or client key.")
    expires_at: AwareInstant | None = Field(
        None, description="When the token stops working; none means until it is revoked."
    )


def _token_json(token: Token) -> dict[str, Any]:
    return {
        "id": token.id,
        "kind": token.kind,
        "environment": token.environment,
        "name": token.name,
        "created_by": token.created_by,
        "created_at": token.created_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


@router.get("/tokens", tags=["tokens"], response_model=list[TokenInfo])
def list_tokens(request: Request, response: Response, page: PageDep) -> Any:
    tokens = request.app.state.tokens
    return run(
        request,
        lambda _: page.window([_token_json(t) for t in tokens.list()], request, response),
    )


@router.post(
    "/tokens",
    tags=["tokens"],
    status_code=201,
    summary="Create a token; its secret is in the answer and nowhere else",
    response_model=NewToken,
)
def create_token(request: Request, body: TokenCreate) -> Any:
    def action(t: Token) -> dict[str, Any]:
        token, secret = request.app.state.tokens.create(
            body.kind,
            name=body.name,
            actor=_actor(t),
            environment=body.environment,
            expires_at=body.expires_at,
        )
        return {**_token_json(token), "secret": secret}

    return run(request, action, status=201)


@router.delete("/tokens/{token_id}", tags=["tokens"], status_code=204, response_model=None)
def revoke_token(request: Request, token_id: str) -> Any:
    def action(t: Token) -> None:
        if not request.app.state.tokens.revoke(token_id, actor=_actor(t)):
            raise NotFound(f"no live token '{token_id}'")

    result = run(request, action)
    return result if isinstance(result, JSONResponse) else Response(status_code=204)


def routers() -> list[APIRouter]:
    """The flag routers, for `headway.api.app` to include."""
    from headway.api import ofrep, stream

    return [router, stream.router, ofrep.router]


def install(app: FastAPI) -> FastAPI:
    """Include the flag routers in `app` unless the app factory already does."""
    if "/sdk/stream" not in {getattr(r, "path", "") for r in app.routes}:
        for r in routers():
            app.include_router(r)
    return app
