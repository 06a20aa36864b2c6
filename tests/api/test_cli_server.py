"""The CLI side of the server: HEADWAY_URL gives the same output, `sources status`, `reprocess`."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app
from headway.config import get_settings
from tests.api.conftest import SECRETS, body_of, fixture, github_headers
from tests.conftest import make_token, run_headway, serving

runner = CliRunner()


@pytest.mark.slow
def test_commands_through_headway_url_print_what_they_print_locally(tmp_path: Path) -> None:
    env = {**os.environ, "HEADWAY_DATABASE": str(tmp_path / "store.duckdb"), "COLUMNS": "200"}
    env.pop("HEADWAY_URL", None)
    history = tmp_path / "org.jsonl"
    assert (
        run_headway(
            "simulate", "--out", str(history), "--services", "3", "--days", "30", env=env
        ).returncode
        == 0
    )
    assert run_headway("import", "jsonl", str(history), env=env).returncode == 0
    commands = [
        ("metrics", "--by", "week", "--format", "json"),
        ("metrics",),
        ("metrics", "--each", "service"),
        ("list", "deployments", "--limit", "20"),
    ]
    local = [run_headway(*c, env=env).stdout for c in commands]

    viewer, admin = make_token(env, "viewer"), make_token(env, "admin")
    with serving(env) as url:
        remote_env = {**env, "HEADWAY_URL": url, "HEADWAY_TOKEN": viewer}
        # Without a token the server answers nothing, and the CLI says which token to set.
        anonymous = run_headway("metrics", env={**remote_env, "HEADWAY_TOKEN": ""})
        assert anonymous.returncode == 2
        assert "set HEADWAY_TOKEN to a viewer token" in anonymous.stdout + anonymous.stderr
        # The store is held by the server, yet the same commands work through it.
        for command, expected in zip(commands, local, strict=True):
            got = run_headway(*command, env=remote_env)
            assert got.returncode == 0, got.stdout + got.stderr
            assert got.stdout == expected, command
        # An import through the server, all or nothing, reported like a local one; it takes
        # an admin token (a viewer's is refused).
        refused_viewer = run_headway("import", "jsonl", str(history), env=remote_env)
        assert refused_viewer.returncode == 2
        assert "takes an admin token" in refused_viewer.stdout + refused_viewer.stderr
        remote_env["HEADWAY_TOKEN"] = admin
        extra = tmp_path / "extra.jsonl"
        extra.write_text(
            json.dumps({"type": "service", "name": "newcomer", "context": "internal"}) + "\n"
        )
        imported = run_headway("import", "jsonl", str(extra), env=remote_env)
        assert "Imported" in imported.stdout, imported.stdout
        assert "1 service" in imported.stdout, imported.stdout
        bad = tmp_path / "bad.jsonl"
        bad.write_text('{"type": "deployment", "service": "x"}\n')
        refused = run_headway("import", "jsonl", str(bad), env=remote_env)
        assert refused.returncode == 2
        assert "required" in refused.stderr
        assert refused.stdout == ""


def test_sources_status_and_reprocess_after_a_mapping_change(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = get_settings().model_copy(update=SECRETS)
    with TestClient(create_app(settings)) as client:
        for event, path in (
            ("pull_request", "github/pull_request/opened.payload.json"),
            ("ping", "github/ping/payload.json"),
        ):
            body = body_of(fixture(path))
            client.post("/hooks/github", content=body, headers=github_headers(body, event))
    status = runner.invoke(app, ["sources", "status", "--format", "json"])
    assert status.exit_code == 0, status.output
    rows = [
        (r["source"], r["kind"], r["status"], r["deliveries"]) for r in json.loads(status.output)
    ]
    assert rows == [("github", "ping", "ignored", 1), ("github", "pull_request", "accepted", 1)]
    table = runner.invoke(app, ["sources", "status"]).output
    assert "ping: the webhook is connected" in table

    # The repository moves to another service: reprocess re-derives, leaving nothing stale.
    monkeypatch.setenv(
        "HEADWAY_SERVICE_MAP",
        json.dumps({"Codertocat/Hello-World": {"service": "greeter", "team": "core"}}),
    )
    get_settings.cache_clear()
    result = runner.invoke(app, ["reprocess"])
    assert result.exit_code == 0, result.output
    assert "Reprocessed 2 deliveries (1 accepted, 1 ignored); replaced 1 records" in result.output
    listed = runner.invoke(
        app,
        ["list", "changes", "--format", "json", "--since", "2019-05-01", "--until", "2019-06-01"],
    )
    assert listed.exit_code == 0, listed.output
    assert all(c["service"] == "greeter" for c in json.loads(listed.output))
    from headway.store import open_store

    store = open_store(get_settings())
    try:
        assert store.query("SELECT id, service FROM changes") == [
            ("github:Codertocat/Hello-World#2", "greeter")
        ]
    finally:
        store.close()
