"""The OpenFeature Remote Evaluation Protocol (OFREP v1), so any OFREP provider works unchanged.

`POST /ofrep/v1/evaluate/flags/{key}` evaluates one flag, `POST /ofrep/v1/evaluate/flags` all
of them (with an ETag of the answer: the same answers again are 304).
Client keys and server SDK keys may call it; the key decides the environment. A client key
sees only flags marked `client_side`: to it, every other flag does not exist.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import orjson
import xxhash
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from headway.api.auth import AuthError, authenticate
from headway.api.limits import loads
from headway.flags.evaluate import ErrorCode, Evaluation, error_result
from headway.flags.hub import FlagHub
from headway.flags.results import OfrepBulk, OfrepError, OfrepEvaluation, OfrepFailure
from headway.flags.snapshot import Snapshot

__all__ = ["router"]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OfrepError, "description": "The body or its context is not valid"},
    401: {"model": OfrepError, "description": "No key, or an unknown, expired or revoked one"},
    403: {"model": OfrepError, "description": "The token is not an SDK key"},
}
router = APIRouter(prefix="/ofrep/v1", tags=["ofrep"], responses=_ERRORS)
_STATUS = {ErrorCode.FLAG_NOT_FOUND: 404}  # every other evaluation error is the request's: 400


async def _prepare(request: Request) -> tuple[Snapshot, bool, dict[str, Any]] | Response:
    """Authenticate, read the body's `context`, and fetch the key's environment snapshot.

    The middle of the answer says whether the caller may see server-only flags.
    """
    try:
        token = await asyncio.to_thread(authenticate, request, ("client", "server"))
    except AuthError as exc:
        # OFREP's own error shape, with the same challenge as every other route.
        return JSONResponse(
            {"errorDetails": str(exc)},
            status_code=exc.status,
            headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None,
        )
    raw = await request.body()
    try:
        body = await loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        return _bad(ErrorCode.PARSE_ERROR, f"the request body is not JSON: {exc}")
    context = body.get("context", {}) if isinstance(body, dict) else None
    if context is None:
        context = {}
    if not isinstance(context, Mapping):
        return _bad(ErrorCode.INVALID_CONTEXT, "`context` must be a JSON object")
    hub: FlagHub = request.app.state.flag_hub
    snap = await asyncio.to_thread(_compiled, hub, token.environment or "")
    return snap, token.kind != "client", dict(context)


def _compiled(hub: FlagHub, environment: str) -> Snapshot:
    snap = hub.snapshot(environment)
    _ = snap.flags  # compiled here, off the event loop, once per configuration
    return snap


def _bad(code: str, details: str) -> JSONResponse:
    return JSONResponse({"errorCode": code, "errorDetails": details}, status_code=400)


def _success(result: Evaluation, snap: Snapshot) -> dict[str, Any]:
    metadata: dict[str, Any] = {"version": snap.flags[result.flag].version}
    if result.rule:
        metadata["rule"] = result.rule
    return {
        "key": result.flag,
        "value": result.value,
        "reason": result.reason,
        "variant": result.variant,
        "metadata": metadata,
    }


def _failure(result: Evaluation) -> dict[str, Any]:
    return {
        "key": result.flag,
        "errorCode": result.error_code,
        "errorDetails": result.error_message or result.error_code,
    }


def _visible(snap: Snapshot, key: str, everything: bool) -> bool:
    flag = snap.definitions.get(key) or snap.invalid.get(key)
    return flag is not None and (everything or flag.client_side)


def _evaluate(snap: Snapshot, key: str, context: dict[str, Any], everything: bool) -> Evaluation:
    compiled = snap.flags.get(key)
    if compiled is None or not _visible(snap, key, everything):
        return error_result(
            key, ErrorCode.FLAG_NOT_FOUND, f"flag '{key}' is not defined in '{snap.environment}'"
        )
    return compiled.evaluate(context)


def _evaluate_all(snap: Snapshot, context: dict[str, Any], everything: bool) -> bytes:
    flags = []
    for key in snap.flags:
        if not _visible(snap, key, everything):
            continue
        result = _evaluate(snap, key, context, everything)
        flags.append(_failure(result) if result.error_code else _success(result, snap))
    return orjson.dumps({"flags": flags})


@router.post(
    "/evaluate/flags/{key}",
    summary="Evaluate one flag (OFREP)",
    response_class=Response,
    responses={
        200: {"model": OfrepEvaluation, "description": "The flag's value for the context"},
        404: {"model": OfrepFailure, "description": "No such flag, or one the key may not see"},
    },
)
async def evaluate_flag(request: Request, key: str) -> Response:
    prepared = await _prepare(request)
    if isinstance(prepared, Response):
        return prepared
    snap, everything, context = prepared
    # Evaluation is bounded (RE2, capped inputs) but still runs off the event loop: a context
    # of a few megabytes against many rules must not stall every other request.
    result = await asyncio.to_thread(_evaluate, snap, key, context, everything)
    if result.error_code is not None:
        return JSONResponse(_failure(result), status_code=_STATUS.get(result.error_code, 400))
    return JSONResponse(_success(result, snap))


@router.post(
    "/evaluate/flags",
    summary="Evaluate every flag (OFREP bulk, ETag/304)",
    response_class=Response,
    responses={
        200: {"model": OfrepBulk, "description": "Every flag the key may see, with its ETag"},
        304: {"description": "The same answer as the ETag in If-None-Match"},
    },
)
async def evaluate_flags(request: Request) -> Response:
    prepared = await _prepare(request)
    if isinstance(prepared, Response):
        return prepared
    snap, everything, context = prepared
    body = await asyncio.to_thread(_evaluate_all, snap, context, everything)
    # The ETag hashes the context and the answer itself, so it depends on nothing the key
    # cannot see: a change to a server-only flag, or one that leaves every answer as it was,
    # keeps it, and a client key learns nothing from it. Evaluating first costs microseconds
    # per flag.
    asked = orjson.dumps(context, option=orjson.OPT_SORT_KEYS, default=str)
    digest = xxhash.xxh3_128_hexdigest(asked + b"\n" + body)
    etag = f'"{digest}"'
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={"ETag": etag})
    return Response(body, media_type="application/json", headers={"ETag": etag})
