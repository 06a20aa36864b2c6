"""Builders for flag documents used across the flag tests."""

from __future__ import annotations

from typing import Any

import pytest

from headway.flags.model import Flag, parse_flag


def boolean_flag(key: str = "new-checkout", **env: Any) -> Flag:
    """A boolean flag with variants on/off and one `production` environment built from `env`."""
    production = {"enabled": True, "off_variant": "off", "default": {"variant": "on"}, **env}
    return parse_flag(
        {
            "key": key,
            "type": "boolean",
            "owner": "team-payments",
            "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
            "lifecycle": {"kind": "temporary", "expected_removal": "2030-01-01"},
            "environments": {"production": production},
        }
    )


def split(on: float, bucket_by: str = "targetingKey") -> dict[str, Any]:
    return {
        "split": {
            "weights": [{"variant": "on", "weight": on}, {"variant": "off", "weight": 100 - on}],
            "bucket_by": bucket_by,
        }
    }


@pytest.fixture
def make_flag() -> Any:
    return boolean_flag


# --- HTTP fixtures ---------------------------------------------------------------------------

import threading  # noqa: E402
import time  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from headway.config import Settings  # noqa: E402
from tests.conftest import free_port  # noqa: E402

BOOLEAN_FLAG = {
    "key": "new-checkout",
    "type": "boolean",
    "owner": "team-payments",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
    "lifecycle": {"kind": "temporary", "expected_removal": "2030-01-01"},
    "tags": ["checkout"],
}


def flag_app(settings: Settings) -> FastAPI:
    """The real app, with the flag routers included if the app factory does not yet."""
    from headway.api.app import create_app
    from headway.api.flags import install

    return install(create_app(settings))


@dataclass
class Api:
    http: TestClient
    app: FastAPI
    admin: dict[str, str]
    server_key: str
    client_key: str


def _keys(app: FastAPI) -> tuple[str, str, str]:
    tokens = app.state.tokens
    _, admin = tokens.create("admin", name="alice", actor="test")
    _, server = tokens.create("server", name="backend", actor="test", environment="production")
    _, client = tokens.create("client", name="web", actor="test", environment="production")
    return admin, server, client


@pytest.fixture
def api(tmp_path: Any) -> Iterator[Api]:
    app = flag_app(Settings(database=str(tmp_path / "api.duckdb")))
    with TestClient(app) as http:
        admin, server, client = _keys(app)
        yield Api(http, app, {"Authorization": f"Bearer {admin}"}, server, client)


@dataclass
class Live:
    url: str
    app: FastAPI
    admin: dict[str, str]
    server_key: str
    client_key: str
    server: uvicorn.Server


def start_live(settings: Settings, keys: tuple[str, str, str] | None = None) -> Live:
    """A real uvicorn server on a free loopback port, in a thread."""
    app = flag_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
            lifespan="on",
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    admin, server_key, client_key = keys or _keys(app)
    live = Live(
        f"http://127.0.0.1:{port}",
        app,
        {"Authorization": f"Bearer {admin}"},
        server_key,
        client_key,
        server,
    )
    live.thread = thread  # type: ignore[attr-defined]
    return live


def stop_live(live: Live) -> None:
    live.server.should_exit = True
    live.thread.join(timeout=10)  # type: ignore[attr-defined]


@pytest.fixture
def live(tmp_path: Any) -> Iterator[Live]:
    server = start_live(Settings(database=str(tmp_path / "live.duckdb")))
    yield server
    stop_live(server)


def eventually(check: Any, timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy (not a timing assertion: a deadline)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.02)
