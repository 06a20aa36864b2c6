"""Refuse a NUL character in a request's path, query parameters or JSON body, before any
route runs, with a 400 naming where it was (see headway/names.py for why)."""

from __future__ import annotations

import orjson
from starlette.datastructures import QueryParams
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from headway.api.responses import refusal
from headway.names import NUL_FIX, nul_in, nul_in_query


class RefuseNul:
    """ASGI middleware. Webhook deliveries check their own bodies, after their sender is
    verified, so an unsigned delivery is refused as unsigned first."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        where = "the path" if "\x00" in path else None
        where = where or nul_in_query(QueryParams(scope["query_string"]).multi_items())
        if where is None and _json(scope) and not path.startswith("/hooks/"):
            body, receive = await _buffered(receive)
            if b"\\u0000" in body:  # JSON can only spell a NUL this way
                try:
                    field = nul_in(orjson.loads(body))
                except orjson.JSONDecodeError:
                    field = None  # the route says what is wrong with the body
                where = field and f"field {field}"
        if where:
            await refusal(400, f"{where} {NUL_FIX}")(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return bool(value.split(b";")[0].strip().lower().endswith(b"json"))
    return False


async def _buffered(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a `receive` that gives it again to the route."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":  # the client went away
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return await receive()
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay
