"""Bounds on what a client can make the server hold: request bodies, and JSON parsed per request.

`BodyLimit` wraps the app and counts the bytes of every request body as they arrive, so a body
over its route's limit is refused with 413 after at most that many bytes, whatever
Content-Length says (or whether it says anything: chunked bodies are counted the same way). A
declared length over the limit is refused before a byte of the body is read. The 413 closes
the connection, so the server does not go on receiving the rest.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headway.config import Settings

__all__ = ["OFF_LOOP_BYTES", "BodyLimit", "BodyTooLarge", "body_limit", "loads"]

# JSON at most this long is parsed on the event loop (tens of microseconds); longer bodies are
# parsed in a thread so one large body cannot hold every other request, /healthz included.
OFF_LOOP_BYTES = 16 * 1024


def body_limit(path: str, settings: Settings) -> tuple[int, str]:
    """The largest body `path` accepts and the setting that raises it."""
    if path.startswith("/hooks/"):
        return settings.webhook_max_bytes, "HEADWAY_WEBHOOK_MAX_BYTES"
    if path.startswith("/api/import/"):
        return settings.import_max_bytes, "HEADWAY_IMPORT_MAX_BYTES"
    if path.startswith("/ofrep/"):
        return settings.ofrep_max_bytes, "HEADWAY_OFREP_MAX_BYTES"
    return settings.body_max_bytes, "HEADWAY_BODY_MAX_BYTES"


def _message(limit: int, setting: str, declared: int | None = None) -> str:
    size = f"is {declared} bytes" if declared is not None else "is over the limit"
    return f"the request body {size}; this route accepts at most {limit} bytes (raise {setting})"


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a body passes its limit. An HTTPException, so FastAPI's body
    parsing lets it through as the 413 it is instead of turning it into a 400."""

    def __init__(self, limit: int, setting: str) -> None:
        super().__init__(413, _message(limit, setting), headers={"Connection": "close"})


class BodyLimit:
    """ASGI middleware enforcing `body_limit` on every HTTP request."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = body_limit(scope["path"], self.settings)
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _refuse(send, _message(limit, setting, declared))
            return
        received = 0
        started = False

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit, setting)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge as error:
            # A route that let the error escape (or caught and re-raised it): answer for it.
            if started:
                raise
            await _refuse(send, str(error.detail))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


async def _refuse(send: Send, detail: str) -> None:
    body = orjson.dumps({"error": detail})
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def loads(raw: bytes) -> Any:
    """`orjson.loads`, in a thread when the body is long enough to hold the event loop."""
    if len(raw) <= OFF_LOOP_BYTES:
        return orjson.loads(raw)
    return await asyncio.to_thread(orjson.loads, raw)
