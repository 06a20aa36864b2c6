"""The SDK event stream on its own: config on connect, keep-alive pings, changes, disconnects."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from headway.api.stream import EventStream
from headway.config import Settings
from headway.flags.hub import FlagHub, end_streams_on_exit_signals
from headway.flags.service import FlagService
from headway.store import open_store

from .conftest import BOOLEAN_FLAG


class Connection:
    """The ASGI side of one SSE client: what the stream sent, and a way to hang up."""

    def __init__(self) -> None:
        self.sent: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.hung_up = asyncio.Event()
        self._requested = False

    async def receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.hung_up.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        await self.sent.put(message)

    async def body(self) -> bytes:
        message = await asyncio.wait_for(self.sent.get(), 10)
        assert message["type"] == "http.response.body"
        return bytes(message["body"])


def _hub(tmp_path: Path) -> tuple[FlagService, FlagHub]:
    service = FlagService(open_store(Settings(database=str(tmp_path / "stream.duckdb"))))
    service.create_flag(BOOLEAN_FLAG, actor="alice")
    service.set_enabled("new-checkout", "production", True, actor="alice")
    return service, FlagHub(service, ping_seconds=0.05)


def test_config_then_pings_then_changes_until_the_client_hangs_up(tmp_path: Path) -> None:
    service, hub = _hub(tmp_path)

    async def scenario() -> None:
        hub.bind(asyncio.get_running_loop())
        etag = hub.snapshot("production").etag
        client = Connection()
        stream = asyncio.create_task(
            EventStream(hub, "production", None)({"type": "http"}, client.receive, client.send)
        )
        # Given a new stream, Then it starts with the headers and the current configuration
        start = await asyncio.wait_for(client.sent.get(), 10)
        assert (start["status"], dict(start["headers"])[b"content-type"]) == (
            200,
            b"text/event-stream; charset=utf-8",
        )
        assert (await client.body()).startswith(b"event: config\nid: " + etag.encode() + b"\n")
        assert hub.streams == 1
        # When nothing changes for a ping interval, Then it sends a keep-alive comment
        assert await client.body() == b": ping\n\n"
        # When the flag is killed, Then the new configuration follows (pings may come first)
        await asyncio.to_thread(service.kill, "new-checkout", actor="bob")
        await asyncio.to_thread(hub.refresh)
        new = hub.snapshot("production").etag
        assert new != etag
        while (body := await client.body()) == b": ping\n\n":
            pass
        assert body.startswith(b"event: config\nid: " + new.encode() + b"\n")
        assert b'"enabled":false' in body
        # When the client hangs up, Then the stream ends and is no longer counted
        client.hung_up.set()
        await asyncio.wait_for(stream, 10)
        assert hub.streams == 0
        hub.close()

    try:
        asyncio.run(scenario())
    finally:
        service.store.close()


def test_a_client_that_is_up_to_date_gets_no_config_on_connect(tmp_path: Path) -> None:
    service, hub = _hub(tmp_path)

    async def scenario() -> None:
        hub.bind(asyncio.get_running_loop())
        client = Connection()
        etag = hub.snapshot("production").etag
        # Given a client reconnecting with Last-Event-ID equal to the current ETag
        stream = asyncio.create_task(
            EventStream(hub, "production", etag)({"type": "http"}, client.receive, client.send)
        )
        await asyncio.wait_for(client.sent.get(), 10)  # headers
        # Then the first thing it receives is a keep-alive, not the configuration again
        assert await client.body() == b": ping\n\n"
        # And when the server shuts down, the stream ends with the closing chunk
        hub.close()
        assert await client.body() == b""
        await asyncio.wait_for(stream, 10)

    try:
        asyncio.run(scenario())
    finally:
        service.store.close()


def test_an_exit_signal_ends_the_streams_then_reaches_the_previous_handler(
    tmp_path: Path,
) -> None:
    # Given a hub on an event loop, and a handler for SIGTERM installed before it (the server's)
    _, hub = _hub(tmp_path)
    loop = asyncio.new_event_loop()
    received: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda sig, frame: received.append(sig))
    try:
        hub.bind(loop)
        with end_streams_on_exit_signals(hub):
            # When SIGTERM arrives
            signal.raise_signal(signal.SIGTERM)
            loop.run_until_complete(asyncio.sleep(0))
            # Then the hub is closed (every stream ends) and the server's handler still ran
            assert hub.closed
            assert received == [signal.SIGTERM]
        # And afterwards the server's handler is back in place
        signal.raise_signal(signal.SIGTERM)
        assert received == [signal.SIGTERM, signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, before)
        loop.close()
