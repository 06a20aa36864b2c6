"""Every refusal has one shape: `{"error": "…"}` (with `problems` on a 422, `delivery` on a
webhook's), whichever layer refuses: the token check, the report options, the NUL guard, the
body limit, FastAPI's validation, an HTTPException in a route, the router itself, the store.
One request per family; each answer must be an `Error` and nothing else."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.api.responses import Error
from headway.config import Settings
from headway.store import StoreUnavailable

FLAG = {
    "key": "checkout",
    "type": "boolean",
    "owner": "web",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database=str(tmp_path / "store.duckdb"),
        import_max_records=2,
        github_webhook_secret="s3cret",
    )
    with TestClient(create_app(settings)) as http:
        yield http


def _token(client: TestClient, kind: str) -> dict[str, str]:
    _, secret = client.app.state.tokens.create(kind, name=kind, actor="test")  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {secret}"}


def _shape(answer: Any, status: int, says: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert set(body) <= {"error", "problems", "delivery"}, body
    Error.model_validate(body)
    assert says in body["error"], body
    return body


def test_every_family_of_refusal_answers_one_shape(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, viewer = _token(client, "admin"), _token(client, "viewer")
    # the token check
    _shape(client.get("/api/metrics"), 401, "send a token")
    _shape(client.post("/api/notes", headers=viewer, json={}), 403, "an editor or admin token")
    # a report option: a date that is not one (400), a name the store does not know (404)
    _shape(client.get("/api/metrics?since=2026-02-30", headers=viewer), 400, "2026-02-30")
    _shape(client.get("/api/metrics?team=nosuch", headers=viewer), 404, "nosuch")
    # the NUL guard, before any route
    _shape(client.get("/api/metrics?service=a%00b", headers=viewer), 400, "NUL")
    # FastAPI's validation: the field and the problem
    bad = _shape(client.get("/api/deployments?limit=many", headers=viewer), 422, "invalid")
    assert bad["problems"][0]["field"] == "query.limit"
    # the flag service: unknown key, key taken
    _shape(client.get("/api/flags/nosuch", headers=admin), 404, "nosuch")
    assert client.post("/api/flags", headers=admin, json=FLAG).status_code == 201
    _shape(client.post("/api/flags", headers=admin, json=FLAG), 409, "checkout")
    # an HTTPException in a route: a bad import line, a batch over its record limit
    _shape(client.post("/api/import/jsonl", headers=admin, content=b"{}\n"), 400, "line 1")
    three = b'{"type": "service", "name": "a"}\n' * 3
    _shape(client.post("/api/import/jsonl", headers=admin, content=three), 413, "more than 2")
    _shape(client.post("/api/import/cdevents", headers=admin, content=b"[{}]"), 400, "events[0]")
    # the body limit (1 MiB for notes)
    notes = client.post("/api/notes", headers=admin, content=b"x" * (1024 * 1024 + 1))
    _shape(notes, 413, "at most 1048576 bytes")
    # the router: no such path, no such method
    _shape(client.get("/api/nothing", headers=viewer), 404, "Not Found")
    _shape(client.delete("/api/metrics", headers=admin), 405, "Method Not Allowed")
    # a webhook with no signature names no delivery yet, but has the same shape
    _shape(client.post("/hooks/github", content=b"{}"), 401, "")
    # a store that cannot answer: 503, and when to try again

    def down(*_: Any, **__: Any) -> Any:
        raise StoreUnavailable("the store at test cannot be reached")

    monkeypatch.setattr(client.app.state.store, "dicts", down)  # type: ignore[attr-defined]
    gone = client.get("/api/definitions", headers=viewer)
    _shape(gone, 503, "cannot be reached")
    assert gone.headers["Retry-After"] == "5"
