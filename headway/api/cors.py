"""CORS for the endpoints a client key may call, and for no other.

A browser page on another origin may evaluate flags (`/ofrep/…`) and report exposures
(`/sdk/exposures`) when its origin is one its environment allows (`headway flags origins`,
`PUT /api/environments/{key}/cors-origins`; none by default). Every other route, admin and
delivery alike, never answers with CORS headers, so no page can read them.

A preflight carries no credentials, so it cannot say which environment it is for: it is
answered for an origin that any environment allows. The request itself then names its key,
and its answer carries `Access-Control-Allow-Origin` only when that key's environment allows
the origin; a request whose key failed authentication is answered as the preflight was, so the
page can read why.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ALLOWED_HEADERS", "ClientCors", "is_client_path"]

ALLOWED_METHODS = "GET, POST"
ALLOWED_HEADERS = frozenset(
    {"authorization", "x-api-key", "content-type", "if-none-match", "accept", "cache-control"}
)
EXPOSED_HEADERS = "ETag, Retry-After"
PREFLIGHT_MAX_AGE = "600"  # seconds a browser may reuse a preflight's answer
ENVIRONMENT_STATE = "headway_environment"  # set by the route once the key is known


def is_client_path(path: str) -> bool:
    return path.startswith("/ofrep/") or path == "/sdk/exposures"


class ClientCors:
    """ASGI middleware: preflights and `Access-Control-*` headers for client paths only."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_client_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            await self._preflight(scope, headers, origin, send)
            return
        allowed = await _allowed(scope)

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                out.add_vary_header("Origin")
                environment = scope.get("state", {}).get(ENVIRONMENT_STATE)
                ok = (
                    origin in allowed.get(environment, ())
                    if environment is not None
                    else any(origin in o for o in allowed.values())
                )
                if ok:
                    out["Access-Control-Allow-Origin"] = origin
                    out["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _preflight(self, scope: Scope, headers: Headers, origin: str, send: Send) -> None:
        allowed = await _allowed(scope)
        asked = {
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        }
        method = headers["access-control-request-method"].upper()
        problem = None
        if not any(origin in o for o in allowed.values()):
            problem = (
                f"origin {origin!r} may not call this server from a browser; allow it with "
                "`headway flags origins ENV --allow ORIGIN`"
            )
        elif method not in ("GET", "POST"):
            problem = f"method {method} is not allowed; use GET or POST"
        elif asked - ALLOWED_HEADERS:
            problem = f"headers {', '.join(sorted(asked - ALLOWED_HEADERS))} are not allowed"
        if problem is not None:
            body = orjson.dumps({"error": problem})
            await _answer(send, 403, [(b"content-type", b"application/json")], body)
            return
        cors = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", ALLOWED_METHODS.encode()),
            (b"access-control-allow-headers", ", ".join(sorted(asked)).encode()),
            (b"access-control-max-age", PREFLIGHT_MAX_AGE.encode()),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
        ]
        await _answer(send, 204, cors, b"")


async def _allowed(scope: Scope) -> dict[str, frozenset[str]]:
    state: Any = getattr(scope.get("app"), "state", None)
    hub = getattr(state, "flag_hub", None)
    if hub is None:  # not started: no environment, no origin
        return {}
    cached: dict[str, frozenset[str]] | None = hub.loaded_origins()
    if cached is not None:
        return cached
    return await asyncio.to_thread(hub.origins)


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    headers = [*headers, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
