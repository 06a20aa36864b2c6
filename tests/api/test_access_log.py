"""`headway serve` logs one line per request, naming the token that made it."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings
from tests.conftest import authorize, free_port, make_token, run_headway, wait_until_serving


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "headway.access"]


def test_each_request_is_one_line_with_its_caller(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(Settings(database=str(tmp_path / "s.duckdb")))
    caplog.set_level(logging.INFO, logger="headway.access")
    with TestClient(app) as client:
        secret = authorize(client, "viewer")
        assert client.get("/api/definitions?since=x").status_code in {200, 400, 422}
        client.headers["Authorization"] = "Bearer not-a-token"
        assert client.get("/api/definitions").status_code == 401
        assert client.get("/healthz").status_code == 200
    first, refused, health = _lines(caplog)
    assert re.fullmatch(r"GET /api/definitions (200|400|422) \d+\.\d ms token:test-viewer", first)
    assert "since=x" not in first  # the query string stays out of the log
    assert re.fullmatch(r"GET /api/definitions 401 \d+\.\d ms -", refused)
    assert re.fullmatch(r"GET /healthz 200 \d+\.\d ms -", health)
    assert all(secret not in line for line in _lines(caplog))


def test_the_access_log_can_be_turned_off(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(Settings(database=str(tmp_path / "s.duckdb"), access_log=False))
    caplog.set_level(logging.INFO, logger="headway.access")
    with TestClient(app) as client:
        assert client.get("/healthz").status_code == 200
    assert _lines(caplog) == []


def test_serve_writes_the_line_to_its_log(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env["HEADWAY_DATABASE"] = str(tmp_path / "s.duckdb")
    secret = make_token(env, "viewer")
    port = free_port()
    path = tmp_path / "serve.log"
    with path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "headway", "serve", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url)
        answer = httpx.get(f"{url}/api/definitions", headers={"Authorization": f"Bearer {secret}"})
        assert answer.status_code == 200
    finally:
        process.terminate()
        process.wait(30)
    text = path.read_text()
    assert re.search(r"INFO: +GET /api/definitions 200 \d+\.\d ms token:viewer-key\n", text)
    assert secret not in text


def test_an_unknown_log_level_is_refused(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env["HEADWAY_DATABASE"] = str(tmp_path / "s.duckdb")
    done = run_headway("serve", "--log-level", "loud", env=env)
    assert done.returncode == 2
    assert "--log-level must be one of critical, error, warning, info, debug, trace" in done.stderr
