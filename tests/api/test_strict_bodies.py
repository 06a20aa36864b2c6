"""Request bodies are read as the OpenAPI document types them, not more loosely."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings


def test_a_boolean_is_not_a_count_and_a_number_is_not_a_time(tmp_path: Path) -> None:
    with TestClient(create_app(Settings(database=str(tmp_path / "s.duckdb")))) as client:
        _, key = client.app.state.tokens.create(  # type: ignore[attr-defined]
            "server", name="sdk", actor="test", environment="production"
        )
        client.headers["Authorization"] = f"Bearer {key}"
        window = {"batch": "b1", "from": "2026-10-01T00:00:00Z", "to": "2026-10-01T00:01:00Z"}
        count = {"flag": "checkout", "variant": "on", "count": 3}
        # Given a valid batch, it is accepted (3 evaluations of one variant: one row)
        done = client.post("/sdk/exposures", json={**window, "counts": [count]})
        assert done.status_code == 202, done.text
        # When the count is `false`, or the window starts at 0, each is refused naming it
        wrong = client.post(
            "/sdk/exposures", json={**window, "batch": "b2", "counts": [{**count, "count": False}]}
        )
        assert wrong.status_code == 422
        assert wrong.json()["problems"][0]["field"] == "body.counts.0.count"
        wrong = client.post("/sdk/exposures", json={**window, "from": 0, "counts": []})
        assert wrong.status_code == 422
        assert wrong.json()["problems"][0]["field"] == "body.from"
