"""The audit names the token that made a change over HTTP, never a name the request claims
and never the account the server or the client runs under."""

from __future__ import annotations

import getpass

from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import get_settings
from headway.flags.service import FlagService
from tests.rollouts.test_end_to_end import FLAG


def test_changes_over_http_are_recorded_as_their_token() -> None:
    with TestClient(create_app(get_settings())) as client:
        app = client.app
        FlagService(app.state.store).create_flag(FLAG, actor="setup")  # type: ignore[attr-defined]
        _, secret = app.state.tokens.create("admin", name="ana-laptop", actor="setup")  # type: ignore[attr-defined]
        client.headers["Authorization"] = f"Bearer {secret}"
        plan = {"flag": "new-checkout", "treatment": "on", "control": "off"}
        # a rollout started naming nobody, paused for a person, a definition, a note
        assert client.post("/api/rollouts", json=plan).status_code == 201
        paused = client.post(
            "/api/rollouts/new-checkout/production/pause", json={"actor": "bo", "reason": "x"}
        )
        assert paused.status_code == 200, paused.text
        body = {"ref": "fourkeys", "reason": "match the old dashboard"}
        assert client.post("/api/definitions", json=body).status_code == 200
        note = {"scope": "organisation", "period": "2026-10", "text": "freeze"}
        made = client.post("/api/notes", json=note)
        assert made.status_code == 201, made.text
        assert made.json()["author"] == "token:ana-laptop"

        entries = client.get("/api/audit").json()
        actors = {(e["entity"], e["action"]): e["actor"] for e in entries}
        assert actors[("rollout", "started")] == "token:ana-laptop"
        assert actors[("rollout", "paused")] == "token:ana-laptop for bo"
        assert "token:ana-laptop" in {e["actor"] for e in entries if e["entity"] == "definition"}
        history = client.get("/api/definitions").json()
        assert history[-1]["author"] == "token:ana-laptop"
        claimed = {e["actor"] for e in entries} - {"setup", "token:ana-laptop for bo"}
        assert claimed == {"token:ana-laptop"}
        assert getpass.getuser() not in {e["actor"] for e in entries}
