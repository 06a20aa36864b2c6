"""Configuration for SDKs: `/sdk/config` (ETag/304), `/sdk/stream` (server-sent events) and
`/sdk/exposures` (batched evaluation counts). Server SDK keys only: they see the full config
of their one environment.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from headway.api.flags import AuthError, authenticate
from headway.flags.hub import FlagHub
from headway.flags.snapshot import Snapshot
from headway.flags.tokens import Token

__all__ = ["router"]

router = APIRouter(prefix="/sdk", tags=["sdk"])
PING_SECONDS = 15.0


async def _sdk_token(request: Request, kinds: tuple[str, ...] = ("server",)) -> Token | Response:
    try:
        return await asyncio.to_thread(authenticate, request, kinds)
    except AuthError as exc:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)


def _event(snap: Snapshot) -> bytes:
    return _event_bytes(snap.etag, snap.body)


@lru_cache(maxsize=32)
def _event_bytes(etag: str, body: bytes) -> bytes:
    # Built once per configuration, not once per client. The body is single-line JSON, so
    # it fits one `data:` field.
    return b"event: config\nid: " + etag.encode() + b"\ndata: " + body + b"\n\n"


@router.get("/config", summary="The environment's flag configuration (send If-None-Match)")
async def config(request: Request) -> Response:
    token = await _sdk_token(request)
    if isinstance(token, Response):
        return token
    hub: FlagHub = request.app.state.flag_hub
    snap = await asyncio.to_thread(hub.snapshot, token.environment or "")
    headers = {"ETag": snap.etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == snap.etag:
        return Response(status_code=304, headers=headers)
    return Response(snap.body, media_type="application/json", headers=headers)


@router.get("/stream", summary="Server-sent events: `config` on connect and on every change")
async def stream(request: Request) -> Response:
    token = await _sdk_token(request)
    if isinstance(token, Response):
        return token
    hub: FlagHub = request.app.state.flag_hub
    environment = token.environment or ""
    await asyncio.to_thread(hub.snapshot, environment)  # load it once, off the event loop
    known = request.headers.get("last-event-id")

    async def events() -> AsyncIterator[bytes]:
        last = known
        hub.streams += 1
        try:
            while not hub.closed:
                snap = hub.snapshot(environment)  # cached: no I/O on the event loop
                if snap.etag != last:
                    last = snap.etag
                    yield _event(snap)
                    continue
                # Take the event before waiting: a change that lands after the check above
                # sets this very event, so it cannot be missed.
                wake = hub.event(environment)
                try:
                    async with asyncio.timeout(PING_SECONDS):
                        await wake.wait()
                except TimeoutError:
                    yield b": ping\n\n"
        finally:
            hub.streams -= 1

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


class ExposureCount(BaseModel):
    flag: str
    variant: str
    count: int = Field(ge=0)


class ExposureBatch(BaseModel):
    batch: str = Field(
        min_length=1, max_length=64, description="sender's id; resent batches are ignored"
    )
    from_: datetime = Field(alias="from")
    to: datetime
    counts: list[ExposureCount] = Field(max_length=10_000)


@router.post("/exposures", status_code=202, summary="Evaluation counts from an SDK, batched")
async def exposures(request: Request, body: ExposureBatch) -> Any:
    token = await _sdk_token(request, ("server", "client"))
    if isinstance(token, Response):
        return token
    rows = [(c.flag, c.variant, c.count) for c in body.counts if c.count]
    start = body.from_ if body.from_.tzinfo else body.from_.replace(tzinfo=UTC)
    end = body.to if body.to.tzinfo else body.to.replace(tzinfo=UTC)
    added = await asyncio.to_thread(
        request.app.state.flags.record_exposures, token.environment, body.batch, rows, start, end
    )
    return JSONResponse({"accepted": added}, status_code=202)
