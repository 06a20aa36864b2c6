"""`/openapi.json` describes every answer, and the answers are what it describes.

The first test walks the document: every operation's success answer has a schema, and every
route that takes a credential lists its 401 and 403. The second calls the read routes over a
simulated organisation and checks each body against its model, field for field and in order,
so a producer that grows, renames or reorders a field fails here before a client notices.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import TypeAdapter

from headway.api.app import create_app
from headway.config import Settings
from headway.flags.results import OfrepBulk, SdkConfig
from headway.ingest import ingest
from headway.interpret.results import Findings, Note, NotedFlow, NotedSignals, Review
from headway.metrics.results import (
    Change,
    DefinitionsDiff,
    Deployment,
    Incident,
    MetricSetResult,
)
from headway.rollouts.results import RolloutSignals
from headway.simulate import Options, generate
from headway.sources.files import parse_record
from tests.api.test_auth import NEEDS, PUBLIC, SIGNED, STATE
from tests.conftest import authorize

NO_BODY = {"204", "304"}


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            yield method, path, operation


def test_every_answer_in_the_openapi_document_has_a_schema() -> None:
    doc = create_app(Settings(database=":memory:")).openapi()
    missing = []
    for method, path, operation in _operations(doc):
        for code, answer in operation["responses"].items():
            if not code.startswith("2") or code in NO_BODY:
                continue
            content = answer.get("content") or {}
            # FastAPI writes `{"title": …}` alone for a route that returns `Any`.
            if not content or any(set(c.get("schema", {})) <= {"title"} for c in content.values()):
                missing.append(f"{method.upper()} {path} {code}")
    assert not missing, f"answers without a schema: {missing}"


def test_every_route_with_a_credential_documents_its_refusals() -> None:
    doc = create_app(Settings(database=":memory:")).openapi()
    undocumented = [
        f"{method.upper()} {path}"
        for method, path, operation in _operations(doc)
        if NEEDS[(method, path)][0] not in (PUBLIC, SIGNED, STATE)
        and not {"401", "403"} <= set(operation["responses"])
    ]
    assert not undocumented, f"routes that do not list 401 and 403: {undocumented}"


def test_error_answers_are_described_by_their_models() -> None:
    doc = create_app(Settings(database=":memory:")).openapi()
    metrics = doc["paths"]["/api/metrics"]["get"]["responses"]
    assert metrics["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert metrics["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    assert "Detail" not in doc["components"]["schemas"]  # one shape for every refusal


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(database=str(tmp_path_factory.mktemp("openapi") / "org.duckdb"))
    app = create_app(settings)
    with TestClient(app) as client:
        history = generate(Options(seed=3, services=3, days=75))
        ingest(app.state.store, settings, (parse_record(r, "sim") for r in history))
        authorize(client, "admin")
        yield client


# Route, the model its answer is, and whether absent fields stay absent (exclude_unset).
READS: list[tuple[str, Any]] = [
    ("/api/metrics", MetricSetResult),
    ("/api/metrics?by=month&definition=dora", MetricSetResult),
    ("/api/metrics?each=context", list[MetricSetResult]),
    ("/api/definitions/diff?a=dora&b=devlake", DefinitionsDiff),
    ("/api/definitions/diff?a=dora&b=fourkeys&team=web", DefinitionsDiff),
    ("/api/metrics?service=nobody-ships-here&since=2020-01-01&until=2020-02-01", None),
    ("/api/deployments?limit=50", list[Deployment]),
    ("/api/changes?limit=50", list[Change]),
    ("/api/incidents?limit=50", list[Incident]),
    ("/api/flow?by=week", NotedFlow),
    ("/api/flow?each=team", list[NotedFlow]),
    ("/api/flow?since=2020-01-01&until=2020-02-01", NotedFlow),
    ("/api/signals", NotedSignals),
    ("/api/signals?each=service&by=month", list[NotedSignals]),
    ("/api/signals?since=2020-01-01&until=2020-02-01", NotedSignals),
    ("/api/findings?period=2026-10", Findings),
    ("/api/findings?period=2020-01", Findings),
    ("/api/review?period=2026-10", Review),
    ("/api/notes?period=2026-10", list[Note]),
    ("/api/rollouts/signals", RolloutSignals),
]


@pytest.mark.parametrize(("path", "model"), READS)
def test_each_read_answers_exactly_its_model(client: TestClient, path: str, model: Any) -> None:
    if path.startswith("/api/notes"):
        noted = client.post(
            "/api/notes",
            json={"scope": "organisation", "period": "2026-10", "text": "a freeze", "author": "a"},
        )
        assert noted.status_code == 201
        assert TypeAdapter(Note).validate_python(noted.json())
    answer = client.get(path)
    if model is None:  # an unknown service: the documented 404 with its Error
        assert answer.status_code == 404
        assert set(answer.json()) == {"error"}
        return
    assert answer.status_code == 200, answer.text
    body = answer.json()
    adapter = TypeAdapter(model)
    again = adapter.dump_python(
        adapter.validate_python(body), mode="json", by_alias=True, exclude_unset=True
    )
    # The same fields in the same order: the model neither drops nor reorders anything.
    assert json.dumps(again) == json.dumps(body)


def test_sdk_answers_match_the_models_they_are_documented_by(client: TestClient) -> None:
    # Given a flag and a server key of production
    created = client.post(
        "/api/flags",
        json={
            "key": "checkout",
            "type": "boolean",
            "owner": "team-payments",
            "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
            "lifecycle": {"kind": "permanent"},
            "environments": {
                "production": {"enabled": True, "off_variant": "off", "default": {"variant": "on"}}
            },
        },
    )
    assert created.status_code == 201, created.text
    history = client.get("/api/flags/checkout/history")
    audit = client.get("/api/flags/checkout/audit")
    explained = client.post("/api/flags/checkout/explain", json={"context": {}})
    assert (history.status_code, audit.status_code, explained.status_code) == (200, 200, 200)
    assert explained.json()["variant"] == "on"
    _, key = client.app.state.tokens.create(  # type: ignore[attr-defined]
        "server", name="sdk", actor="test", environment="production"
    )
    headers = {"Authorization": f"Bearer {key}"}
    # When the SDK reads its configuration and evaluates every flag over OFREP
    config = client.get("/sdk/config", headers=headers)
    bulk = client.post("/ofrep/v1/evaluate/flags", json={"context": {}}, headers=headers)
    # Then both bodies are what /openapi.json says they are
    assert config.status_code == 200
    assert bulk.status_code == 200
    assert SdkConfig.model_validate(config.json()).environment == "production"
    assert [f.key for f in OfrepBulk.model_validate(bulk.json()).flags] == ["checkout"]
