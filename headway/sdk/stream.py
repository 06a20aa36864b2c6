"""Reading `/sdk/stream` with the standard library's HTTP client.

Every kill switch reaches applications through this read, once per SDK, so it is kept short.
`http.client` hands over each chunk of the response in one call; httpx's streaming passes it
through four layers of its own (transport, connection pool, connection, h11), which cost about
70 µs more per event: in alternating runs of the benchmark with 1,000 clients, an SDK spent
204–274 µs of CPU per delivery reading through httpx and 132–180 µs reading this way.

httpx still makes every other request, and reads the stream itself whenever it would behave
differently from a direct connection: a custom transport, or a proxy from the environment.
TLS uses the same trust as httpx (`httpx.create_ssl_context`: certifi, or `SSL_CERT_FILE` /
`SSL_CERT_DIR`).
"""

from __future__ import annotations

import contextlib
import functools
import http.client
import itertools
import socket
import ssl
import urllib.request
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit

import httpx

__all__ = ["DirectStream", "proxied", "server_sent_events", "tls_context"]

_CHUNK = 65_536


@functools.cache
def tls_context() -> ssl.SSLContext:
    """httpx's default TLS context, built once per process: loading the certificate bundle
    takes about 30 ms, which every client and stream would otherwise pay again."""
    return httpx.create_ssl_context()


def proxied(url: str) -> bool:
    """True if the environment sends requests for `url` through a proxy (as httpx would)."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass(parts.hostname or "")


class DirectStream:
    """One GET of a server-sent event stream: `open()`, then `chunks()` until it ends.

    `interrupt()` may be called from another thread to end a blocked read at once.
    """

    def __init__(
        self,
        base_url: str,
        path: str,
        headers: Mapping[str, str],
        *,
        connect_timeout: float,
        read_timeout: float,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url {base_url!r}: expected http(s)://host[:port][/path]")
        self._target = parts.path.rstrip("/") + path
        self._headers = dict(headers)
        self._read_timeout = read_timeout
        self._connection: http.client.HTTPConnection
        if parts.scheme == "https":
            self._connection = http.client.HTTPSConnection(
                parts.hostname,
                parts.port,
                timeout=connect_timeout,
                context=tls_context(),
            )
        else:
            self._connection = http.client.HTTPConnection(
                parts.hostname, parts.port, timeout=connect_timeout
            )
        self._response: http.client.HTTPResponse | None = None

    def open(self) -> tuple[int, str]:
        """Send the request; the status, and the body's text when the status is not 200."""
        self._connection.request("GET", self._target, headers=self._headers)
        response = self._connection.getresponse()
        if response.status != 200:
            text = response.read().decode("utf-8", "replace")
            return response.status, text
        sock = self._connection.sock
        if sock is not None:
            sock.settimeout(self._read_timeout)
        self._response = response
        return 200, ""

    def chunks(self) -> Iterator[bytes]:
        """The body's bytes as they arrive (chunked transfer coding already removed)."""
        response = self._response
        if response is None:
            return
        read = response.read1
        while chunk := read(_CHUNK):
            yield chunk

    def interrupt(self) -> None:
        """Wake a thread blocked in `chunks()`: shut the socket down (safe from any thread)."""
        sock = self._connection.sock
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self._connection.close()

    def __enter__(self) -> DirectStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def server_sent_events(chunks: Iterator[bytes]) -> Iterator[tuple[bytes, bytes]]:
    """(event type, data) for each event of a `text/event-stream` body, as it completes.

    Lines may end in LF, CRLF or CR; several `data:` lines are joined with LF; comments (the
    server's pings) and events without data yield nothing.
    """
    buffer = b""
    for chunk in itertools.chain(chunks, [None]):  # None: the end of the stream
        searched = max(len(buffer) - 1, 0)  # an event's end may straddle two chunks
        buffer += chunk or b""
        if b"\r" in buffer:
            # A CR at the very end may be the first half of a CRLF: keep it for the next chunk.
            held = chunk is not None and buffer.endswith(b"\r")
            body = buffer[:-1] if held else buffer
            buffer = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n") + (b"\r" if held else b"")
            searched = 0
        while (end := buffer.find(b"\n\n", searched)) >= 0:
            block, buffer, searched = buffer[:end], buffer[end + 2 :], 0
            event, data = b"message", []
            for line in block.split(b"\n"):
                if line.startswith(b"data:"):
                    data.append(line[5:].removeprefix(b" "))
                elif line.startswith(b"event:"):
                    event = line[6:].strip()
            if data:
                yield event, b"\n".join(data)
