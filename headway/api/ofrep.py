"""The OpenFeature Remote Evaluation Protocol (OFREP v1), so any OFREP provider works unchanged.

`POST /ofrep/v1/evaluate/flags/{key}` evaluates one flag, `POST /ofrep/v1/evaluate/flags` all
of them (with an ETag of the answer: the same answers again are 304).
Client keys and server SDK keys may call it; the key decides the environment. A client key
sees only flags marked `client_side`: to it, every other flag does not exist.

Every answer has the shape the OFREP OpenAPI document gives its status: a refusal on the
one-flag route carries the flag's `key`, an `errorCode` and `errorDetails`; on the bulk route an
`errorCode` and `errorDetails`. `OfrepErrors` gives the refusals that the app's middleware and
handlers answer before a route runs (a body too large, a NUL, a store that cannot answer, an
unknown method) and a crash the same shape. A number flag's value is a JSON float (`100.0`) and
a JSON flag's an object, as the document's `floatFlag` and `objectFlag` say (a JSON flag serving
anything else is a `GENERAL` failure here; Headway's own SDK serves it as it is).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Mapping
from typing import Any

import orjson
import xxhash
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headway.api.auth import AuthError, authenticate
from headway.api.limits import loads
from headway.flags.evaluate import ErrorCode, Evaluation, error_result
from headway.flags.hub import FlagHub
from headway.flags.results import OfrepBulk, OfrepError, OfrepEvaluation, OfrepFailure
from headway.flags.snapshot import Snapshot

__all__ = ["OfrepErrors", "failure_body", "router"]

log = logging.getLogger(__name__)

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": OfrepError, "description": "The body or its context is not valid"},
    401: {"model": OfrepError, "description": "No key, or an unknown, expired or revoked one"},
    403: {"model": OfrepError, "description": "The token is not an SDK key"},
    500: {"model": OfrepError, "description": "The server failed; `errorCode` is GENERAL"},
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
        # OFREP's own error shape (the providers read a 401 or 403 as GENERAL), with the same
        # challenge as every other route.
        return JSONResponse(
            failure_body(request.url.path, ErrorCode.GENERAL, str(exc)),
            status_code=exc.status,
            headers={"WWW-Authenticate": "Bearer"} if exc.status == 401 else None,
        )
    raw = await request.body()
    path = request.url.path
    try:
        body = await loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        return _bad(path, ErrorCode.PARSE_ERROR, f"the request body is not JSON: {exc}")
    context = body.get("context", {}) if isinstance(body, dict) else None
    if context is None:
        context = {}
    if not isinstance(context, Mapping):
        return _bad(path, ErrorCode.INVALID_CONTEXT, "`context` must be a JSON object")
    hub: FlagHub = request.app.state.flag_hub
    snap = await asyncio.to_thread(_compiled, hub, token.environment or "")
    return snap, token.kind != "client", dict(context)


def _compiled(hub: FlagHub, environment: str) -> Snapshot:
    snap = hub.snapshot(environment)
    _ = snap.flags  # compiled here, off the event loop, once per configuration
    return snap


_JSON_KINDS = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
_JSON_KINDS[type(None)] = "null"
_ONE_FLAG = re.compile(r"^/ofrep/v1/evaluate/flags/(?P<key>[^/]+)$")


def failure_body(path: str, code: str, details: str) -> dict[str, Any]:
    """A refusal of a request to `path`: the one-flag route's `evaluationFailure` and
    `flagNotFound` name the flag's `key`; the bulk route's `bulkEvaluationFailure` has none."""
    one = _ONE_FLAG.match(path)
    head = {"key": one["key"]} if one else {}
    return {**head, "errorCode": code, "errorDetails": details}


def _bad(path: str, code: str, details: str) -> JSONResponse:
    return JSONResponse(failure_body(path, code, details), status_code=400)


def _success(result: Evaluation, snap: Snapshot) -> dict[str, Any]:
    compiled = snap.flags[result.flag]
    metadata: dict[str, Any] = {"version": compiled.version}
    if result.rule:
        metadata["rule"] = result.rule
    value = result.value
    if compiled.type == "number":
        # OFREP tells `floatFlag` from `integerFlag` by how the number is written, and a
        # Headway number may hold a fraction: `100.0`, so a provider's float getter reads it.
        value = float(value)
    return {
        "key": result.flag,
        "value": value,
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
    result = compiled.evaluate(context)
    if compiled.type == "json" and result.error_code is None and not isinstance(result.value, dict):
        kind = _JSON_KINDS.get(type(result.value), "value")
        return error_result(
            key,
            ErrorCode.GENERAL,
            f"flag '{key}' serves a JSON {kind} (variant '{result.variant}'), and OFREP carries a "
            "JSON flag's value as an object only: make its variants objects, e.g. "
            '{"items": [...]}',
        )
    return result


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


class OfrepErrors:
    """ASGI middleware for `/ofrep/…`: a refusal answered in the app's `{"error": …}` shape (a
    body too large, a NUL, a store that cannot answer, an unknown method or path) is answered in
    OFREP's shape instead, with `errorCode` GENERAL, and a crash is a 500 of that shape too (the
    document's `generalErrorResponse`), not a plain-text page. Refusals the routes give already
    have OFREP's shape and pass unchanged. OFREP answers are small, so an error body is held
    whole before it is sent."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/ofrep/"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        held: Message | None = None
        chunks: list[bytes] = []
        started = False

        async def reshaped(message: Message) -> None:
            nonlocal held, started
            if message["type"] == "http.response.start":
                started = True
                if message["status"] >= 400 and _is_json(message):
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await _send_json(send, held, _ofrep_shape(path, b"".join(chunks)))
                return
            await send(message)

        try:
            await self.app(scope, receive, reshaped)
        except Exception:
            if started:
                raise
            log.exception("OFREP request to %s failed", path)
            body = failure_body(path, ErrorCode.GENERAL, "the server failed; try again later")
            start = {"type": "http.response.start", "status": 500, "headers": []}
            await _send_json(send, start, body)


def _is_json(start: Message) -> bool:
    for name, value in start.get("headers", []):
        if name.lower() == b"content-type":
            return bool(value.split(b";")[0].strip().lower().endswith(b"json"))
    return False


def _ofrep_shape(path: str, raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        body = None
    if isinstance(body, dict) and "errorCode" in body:
        return body
    details = body.get("error") if isinstance(body, dict) else None
    return failure_body(path, ErrorCode.GENERAL, str(details or raw.decode(errors="replace")))


async def _send_json(send: Send, start: Message, body: dict[str, Any]) -> None:
    data = orjson.dumps(body)
    kept = [
        (k, v)
        for k, v in start.get("headers", [])
        if k.lower() not in (b"content-length", b"content-type")
    ]
    headers = [
        *kept,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(data)).encode()),
    ]
    await send({**start, "headers": headers})
    await send({"type": "http.response.body", "body": data})
