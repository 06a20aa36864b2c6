"""How the SDK reads the event stream: events cut anywhere, any line ending, pings ignored."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import trustme

from headway.flags.snapshot import Snapshot, build_snapshot, config_document
from headway.sdk import Client
from headway.sdk.stream import DirectStream, proxied, tls_context

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


def test_a_direct_stream_over_tls_trusts_what_httpx_trusts(monkeypatch: Any, tmp_path: Any) -> None:
    # Given an HTTPS server whose certificate comes from a private authority, named to the SDK
    # the way httpx is told (SSL_CERT_FILE)
    authority = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    bundle = tmp_path / "authority.pem"
    authority.cert_pem.write_to_path(str(bundle))
    on = _config(True)
    body = b"event: config\nid: " + on.etag.encode() + b"\ndata: " + on.body + b"\n\n"

    class Stream(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert self.headers["Authorization"] == "Bearer hws_test"
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))

        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.HTTPServer(("127.0.0.1", 0), Stream)
    httpd.socket = server_context.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    url = f"https://127.0.0.1:{httpd.server_address[1]}"
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
        tls_context.cache_clear()
        # When the stream is read directly
        with DirectStream(
            url,
            "/sdk/stream",
            {"Authorization": "Bearer hws_test"},
            connect_timeout=5,
            read_timeout=5,
        ) as stream:
            assert stream.open() == (200, "")
            received = b"".join(stream.chunks())
        # Then it arrives whole, through the certificate check
        assert received == body
        # And without that authority the same server is refused, as httpx would refuse it
        monkeypatch.delenv("SSL_CERT_FILE")
        tls_context.cache_clear()
        refused = DirectStream(url, "/sdk/stream", {}, connect_timeout=5, read_timeout=5)
        with refused, pytest.raises(ssl.SSLCertVerificationError):
            refused.open()
    finally:
        tls_context.cache_clear()
        httpd.shutdown()
        httpd.server_close()
