"""One log line per HTTP request: what was asked, how it was answered, how long it took, by whom.

The line names the path without its query string (queries can carry names a log reader need
not see) and the token by its name, never its secret. Requests refused before a token was read
log `-` as their caller.
"""

from __future__ import annotations

import logging
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLog"]

log = logging.getLogger("headway.access")


class AccessLog:
    """ASGI middleware writing `METHOD PATH STATUS MS CALLER` at INFO for every request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client sees if the app fails before answering

        async def watched(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watched)
        finally:
            caller = scope.get("state", {}).get("headway_caller", "-")
            elapsed = (time.perf_counter() - started) * 1000
            log.info("%s %s %d %.1f ms %s", scope["method"], scope["path"], status, elapsed, caller)
