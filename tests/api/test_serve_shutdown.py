"""`headway serve` stops when told to, even with SDKs streaming from it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from headway.config import Settings
from headway.flags.tokens import TokenService
from headway.sdk import Client
from headway.store import open_store
from tests.conftest import free_port, wait_until_serving


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT])
def test_serve_ends_open_sdk_streams_and_exits_when_stopped(
    tmp_path: Path, stop: signal.Signals
) -> None:
    # Given a server with two SDKs streaming from it
    database = str(tmp_path / "store.duckdb")
    store = open_store(Settings(database=database))
    _, key = TokenService(store).create(
        "server", name="app", actor="test", environment="production"
    )
    store.close()
    port = free_port()
    env = {**os.environ, "HEADWAY_DATABASE": database}
    env.pop("HEADWAY_URL", None)
    server = subprocess.Popen(
        [sys.executable, "-m", "headway", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    clients: list[Client] = []
    try:
        wait_until_serving(url)
        clients = [Client(url, key, flush_interval=0) for _ in range(2)]
        deadline = time.monotonic() + 10
        while not all(c.connected for c in clients) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(c.connected for c in clients)
        # When it is told to stop
        server.send_signal(stop)
        # Then it ends the streams and exits on its own, cleanly
        output, _ = server.communicate(timeout=20)
        assert server.returncode in (0, -stop), output
        assert "Application shutdown complete" in output
        assert "Exception in ASGI application" not in output
        # And the SDKs keep serving what they had, no longer connected
        deadline = time.monotonic() + 10
        while any(c.connected for c in clients) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(c.connected for c in clients)
    finally:
        for client in clients:
            client.close()
        if server.poll() is None:
            server.kill()
            server.wait()
