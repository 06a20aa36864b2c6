"""Roles scoped to teams or environments (docs/security.md, "Roles").

Given two teams' services (`pay` of team payments, `web` of team web) with one deployment
each, and the flag `checkout`: a viewer scoped to payments reads payments' records only and is
refused every other team's, and an editor scoped to staging changes staging and nothing that
reaches production.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings
from headway.ingest import ingest
from headway.model import Deployment, Service

FLAG = {
    "key": "checkout",
    "type": "boolean",
    "owner": "team-payments",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
    "lifecycle": {"kind": "permanent"},
}


@pytest.fixture
def api(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database=str(tmp_path / "store.duckdb"))
    with TestClient(create_app(settings)) as http:
        at = datetime(2026, 10, 5, 12, tzinfo=UTC).replace(tzinfo=None)
        records = [
            Service("pay", team="payments"),
            Service("web", team="web"),
            Deployment("ci", "d-pay", "pay", at),
            Deployment("ci", "d-web", "web", at),
        ]
        ingest(http.app.state.store, settings, records)  # type: ignore[attr-defined]
        yield http


def _token(http: TestClient, kind: str, **scope: list[str]) -> dict[str, str]:
    _, secret = http.app.state.tokens.create(kind, name=f"{kind}-scoped", actor="test", **scope)  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {secret}"}


PERIOD = {"since": "2026-10-01", "until": "2026-10-31"}


def test_a_team_scoped_viewer_reads_only_its_teams_records(api: TestClient) -> None:
    payments = _token(api, "viewer", teams=["payments"])
    # Unscoped, every deployment: both services'.
    everyone = api.get("/api/deployments", params=PERIOD, headers=_token(api, "viewer"))
    assert sorted(d["service"] for d in everyone.json()) == ["pay", "web"]
    # Scoped to payments, a request naming no team is answered for payments.
    mine = api.get("/api/deployments", params=PERIOD, headers=payments)
    assert mine.status_code == 200, mine.text
    assert [d["service"] for d in mine.json()] == ["pay"]
    metrics = api.get("/api/metrics", params=PERIOD, headers=payments).json()
    assert (metrics["scope"]["kind"], metrics["scope"]["name"]) == ("team", "payments")
    assert metrics["scope"]["services"] == ["pay"]
    # Its own service, or its own team by name: answered.
    assert (
        api.get(
            "/api/deployments", params={**PERIOD, "service": "pay"}, headers=payments
        ).status_code
        == 200
    )
    assert (
        api.get("/api/flow", params={**PERIOD, "team": "payments"}, headers=payments).status_code
        == 200
    )
    # Another team, another team's service, a context, or the whole organisation's notes of
    # another team: 403 naming the scope.
    for params in ({"team": "web"}, {"service": "web"}, {"context": "customer-facing"}):
        refused = api.get("/api/deployments", params={**PERIOD, **params}, headers=payments)
        assert refused.status_code == 403, params
        assert "scoped to teams payments" in refused.json()["error"]
    notes = api.get(
        "/api/notes", params={"period": "2026-10", "scope": "team:web"}, headers=payments
    )
    assert notes.status_code == 403
    # Reads that span every team with no team to narrow to: refused.
    for path in ("/metrics", "/api/sources/status"):
        refused = api.get(path, headers=payments)
        assert refused.status_code == 403, path
        assert "spans every team" in refused.json()["error"]
    # Flags are no team's: read by any viewer.
    assert api.get("/api/flags", headers=payments).status_code == 200


def test_a_viewer_of_two_teams_names_one(api: TestClient) -> None:
    both = _token(api, "viewer", teams=["payments", "web"])
    refused = api.get("/api/deployments", params=PERIOD, headers=both)
    assert refused.status_code == 403
    assert "name one of its teams with team= (payments, web)" in refused.json()["error"]
    web = api.get("/api/deployments", params={**PERIOD, "team": "web"}, headers=both)
    assert [d["service"] for d in web.json()] == ["web"]


def test_a_team_scoped_editor_writes_notes_on_its_team_only(api: TestClient) -> None:
    editor = _token(api, "editor", teams=["payments"])
    note = {"period": "2026-10", "text": "Freeze", "author": "ann"}
    assert (
        api.post("/api/notes", json={**note, "scope": "team:payments"}, headers=editor).status_code
        == 201
    )
    assert (
        api.post("/api/notes", json={**note, "scope": "service:pay"}, headers=editor).status_code
        == 201
    )
    for scope in ("team:web", "service:web", "organisation"):
        refused = api.post("/api/notes", json={**note, "scope": scope}, headers=editor)
        assert refused.status_code == 403, scope
    # and reading notes with no scope reads its team's, which include its services' notes: the
    # two it wrote, not the organisation's
    found = api.get("/api/notes", params={"period": "2026-10"}, headers=editor).json()
    assert sorted(n["scope"] for n in found) == ["service:pay", "team:payments"]


def test_a_staging_editor_cannot_change_production(api: TestClient) -> None:
    admin = _token(api, "admin")
    assert api.post("/api/flags", json=FLAG, headers=admin).status_code == 201
    staging = _token(api, "editor", environments=["staging"])
    on = {"enabled": True}
    # Its own environment: changed.
    done = api.patch("/api/flags/checkout/environments/staging", json=on, headers=staging)
    assert done.status_code == 200, done.text
    assert done.json()["environments"]["staging"]["enabled"] is True
    # Production: 403 naming the scope, and nothing changed.
    refused = api.patch("/api/flags/checkout/environments/production", json=on, headers=staging)
    assert refused.status_code == 403
    assert refused.json()["error"] == (
        "this token is scoped to environments staging: it cannot change this flag in production"
    )
    flag = api.get("/api/flags/checkout", headers=staging).json()
    assert flag["environments"]["production"]["enabled"] is False
    # A rollout in production: refused before anything starts; in staging it may start.
    plan = {"flag": "checkout", "service": "pay", "treatment": "on", "control": "off"}
    refused = api.post("/api/rollouts", json={**plan, "environment": "production"}, headers=staging)
    assert refused.status_code == 403
    assert "it cannot start a rollout in production" in refused.json()["error"]
    staging_plan = {**plan, "environment": "staging", "force": True}  # it serves "on" there now
    started = api.post("/api/rollouts", json=staging_plan, headers=staging)
    assert started.status_code == 201, started.text
    assert (
        api.post("/api/rollouts/checkout/production/pause", json={}, headers=staging).status_code
        == 403
    )
    # The kill switch: in staging yes; in production or everywhere, no.
    assert (
        api.post(
            "/api/flags/checkout/kill", json={"environment": "staging"}, headers=staging
        ).status_code
        == 200
    )
    for body in ({"environment": "production"}, {}):
        assert api.post("/api/flags/checkout/kill", json=body, headers=staging).status_code == 403
    # Changes every environment sees: refused.
    for method, path, body in (
        ("post", "/api/flags", {**FLAG, "key": "other"}),
        ("patch", "/api/flags/checkout", {"description": "x"}),
        ("post", "/api/flags/checkout/archive", None),
        ("put", "/api/segments/beta", {"rules": []}),
    ):
        refused = api.request(method, path, json=body, headers=staging)
        assert refused.status_code == 403, path
        assert "which changes every environment" in refused.json()["error"]


def test_scopes_are_made_listed_and_checked(api: TestClient) -> None:
    admin = _token(api, "admin")
    made = api.post(
        "/api/tokens",
        json={"kind": "editor", "name": "stg", "environments": ["staging"], "teams": ["payments"]},
        headers=admin,
    )
    assert made.status_code == 201, made.text
    assert (made.json()["teams"], made.json()["environments"]) == (["payments"], ["staging"])
    listed = {t["name"]: t for t in api.get("/api/tokens", headers=admin).json()}
    assert listed["stg"]["environments"] == ["staging"]
    assert listed["admin-scoped"]["environments"] is None
    # An admin or SDK key takes no scope; an environment must exist.
    for body, field in (
        ({"kind": "admin", "name": "a", "teams": ["payments"]}, "teams"),
        (
            {
                "kind": "server",
                "name": "s",
                "environment": "production",
                "environments": ["staging"],
            },
            "environments",
        ),
        ({"kind": "editor", "name": "e", "environments": ["prod"]}, "environments"),
    ):
        refused = api.post("/api/tokens", json=body, headers=admin)
        assert refused.status_code == 422, body
        assert refused.json()["problems"][0]["field"] == field
