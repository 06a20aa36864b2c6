"""`/openapi.json` states the rules the server applies, as this server is configured."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings


def test_the_document_states_this_servers_page_max_and_json_errors(tmp_path: Path) -> None:
    settings = Settings(database=str(tmp_path / "s.duckdb"), page_max=250)
    with TestClient(create_app(settings)) as client:
        doc = client.get("/openapi.json").json()
        limits = [
            kind
            for operations in doc["paths"].values()
            for operation in operations.values()
            for parameter in operation.get("parameters", [])
            if parameter["name"] == "limit"
            for kind in parameter["schema"]["anyOf"]
            if kind["type"] == "integer"
        ]
        # every paged list (deployments, flags, tokens, …) says 1 to 250, this server's bound
        assert len(limits) > 10
        assert all((k["minimum"], k["maximum"]) == (1, 250) for k in limits)
        # the review page is HTML, and its refusals are the JSON every route answers
        answers = doc["paths"]["/api/review.html"]["get"]["responses"]
        assert list(answers["200"]["content"]) == ["text/html"]
        assert {media for code in ("400", "401", "422") for media in answers[code]["content"]} == {
            "application/json"
        }
