"""The SDK against a real server: download, streaming, polling, bootstrap, offline, exposures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from headway.sdk import Client

from .conftest import BOOLEAN_FLAG, Live, eventually


def _setup(live: Live, enabled: bool = True) -> None:
    httpx.post(f"{live.url}/api/flags", json=BOOLEAN_FLAG, headers=live.admin).raise_for_status()
    httpx.patch(
        f"{live.url}/api/flags/new-checkout/environments/production",
        json={"enabled": enabled, "default": {"variant": "on"}},
        headers=live.admin,
    ).raise_for_status()


def _kill(live: Live) -> None:
    httpx.post(
        f"{live.url}/api/flags/new-checkout/kill", json={}, headers=live.admin
    ).raise_for_status()


def test_stream_delivers_a_kill_switch(live: Live) -> None:
    _setup(live)
    with Client(live.url, live.server_key, flush_interval=0) as client:
        # Given a connected client that sees the flag on
        assert client.wait_until_ready(10)
        assert client.boolean("new-checkout", False, {"targetingKey": "u1"}) is True
        assert eventually(lambda: client.connected)
        # When the flag is killed, Then the stream brings the change without a poll
        _kill(live)
        assert eventually(lambda: client.evaluate("new-checkout").reason == "DISABLED")
        assert client.boolean("new-checkout", True, {"targetingKey": "u1"}) is False


def test_polling_with_etag(live: Live) -> None:
    _setup(live)
    with Client(
        live.url, live.server_key, stream=False, poll_interval=0.1, flush_interval=0
    ) as client:
        assert client.wait_until_ready(10)
        etag = client.etag
        assert client.refresh() is False  # 304: nothing changed
        assert client.etag == etag
        _kill(live)
        assert eventually(lambda: client.etag != etag)
        assert client.evaluate("new-checkout").reason == "DISABLED"


def test_keeps_the_last_good_config_when_the_server_goes_away(live: Live) -> None:
    from .conftest import stop_live

    _setup(live)
    client = Client(live.url, live.server_key, poll_interval=0.2, flush_interval=0)
    try:
        assert client.wait_until_ready(10)
        stop_live(live)
        # Then the SDK keeps answering from what it has, and records why it cannot sync
        assert eventually(lambda: client.last_error is not None)
        assert client.boolean("new-checkout", False, {"targetingKey": "u1"}) is True
    finally:
        client.close()


def test_bootstrap_file_then_server(live: Live, tmp_path: Path) -> None:
    _setup(live, enabled=False)
    config = httpx.get(
        f"{live.url}/sdk/config", headers={"Authorization": f"Bearer {live.server_key}"}
    )
    path = tmp_path / "flags.json"
    document = orjson.loads(config.content)
    document["flags"][0]["environments"]["production"]["enabled"] = True  # a stale copy: on
    path.write_bytes(orjson.dumps(document))
    # Given an unreachable server, Then the bootstrap file serves
    unreachable = Client("http://127.0.0.1:9", "hws_x", bootstrap=path, flush_interval=0)
    try:
        assert unreachable.boolean("new-checkout", False, {"targetingKey": "u"}) is True
    finally:
        unreachable.close()
    # Given the real server, Then its configuration replaces the bootstrap (the flag is off)
    with Client(live.url, live.server_key, bootstrap=path, flush_interval=0) as client:
        assert eventually(lambda: client.evaluate("new-checkout").reason == "DISABLED")


def test_offline_mode_never_touches_the_network(tmp_path: Path) -> None:
    document: dict[str, Any] = {
        "format": 1,
        "environment": "production",
        "segments": [],
        "flags": [
            {
                **BOOLEAN_FLAG,
                "environments": {
                    "production": {
                        "enabled": True,
                        "off_variant": "off",
                        "default": {"variant": "on"},
                    }
                },
            }
        ],
    }
    with Client(offline=True, bootstrap=document) as client:
        assert client.boolean("new-checkout", False) is True
        assert client.evaluate("missing").error_code == "FLAG_NOT_FOUND"
        details = client.details("new-checkout", "x", kind="string")
        assert (details.value, details.error_code) == ("x", "TYPE_MISMATCH")
        assert client.flush() == 0


def test_exposures_are_counted_and_sent(live: Live) -> None:
    _setup(live)
    with Client(live.url, live.server_key, flush_interval=0) as client:
        assert client.wait_until_ready(10)
        for i in range(5):
            client.boolean("new-checkout", False, {"targetingKey": f"u{i}"})
        client.evaluate("missing")  # not counted: no such flag
        # When flushed, Then one row (flag, on, 5) is sent; a second flush has nothing to send
        assert client.flush() == 1
        assert client.flush() == 0
    totals = httpx.get(f"{live.url}/api/flags/new-checkout/exposures", headers=live.admin).json()
    assert totals == {"on": 5}


def test_bad_key_is_reported_not_raised(live: Live) -> None:
    with Client(live.url, "hws_wrong", flush_interval=0) as client:
        assert client.wait_until_ready(10)
        assert "refused" in (client.last_error or "")
        assert client.boolean("new-checkout", True) is True  # the caller's default


def test_client_needs_a_url_or_offline() -> None:
    with pytest.raises(ValueError, match="offline=True"):
        Client()


def test_changes_through_another_service_instance_reach_streams(live: Live) -> None:
    # The rollout controller builds its own FlagService on the app's store; its stage moves
    # must reach SDKs like any change made through the API.
    from headway.flags.model import Serve, Split, WeightedVariant
    from headway.flags.service import FlagService

    _setup(live)
    with Client(live.url, live.server_key, flush_interval=0) as client:
        assert eventually(lambda: client.connected)
        other = FlagService(live.app.state.store)
        serve = Serve(
            split=Split(
                weights=[
                    WeightedVariant(variant="off", weight=95),
                    WeightedVariant(variant="on", weight=5),
                ]
            )
        )
        other.set_default_serve("new-checkout", "production", serve, actor="rollout", reason="5 %")
        assert eventually(
            lambda: client.evaluate("new-checkout", {"targetingKey": "u"}).reason == "SPLIT"
        )
