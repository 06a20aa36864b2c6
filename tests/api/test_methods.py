"""A method a path does not serve is answered 405, naming every method it does serve."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings
from tests.conftest import authorize


def test_405_names_the_methods_of_every_route_at_the_path(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(database=str(tmp_path / "s.duckdb")))) as client:
        authorize(client, "admin")
        # /api/flags/{key} is served by three routes (GET, PUT, PATCH)
        refused = client.request("OPTIONS", "/api/flags/checkout")
        assert refused.status_code == 405
        assert refused.headers["allow"] == "GET, PATCH, PUT"
        refused = client.delete("/api/tokens")
        assert refused.headers["allow"] == "GET, POST"
        # /api/segments/{key}: the PUT route is declared first, GET and DELETE after it
        assert client.request("TRACE", "/api/segments/x").headers["allow"] == "DELETE, GET, PUT"
