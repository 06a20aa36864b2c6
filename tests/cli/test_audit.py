"""`headway audit verify|export` as an operator uses them, on a store whose log was edited."""

from __future__ import annotations

import json
import os
from pathlib import Path

from headway.config import Settings
from headway.store import open_store
from tests.conftest import run_headway


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env["HEADWAY_DATABASE"] = str(tmp_path / "audit.duckdb")
    return env


def test_verify_passes_then_names_the_edited_entry(tmp_path: Path) -> None:
    env = _env(tmp_path)
    assert run_headway("flags", "create", "checkout", "--owner", "web", env=env).returncode == 0
    assert (
        run_headway("flags", "set", "checkout", "--env", "production", "--on", env=env).returncode
        == 0
    )

    exported = run_headway("audit", "export", env=env)
    assert exported.returncode == 0, exported.stderr
    entries = [json.loads(line) for line in exported.stdout.splitlines()]
    assert [(e["seq"], e["entity"], e["entity_id"]) for e in entries] == [
        (1, "flag", "checkout"),
        (2, "flag", "checkout"),
    ]
    assert entries[1]["prev_hash"] == entries[0]["hash"]

    intact = run_headway("audit", "verify", env=env)
    assert intact.returncode == 0
    assert intact.stdout.strip() == f"Audit chain intact: 2 entries; head {entries[1]['hash']}"

    store = open_store(Settings(database=env["HEADWAY_DATABASE"]))
    store.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1")
    store.close()
    broken = run_headway("audit", "verify", env=env)
    assert broken.returncode == 1
    assert broken.stdout == ""
    assert broken.stderr.strip() == (
        f"error: audit chain broken at entry 1 (id {entries[0]['id']}): does not match its "
        "hash: it was changed after it was written; it is the first"
    )


def test_export_to_a_missing_folder_is_refused(tmp_path: Path) -> None:
    done = run_headway(
        "audit", "export", "--out", str(tmp_path / "no" / "x.jsonl"), env=_env(tmp_path)
    )
    assert done.returncode == 2
    assert "does not exist; create it first" in done.stderr


def test_an_unknown_kind_of_entity_is_refused_naming_the_kinds(tmp_path: Path) -> None:
    # `nosuch` matches no entry, and would have listed nothing with exit 0 as if none existed
    done = run_headway("audit", "export", "--entity", "flags", env=_env(tmp_path))
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.strip() == (
        "error: --entity 'flags' is not a kind the audit records; use one of definition, "
        "environment, flag, import, note, pulse_link, release_plan, risky_rule, rollout, "
        "schedule, segment, token, user"
    )


def test_definitions_and_notes_are_audited_with_their_author(tmp_path: Path) -> None:
    env = _env(tmp_path)
    done = run_headway("definitions", "set", "fourkeys", "--reason", "match the old board", env=env)
    assert done.returncode == 0, done.stderr
    done = run_headway(
        "note", "add", "Freeze week", "--scope", "organisation", "--period", "2026-12", env=env
    )
    assert done.returncode == 0, done.stderr
    entries = [
        json.loads(line) for line in run_headway("audit", "export", env=env).stdout.splitlines()
    ]
    definition, note = entries
    assert (definition["entity"], definition["entity_id"], definition["action"]) == (
        "definition",
        "fourkeys@3",
        "activate",
    )
    assert definition["before"] == {"definition": "dora@2"}
    assert definition["after"] == {"definition": "fourkeys@3", "reason": "match the old board"}
    assert (note["entity"], note["action"]) == ("note", "create")
    assert note["after"]["text"] == "Freeze week"
    assert note["after"]["period"] == ["2026-12-01T00:00:00", "2027-01-01T00:00:00"]
    assert note["actor"] == definition["actor"]
    assert run_headway("audit", "verify", env=env).returncode == 0


def test_an_import_is_audited_with_what_it_added(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env["HEADWAY_ACTOR"] = "ana"
    lines = [
        '{"type": "service", "name": "api", "team": "core", "context": "internal"}',
        '{"type": "deployment", "source": "t", "source_id": "d1", "service": "api",'
        ' "finished_at": "2026-10-01T10:00:00Z"}',
    ]
    source = tmp_path / "records.jsonl"
    source.write_text("\n".join(lines) + "\n")
    done = run_headway("import", "jsonl", str(source), env=env)
    assert done.returncode == 0, done.stderr
    [entry] = [
        json.loads(line) for line in run_headway("audit", "export", env=env).stdout.splitlines()
    ]
    assert (entry["actor"], entry["entity"], entry["action"]) == ("ana", "import", "import")
    assert entry["after"]["new"] == {"services": 1, "deployments": 1}


def test_an_import_through_the_api_names_its_token(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from headway.api.app import create_app
    from tests.conftest import authorize

    app = create_app(Settings(database=str(tmp_path / "api.duckdb")))
    with TestClient(app) as client:
        authorize(client, "admin")
        body = b'{"type": "service", "name": "api", "team": "core", "context": "internal"}\n'
        answer = client.post(
            "/api/import/jsonl", content=body, headers={"Content-Type": "application/x-ndjson"}
        )
        assert answer.status_code == 200, answer.text
        entries = client.get("/api/audit", params={"entity": "import"}).json()
        refused = client.get("/api/audit", params={"entity": "imports"})
        assert refused.status_code == 422
        assert refused.json()["problems"][0]["field"] == "query.entity"
    [entry] = entries  # the token made by authorize() is audited too, as a token
    assert (entry["actor"], entry["entity"]) == ("token:test-admin", "import")
    assert entry["after"]["new"] == {"services": 1}
