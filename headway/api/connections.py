"""uvicorn's HTTP protocol with the bounds it lacks: a deadline for a request's headers, an idle
limit for its body, and a cap on the size of the headers.

uvicorn closes idle keep-alive connections but starts no timer while a request is arriving, so
a client sending its headers a byte every few seconds (slowloris) holds a connection forever,
and its headers may grow without limit.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from headway.config import get_settings

__all__ = ["BoundedHttp"]


class HeadersTooLarge(Exception):
    """Raised from the parser's callbacks; uvicorn answers 400 and closes."""


class BoundedHttp(HttpToolsProtocol):
    """Bounds come from the settings (read in each worker process, as the app's are)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = get_settings()
        self.header_timeout_s = settings.header_timeout_s
        self.body_idle_timeout_s = settings.body_idle_timeout_s
        self.header_max_bytes = settings.header_max_bytes
        self._deadline: asyncio.TimerHandle | None = None
        self._in_body = False
        self._header_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout_s)

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_body:
            self._arm(self.body_idle_timeout_s)  # progress: the idle clock starts again
        elif self._deadline is None:
            self._arm(self.header_timeout_s)  # the first byte of a keep-alive request
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_body = True
        self._arm(self.body_idle_timeout_s)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._in_body = False
        self._disarm()  # the app has the request; keep-alive timing is uvicorn's again
        super().on_message_complete()

    def _count(self, size: int) -> None:
        self._header_bytes += size
        if self._header_bytes > self.header_max_bytes:
            raise HeadersTooLarge(
                f"request line and headers over {self.header_max_bytes} bytes "
                "(HEADWAY_HEADER_MAX_BYTES)"
            )

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(seconds, self._expire)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
