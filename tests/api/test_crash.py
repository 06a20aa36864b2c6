"""A real server killed (SIGKILL) in the middle of a burst: every answered delivery survives,
none is stored twice, and the restarted server takes the redeliveries as duplicates."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headway.config import Settings
from headway.store import open_store
from tests.api.conftest import fixture
from tests.conftest import free_port

SECRET = "crash-secret"


def _start(database: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "HEADWAY_DATABASE": database, "HEADWAY_GITHUB_WEBHOOK_SECRET": SECRET}
    env.pop("HEADWAY_URL", None)
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "headway.cli.serve:create",
            "--factory",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    raise AssertionError("the server did not start")


def _deliveries(count: int) -> list[tuple[str, bytes, dict[str, str]]]:
    pr = fixture("github/pull_request/opened.payload.json")
    out = []
    for number in range(count):
        pr["pull_request"]["number"] = number
        body = json.dumps(pr).encode()
        delivery = str(uuid.uuid4())
        signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        out.append(
            (
                delivery,
                body,
                {
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": delivery,
                    "X-Hub-Signature-256": f"sha256={signature}",
                    "Content-Type": "application/json",
                },
            )
        )
    return out


async def _burst(
    port: int,
    items: list[tuple[str, bytes, dict[str, str]]],
    kill_after: int,
    server: subprocess.Popen[bytes],
) -> dict[str, int]:
    """Send every delivery from 16 clients; SIGKILL the server after `kill_after` answers."""
    answered: dict[str, int] = {}
    queue: asyncio.Queue[tuple[str, bytes, dict[str, str]]] = asyncio.Queue()
    for item in items:
        queue.put_nowait(item)

    async def client() -> None:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
            while not queue.empty():
                delivery, body, headers = queue.get_nowait()
                try:
                    response = await http.post("/hooks/github", content=body, headers=headers)
                except httpx.HTTPError:
                    continue  # not answered: the sender would retry
                answered[delivery] = response.status_code
                if len(answered) == kill_after:
                    server.send_signal(signal.SIGKILL)

    await asyncio.gather(*(client() for _ in range(16)))
    return answered


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "duckdb":
        yield str(tmp_path / "crash.duckdb")
    else:
        yield request.getfixturevalue("pg_schema_url")


@pytest.mark.slow
def test_sigkill_mid_burst_loses_no_answered_delivery_and_stores_none_twice(database: str) -> None:
    port = free_port()
    items = _deliveries(300)
    server = _start(database, port)
    try:
        answered = asyncio.run(_burst(port, items, kill_after=100, server=server))
    finally:
        server.kill()
        server.wait()
    accepted = {d for d, status in answered.items() if status == 200}
    # Given the kill landed mid-burst: some deliveries were answered, some never were.
    assert 100 <= len(accepted) < len(items)
    store = open_store(Settings(database=database))
    try:
        stored = {r[0] for r in store.query("SELECT source_id FROM raw_events")}
        # Then every delivery answered 2xx was committed.
        assert accepted <= stored
    finally:
        store.close()
    # When the sender redelivers everything to the restarted server
    server = _start(database, port)
    try:
        again = asyncio.run(_burst(port, items, kill_after=-1, server=server))
    finally:
        server.terminate()
        server.wait()
    # Then the ones it had stored are duplicates, the rest are accepted, all once.
    assert {d for d, s in again.items() if s == 200} == {d for d, *_ in items}
    store = open_store(Settings(database=database))
    try:
        assert store.query("SELECT count(*), count(DISTINCT id) FROM raw_events") == [(300, 300)]
        # one change per pull request number 0..299
        assert store.query("SELECT count(*) FROM changes") == [(300,)]
    finally:
        store.close()
