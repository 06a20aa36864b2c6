"""Every route refuses in one shape: each route of the app (the API and the web pages), asked
without a credential and then as an admin with names that do not exist, answers a JSON
refusal as `{"error": …}` (plus `problems` or `delivery`) and nothing else. OFREP keeps the
shape its specification gives, and streams are left out (they would stay open)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway import web
from headway.api.app import create_app
from headway.api.responses import Error
from headway.config import Settings
from tests.api.test_auth import NEEDS

SKIP = re.compile(r"^/ofrep/|stream")
BODY: dict[str, Any] = {"nosuch": True}


def _routes() -> list[tuple[str, str]]:
    """Every route, from the table tests/api/test_auth.py checks is complete."""
    return sorted((m.upper(), p) for m, p in NEEDS if not SKIP.search(p))


def _check(answer: Any, where: str) -> None:
    if answer.status_code < 400 or "json" not in answer.headers.get("content-type", ""):
        return
    body = answer.json()
    assert isinstance(body, dict), where
    assert set(body) <= {"error", "problems", "delivery"}, (where, body)
    Error.model_validate(body)


@pytest.fixture
def client(tmp_path: Path) -> Any:
    with TestClient(web.install(create_app(Settings(database=str(tmp_path / "s.duckdb"))))) as c:
        yield c


def test_every_route_refuses_in_one_shape(client: TestClient) -> None:
    routes = _routes()
    assert len(routes) > 50  # the whole app, not a part of it
    _, admin = client.app.state.tokens.create("admin", name="admin", actor="test")  # type: ignore[attr-defined]
    for method, path in routes:
        url = re.sub(r"\{[^}]+\}", "nosuch", path)
        for headers in ({}, {"Authorization": f"Bearer {admin}"}):
            answer = client.request(
                method,
                url,
                headers=headers,
                json=BODY if method in ("POST", "PUT", "PATCH") else None,
                follow_redirects=False,
            )
            assert answer.status_code < 500, (method, url, answer.text)
            _check(answer, f"{method} {url}")
    # and the router's own refusals: an unknown path, a method a path does not take
    for method, url in (("GET", "/api/nosuch"), ("GET", "/nosuch"), ("DELETE", "/api/metrics")):
        answer = client.request(method, url, headers={"Authorization": f"Bearer {admin}"})
        assert answer.status_code in (404, 405)
        _check(answer, f"{method} {url}")
        assert "error" in answer.json()
