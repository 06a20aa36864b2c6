"""Attacks through names: a request naming a server file, names that break the engine, and
404 answers that list what the store holds. Each is replayed against a live server."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from headway.names import nul_in
from tests.api.conftest import github_headers
from tests.security.conftest import Server, served_path

runner = CliRunner()

# Every HTTP route that takes a `definition`, with the other parameters it requires.
DEFINITION_ROUTES = [
    ("/api/metrics", {}),
    ("/api/deployments", {}),
    ("/api/changes", {}),
    ("/api/incidents", {}),
    ("/api/flow", {}),
    ("/api/signals", {}),
    ("/api/findings", {"period": "2026-10"}),
    ("/api/review", {"period": "2026-10"}),
    ("/api/review.html", {"period": "2026-10"}),
]


def _jsonl(*records: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def _shipped(name: str, day: int) -> list[dict[str, Any]]:
    """A service, one change merged at 09:00 and the deployment that shipped it at 11:50."""
    at = f"2026-10-{day:02d}"
    return [
        {"type": "service", "name": name, "team": "names"},
        {
            "type": "change",
            "source": "t",
            "source_id": f"c-{name}-{day}",
            "service": name,
            "merged_at": f"{at}T09:00:00Z",
        },
        {
            "type": "deployment",
            "source": "t",
            "source_id": f"d-{name}-{day}",
            "service": name,
            "started_at": f"{at}T11:50:00Z",
            "finished_at": f"{at}T12:00:00Z",
        },
    ]


def _deployment_of(live: Server, name: str, day: int) -> Any:
    with live.client(live.admin) as http:
        listed = http.get(
            "/api/changes",
            params={"service": name, "since": "2026-09-01", "until": "2026-11-30"},
        )
    assert listed.status_code == 200, listed.text
    by_id = {c["id"]: c["deployment_id"] for c in listed.json()}
    return by_id.get(f"t:c-{name}-{day}")


def test_a_definition_never_names_a_server_file(live: Server, tmp_path: Path) -> None:
    """`definition=/dev/zero` used to read the device until memory ran out; any other path
    told whether the file exists and where its first TOML error is. Now a definition over
    HTTP is a stored one or a preset, and a path is an unknown name like any other."""
    secret = served_path(tmp_path)
    with live.client(live.admin, timeout=10) as http:
        for route, params in DEFINITION_ROUTES:
            started = time.monotonic()
            zero = http.get(route, params={**params, "definition": "/dev/zero"})
            # Expected: 404 in well under the 10 s the client waits (it never answered).
            assert zero.status_code == 404, (route, zero.text)
            assert time.monotonic() - started < 5
            answers = set()
            for ref in ("/etc/passwd", str(tmp_path / "missing.toml"), str(secret), "nope"):
                answer = http.get(route, params={**params, "definition": ref})
                assert answer.status_code == 404, (route, answer.text)
                text = answer.text.replace(json.dumps(ref)[1:-1], "REF")
                for leak in ("leaked", "root:", "line"):  # the file's contents, an error's place
                    assert leak not in text, (route, text)
                answers.add(text)
            # An existing file, a missing one, a secret and a plain unknown name: one answer.
            assert len(answers) == 1, (route, answers)
        # The presets still resolve by name.
        assert http.get("/api/metrics", params={"definition": "fourkeys@3"}).status_code == 200


@pytest.mark.parametrize("name", ["Is checkout up?", "{a}", "a/b", 'o\'brien "q" %s ü'])
def test_any_service_name_is_linked(live: Server, name: str) -> None:
    """A `?` in a service name used to stop re-linking on PostgreSQL (the placeholder
    rewriting reached inside the SQL literal), and `{a}` was never linked (the alias
    template was applied to the name). Each such service's change must be shipped by its
    deployment, and a plain service imported afterwards must still be linked."""
    day = 1 + ["Is checkout up?", "{a}", "a/b", 'o\'brien "q" %s ü'].index(name)
    with live.client(live.admin) as http:
        sent = http.post("/api/import/jsonl", content=_jsonl(*_shipped(name, day)))
        assert sent.status_code == 200, sent.text
        after = http.post("/api/import/jsonl", content=_jsonl(*_shipped("plain", day)))
        assert after.status_code == 200, after.text
    # Expected: each change merged at 09:00 ships with its service's 11:50 deployment.
    assert _deployment_of(live, name, day) == f"t:d-{name}-{day}"
    assert _deployment_of(live, "plain", day) == f"t:d-plain-{day}"


def test_nul_is_refused_in_a_parameter_a_record_and_a_webhook(live: Server) -> None:
    """PostgreSQL cannot store or compare a NUL character: it used to answer 500."""
    with live.client(live.admin) as http:
        query = http.get("/api/metrics", params={"service": "a\x00b"})
        assert query.status_code == 400, query.text
        assert "service" in query.json()["error"]

        record = {"type": "service", "name": "nul\x00name", "team": "t"}
        imported = http.post("/api/import/jsonl", content=_jsonl(record))
        assert imported.status_code == 400, imported.text
        assert "line 1: service field 'name'" in imported.json()["error"]

        body = json.dumps(
            {
                "zen": "x",
                "hook_id": 1,
                "repository": {"full_name": "acme/n\x00ul", "name": "n\x00ul"},
            }
        ).encode()
        note = {"scope": "organisation", "period": "2026-10", "text": "a\x00", "author": "me"}
        noted = http.post("/api/notes", json=note)
        assert noted.status_code == 400, noted.text
        assert noted.json()["error"].startswith("field text contains a NUL")

        hook = http.post("/hooks/github", content=body, headers=github_headers(body, "ping"))
        assert hook.status_code == 400, hook.text
        assert "field repository.full_name" in hook.json()["error"]


def test_nul_in_an_imported_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    path = tmp_path / "nul.jsonl"
    path.write_bytes(_jsonl({"type": "service", "name": "api", "owners": ["a", "b\x00"]}))
    done = runner.invoke(app, ["import", "jsonl", str(path)])
    assert done.exit_code == 2
    assert "nul.jsonl:1: service field 'owners' contains a NUL" in " ".join(done.output.split())


@pytest.mark.parametrize(
    ("value", "where"),
    [
        ({"a": {"b": ["x", "y\x00"]}}, "a.b[1]"),
        ({"a\x00": 1}, "a key in (the body)"),
        ("\x00", "(the body)"),
        ({"a": [1, None, {"b": "fine"}]}, None),
        ({"first": "\x00", "second": "\x00"}, "first"),
        ([[[[["\x00"]]]]], "[0][0][0][0][0]"),
    ],
)
def test_nul_is_found_wherever_it_is_in_json(value: Any, where: str | None) -> None:
    assert nul_in(value) == where


def test_nul_is_found_below_the_recursion_limit() -> None:
    deep: Any = "\x00"
    for _ in range(5000):
        deep = [deep]
    assert nul_in(deep) == "[0]" * 5000


def test_an_unknown_name_does_not_list_the_known_ones(live: Server) -> None:
    secret_names = _shipped("payroll-secret", 20)
    with live.client(live.admin) as http:
        assert http.post("/api/import/jsonl", content=_jsonl(*secret_names)).status_code == 200
        for kind in ("service", "team", "context"):
            missing = http.get("/api/metrics", params={kind: "nobody"})
            assert missing.status_code == 404, missing.text
            assert "nobody" in missing.text
            for leaked in ("payroll-secret", "names", "customer-facing"):
                assert leaked not in missing.text, (kind, missing.text)
        definition = http.get("/api/metrics", params={"definition": "nobody"})
        assert definition.status_code == 404
        assert "history" in definition.text  # says how to list them


@pytest.mark.parametrize("key", ["prod\n", "a/b", "Is prod up?", "{a}", "prød"])
def test_an_environment_key_outside_the_pattern_is_refused(live: Server, key: str) -> None:
    """Flag and environment keys appear in URLs (/api/flags/{key}/environments/{env}), so
    they are refused at write unless letters, digits, `.`, `_` or `-`; a trailing newline
    used to pass the check (re.match lets `$` match before it)."""
    with live.client(live.admin) as http:
        made = http.post("/api/environments", json={"key": key})
        assert made.status_code == 422, made.text
        assert "key" in made.text


def test_review_out_files_are_named_safely_for_any_team(
    engine_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A team named `a/b` made `headway review --out` fail with a traceback (the scope name
    became a directory in the file name). The files land directly in --out, named from a
    sanitised scope, and "a_b" (which would sanitise the same) gets files of its own."""
    monkeypatch.setenv("HEADWAY_DATABASE", engine_settings.database)
    get_settings.cache_clear()
    records = tmp_path / "teams.jsonl"
    records.write_bytes(
        _jsonl(
            *[{**r, "team": "a/b"} if r["type"] == "service" else r for r in _shipped("ab", 9)],
            *[{**r, "team": "a_b"} if r["type"] == "service" else r for r in _shipped("a_", 9)],
        )
    )
    assert runner.invoke(app, ["import", "jsonl", str(records)]).exit_code == 0
    out = tmp_path / "review"
    for team in ("a/b", "a_b"):
        done = runner.invoke(
            app, ["review", "--period", "2026-10", "--team", team, "--out", str(out)]
        )
        assert done.exit_code == 0, done.output
    written = sorted(p.name for p in out.iterdir())
    # Expected: 3 files (html, md, flow svg) per team, 6 distinct names, all inside --out.
    assert len(written) == 6, written
    assert all(p.is_file() for p in out.iterdir())


def test_a_definition_file_is_still_read_by_the_local_cli(tmp_path: Path) -> None:
    """Reading a definition from a file stays a CLI action of the local user."""
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n[summary]\nmedian = "lower"\n')
    done = runner.invoke(app, ["definitions", "show", str(path), "-f", "json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.output)["summary"]["median"] == "lower"


def test_a_definition_file_is_not_sent_to_a_server(live: Server, tmp_path: Path) -> None:
    """Against a server the CLI would send the path, which the server cannot read (and must
    not): it says to store the definition first instead."""
    path = tmp_path / "mine.toml"
    path.write_text('name = "mine"\n')
    done = live.headway("metrics", "--definition", str(path), remote=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "store it first" in " ".join((done.stdout + done.stderr).split())
