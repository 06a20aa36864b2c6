"""How the SDK reads the event stream: events cut anywhere, any line ending, pings ignored."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from headway.flags.snapshot import Snapshot, build_snapshot, config_document
from headway.sdk import Client
from headway.sdk.stream import DirectStream, proxied

from .conftest import boolean_flag, eventually


def _config(enabled: bool) -> Snapshot:
    return build_snapshot(config_document("production", [boolean_flag(enabled=enabled)], []))


def test_events_cut_anywhere_with_any_line_ending_are_applied_in_order() -> None:
    on, off = _config(True), _config(False)
    # Given a stream with a ping, the flag on (CRLF lines), then the flag off (CR lines),
    # delivered seven bytes at a time so that every separator is cut somewhere
    body = (
        b": ping\n\n"
        + b"event: config\r\nid: "
        + on.etag.encode()
        + b"\r\ndata: "
        + on.body
        + b"\r\n\r\n"
        + b"event: config\rid: "
        + off.etag.encode()
        + b"\rdata: "
        + off.body
        + b"\r\r"
    )
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]
    streams = 0
    listening = threading.Event()

    def server(request: httpx.Request) -> httpx.Response:
        nonlocal streams
        if request.url.path == "/sdk/stream":
            listening.wait(10)  # answer once the test listens
            streams += 1
            replay: Iterator[bytes] = iter(chunks if streams == 1 else [])
            return httpx.Response(
                200, headers={"Content-Type": "text/event-stream"}, content=replay
            )
        return httpx.Response(304, headers={"ETag": off.etag})

    seen: list[str | None] = []
    client = Client(
        "http://headway.test", "key", flush_interval=0, transport=httpx.MockTransport(server)
    )
    client.add_listener(lambda _old, new: seen.append(new.etag))
    listening.set()
    try:
        # Then the client applies both configurations, in order, and ends on the flag off
        assert eventually(lambda: client.etag == off.etag)
        assert seen[:2] == [on.etag, off.etag]
        assert client.evaluate("new-checkout").reason == "DISABLED"
    finally:
        client.close()


def test_the_stream_goes_through_httpx_when_a_proxy_applies(monkeypatch: Any) -> None:
    # Given a proxy for http in the environment, which httpx would honour
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "headway.local")
    # Then a server behind it is streamed through httpx, and one excluded from it directly
    assert proxied("http://headway.test:8000")
    assert not proxied("http://headway.local:8000")
    assert not proxied("https://headway.test")  # no proxy set for https
    monkeypatch.delenv("HTTP_PROXY")
    assert not proxied("http://headway.test:8000")


def test_a_direct_stream_refuses_a_url_it_cannot_open() -> None:
    with pytest.raises(ValueError, match="expected http"):
        DirectStream("ftp://headway.test", "/sdk/stream", {}, connect_timeout=1, read_timeout=1)
