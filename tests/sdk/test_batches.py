"""Exposure batches: a refused one is dropped with one log line and later ones still go; a
429 waits for its Retry-After; an offline client counts nothing it never sends."""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import orjson
import pytest

from headway.sdk.client import Client
from tests.flags.conftest import BOOLEAN_FLAG

CONFIG: dict[str, Any] = {
    "format": 1,
    "environment": "production",
    "segments": [],
    "flags": [
        {
            **BOOLEAN_FLAG,
            "environments": {
                "production": {"enabled": True, "off_variant": "off", "default": {"variant": "on"}}
            },
        }
    ],
}


class Server:
    """A fake control plane answering each exposure batch with the next scripted status."""

    def __init__(self, *answers: tuple[int, dict[str, str]]) -> None:
        self.answers = list(answers)
        self.batches: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/sdk/config":
            return httpx.Response(200, json=CONFIG, headers={"ETag": '"1"'})
        if request.url.path == "/sdk/exposures":
            self.batches.append(orjson.loads(request.content))
            status, headers = self.answers.pop(0) if self.answers else (202, {})
            return httpx.Response(status, json={}, headers=headers)
        return httpx.Response(404)


def _client(server: Server) -> Client:
    client = Client(
        "http://headway.test",
        "hws_x",
        transport=httpx.MockTransport(server),
        flush_interval=0,
        poll_interval=3600,
        stream=False,
    )
    assert client.wait_until_ready(5)
    return client


def test_a_refused_batch_is_dropped_once_and_later_batches_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a server that refuses the first batch with 422
    server = Server((422, {}))
    with _client(server) as client, caplog.at_level(logging.ERROR):
        client.boolean("new-checkout", False)
        # When it is flushed, Then it is dropped (nothing delivered) with one log line
        assert client.flush() == 0
        assert [r.levelno for r in caplog.records] == [logging.ERROR]
        assert "refused (422), dropped" in caplog.records[0].getMessage()
        # and the next batch is sent as a new one, not the refused one again
        client.boolean("new-checkout", False)
        client.boolean("new-checkout", False)
        assert client.flush() == 1
        first, second = server.batches[0], server.batches[1]
        assert first["batch"] != second["batch"]
        assert second["counts"] == [{"flag": "new-checkout", "variant": "on", "count": 2}]


def test_a_429_is_resent_after_its_retry_after() -> None:
    server = Server((429, {"Retry-After": "0.3"}))
    with _client(server) as client:
        client.boolean("new-checkout", False)
        assert client.flush() == 0  # 429: kept
        assert client.flush() == 0  # still within Retry-After: not even sent
        assert len(server.batches) == 1
        time.sleep(0.35)
        assert client.flush() == 1  # the same batch, with the same id
        assert server.batches[0]["batch"] == server.batches[1]["batch"]


def test_an_offline_client_counts_nothing() -> None:
    with Client(offline=True, bootstrap=CONFIG) as client:
        for _ in range(5):
            client.boolean("new-checkout", False)
        assert client.flush() == 0
        assert client._exposures.drain()[2] == []
