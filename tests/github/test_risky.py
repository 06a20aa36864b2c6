"""Risky code without a flag, against the fake GitHub: a rule names risky paths or a size; a
pull request touching them that adds or uses no flag gets an `action_required` check run, one
behind a flag or touching nothing risky stays `neutral`; a bad rule is refused (422, exit 2)."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app as cli
from headway.config import Settings, get_settings
from headway.github.pulls import check_output
from headway.github.risky import RiskyRule, assess
from headway.store import open_store
from tests.conftest import FIXTURES, authorize, make_token, run_headway, serving
from tests.github.fake_github import State, keyed

runner = CliRunner()
REPO = "Codertocat/Hello-World"
OPENED = json.loads((FIXTURES / "github/pull_request/opened.payload.json").read_text())

NO_FLAG = """\
@@ -1,2 +1,3 @@
 def refund(order):
+    order.refund_all()
     return order
"""
ADDS_FLAG = """\
@@ -1,2 +1,4 @@
 def refund(order):
+    if client.get_boolean_value("refunds-v2", False):
+        order.refund_all()
     return order
"""
REMOVES_FLAG = """\
@@ -1,3 +1,2 @@
 def refund(order):
-    if client.get_boolean_value("old-refunds", False):
     return order
"""


def _file(name: str, patch: str | None = None, adds: int = 1, dels: int = 0) -> dict[str, Any]:
    item: dict[str, Any] = {"filename": name, "status": "modified"}
    item.update(additions=adds, deletions=dels, changes=adds + dels)
    if patch is not None:
        item["patch"] = patch
    return item


def _sign(secret: str, body: bytes, delivery: str) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery,
    }


def _made(http: TestClient) -> None:
    authorize(http, "admin")
    started = http.post("/api/github/manifest", json={"url": "https://headway.example.com"})
    done = http.get(
        "/github/app/callback", params={"code": "good-code", "state": started.json()["state"]}
    )
    assert done.status_code == 200, done.text


def _open(
    http: TestClient, state: State, number: int, files: list[dict[str, Any]], *, head: int = 0
) -> dict[str, Any]:
    """Deliver `pull_request` opened for pull request `number` whose files are `files`; the
    answer, and the check run it made or updated."""
    state.pull_files[f"{REPO}#{number}"] = files
    payload = copy.deepcopy(OPENED)
    payload["number"] = payload["pull_request"]["number"] = number
    payload["pull_request"]["head"]["sha"] = f"{number:04d}{head:036x}"
    body = json.dumps(payload).encode()
    delivery = f"d-{number}-{head}-{len(state.requests)}"
    answer = http.post(
        "/hooks/github-app", content=body, headers=_sign(state.webhook_secret, body, delivery)
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    result["run"] = state.check_runs[result["check_run"]]
    return result


def test_risky_files_without_a_flag_are_marked_and_behind_a_flag_pass(
    engine_settings: Settings, state: State, url: str
) -> None:
    with TestClient(create_app(keyed(engine_settings, url))) as http:
        _made(http)
        # Given a rule: migrations and payments are risky, the payments tests are not
        paths = ["migrations/**", "src/payments/**", "!src/payments/tests/**"]
        put = http.put("/api/github/risky-rules", json={"repository": REPO, "paths": paths})
        assert put.status_code == 200, put.text
        assert put.json()["repository"] == "codertocat/hello-world"

        risky = [
            _file("migrations/0042_refunds.sql", adds=12),
            _file("src/payments/tests/test_refunds.py", NO_FLAG),
            _file("README.md", adds=3),
        ]
        # When a pull request touches them and adds no flag
        marked = _open(http, state, 11, [*risky, _file("src/payments/refunds.py", NO_FLAG)])
        # Then its check run asks for action, naming the two risky files (not the tests)
        run = marked["run"]
        assert (run["conclusion"], marked["conclusion"]) == ("action_required", "action_required")
        assert marked["risky_files"] == ["migrations/0042_refunds.sql", "src/payments/refunds.py"]
        assert run["output"]["title"] == "Risky code without a flag: 2 risky files"
        assert "adds or uses no feature flag" in run["output"]["summary"]
        assert (
            "- `migrations/0042_refunds.sql`\n- `src/payments/refunds.py`" in run["output"]["text"]
        )
        assert "test_refunds" not in run["output"]["text"]
        assert run["details_url"] == "https://headway.example.com/flags"

        # When the same change adds a flag, it passes, and says it is behind one
        behind = _open(http, state, 12, [*risky, _file("src/payments/refunds.py", ADDS_FLAG)])
        assert behind["run"]["conclusion"] == "neutral"
        assert behind["flags"] == {"refunds-v2": "added"}
        assert behind["risky_files"] == marked["risky_files"]
        assert behind["run"]["output"]["title"] == "Flags: 1 added"
        assert "risky code (2 risky files) behind a flag" in behind["run"]["output"]["summary"]
        assert "details_url" not in behind["run"]

        # A pull request that only removes a flag guards nothing: marked
        removing = _open(http, state, 13, [_file("src/payments/refunds.py", REMOVES_FLAG)])
        assert removing["flags"] == {"old-refunds": "removed"}
        assert removing["run"]["conclusion"] == "action_required"

        # A pull request touching nothing risky is not marked
        plain = _open(http, state, 14, [_file("docs/guide.md"), _file("src/web/app.py", NO_FLAG)])
        assert (plain["run"]["conclusion"], plain["risky_files"]) == ("neutral", [])
        assert plain["run"]["output"]["title"] == "No feature flags"

        # A rename out of a risky folder touches it too
        moved = _file("archive/0001_init.sql")
        moved["previous_filename"] = "migrations/0001_init.sql"
        renamed = _open(http, state, 15, [moved])
        assert renamed["risky_files"] == ["migrations/0001_init.sql"]
        assert renamed["run"]["conclusion"] == "action_required"


def test_the_default_rule_marks_by_size_until_a_repository_has_its_own(
    engine_settings: Settings, state: State, url: str
) -> None:
    with TestClient(create_app(keyed(engine_settings, url))) as http:
        _made(http)
        # Given every repository's rule: 400 changed lines or more is risky
        default = http.put("/api/github/risky-rules", json={"repository": "*", "min_lines": 400})
        assert default.status_code == 200, default.text
        # 250 + 150 added and 0 + 50 deleted: 450 changed lines, over 400
        files = [_file("docs/a.md", adds=250), _file("docs/b.md", adds=150, dels=50)]

        first = _open(http, state, 21, files)
        assert first["run"]["conclusion"] == "action_required"
        assert first["run"]["output"]["title"] == "Risky code without a flag: 450 changed lines"
        assert "400 changed lines or more" in first["run"]["output"]["text"]
        assert first["risky_files"] == []

        # When the repository gets a rule of its own, without a size, the same head passes
        own = {"repository": REPO, "paths": ["migrations/**"]}
        assert http.put("/api/github/risky-rules", json=own).status_code == 200
        again = _open(http, state, 21, files)
        assert again["check_run"] == first["check_run"]  # updated, not a second run
        assert again["run"]["conclusion"] == "neutral"

        # And when its own rule is removed, the default applies again
        removed = http.delete("/api/github/risky-rules", params={"repository": REPO})
        assert removed.status_code == 204
        assert _open(http, state, 21, files)["run"]["conclusion"] == "action_required"
        gone = http.delete("/api/github/risky-rules", params={"repository": REPO})
        assert gone.status_code == 404
        assert "no risky-code rule for codertocat/hello-world" in gone.json()["error"]
        assert [r["repository"] for r in http.get("/api/github/risky-rules").json()] == ["*"]


# (body, the words the refusal names) — each refused by the API (422) and the CLI (exit 2)
BAD_RULES: list[tuple[dict[str, Any], str]] = [
    ({"paths": ["**"]}, "matches every file"),
    ({"paths": ["*"]}, "matches every file"),
    ({"paths": ["src/../secrets/**"]}, "no . or .."),
    ({"paths": []}, "at least one pattern"),
    ({"paths": ["!docs/**"]}, "at least one pattern"),
    ({"paths": ["\\"]}, "not a gitignore pattern"),
    ({"paths": ["src/\tx"]}, "control characters"),
    ({"paths": ["src/**", "src/**"]}, "named twice"),
    ({"paths": ["a" * 201]}, "200"),
    ({"paths": [f"p{i}/**" for i in range(51)]}, "50"),
    ({"min_lines": 0}, "min_lines"),
    ({"min_lines": 1_000_001}, "min_lines"),
    ({"repository": "not a repository", "paths": ["src/**"]}, "repository"),
]


@pytest.mark.parametrize(("rule", "named"), BAD_RULES)
def test_a_bad_rule_is_refused_by_the_api_and_the_cli(
    rule: dict[str, Any], named: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"repository": "acme/shop", **rule}
    settings = Settings(database=str(tmp_path / "rules.duckdb"))
    with TestClient(create_app(settings)) as http:
        authorize(http, "admin")
        refused = http.put("/api/github/risky-rules", json=body)
        assert refused.status_code == 422, refused.text
        assert named in refused.text
        assert http.get("/api/github/risky-rules").json() == []

    monkeypatch.setenv("HEADWAY_DATABASE", settings.database)
    get_settings.cache_clear()
    args = ["github", "risky-rule", "set", body["repository"]]
    for pattern in body.get("paths", []):
        args += ["--path", pattern]
    if "min_lines" in body:
        args += ["--min-lines", str(body["min_lines"])]
    result = runner.invoke(cli, args)
    assert result.exit_code == 2, result.output
    assert named in result.stderr
    assert result.stdout == ""
    assert runner.invoke(cli, ["github", "risky-rule", "list"]).stdout.strip() == "[]"


def test_rules_are_set_listed_audited_and_removed_from_the_command_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEADWAY_ACTOR", "ann")
    made = runner.invoke(
        cli, ["github", "risky-rule", "set", "Acme/Shop", "--path", "db/**", "--min-lines", "800"]
    )
    assert made.exit_code == 0, made.output
    rule = json.loads(made.stdout)
    assert (rule["repository"], rule["paths"], rule["min_lines"]) == ("acme/shop", ["db/**"], 800)
    assert rule["updated_by"] == "ann"
    changed = runner.invoke(cli, ["github", "risky-rule", "set", "acme/shop", "--path", "sql/**"])
    assert changed.exit_code == 0, changed.output
    listed = json.loads(runner.invoke(cli, ["github", "risky-rule", "list"]).stdout)
    assert [(r["repository"], r["paths"], r["min_lines"]) for r in listed] == [
        ("acme/shop", ["sql/**"], None)
    ]
    removed = runner.invoke(cli, ["github", "risky-rule", "remove", "ACME/shop"])
    assert removed.exit_code == 0, removed.output
    assert "removed the risky-code rule of acme/shop" in removed.stderr
    again = runner.invoke(cli, ["github", "risky-rule", "remove", "acme/shop"])
    assert again.exit_code == 2
    assert "no risky-code rule for acme/shop" in again.stderr

    # Each change is in the audit log, before and after
    audited = runner.invoke(cli, ["audit", "export", "--entity", "risky_rule"])
    assert audited.exit_code == 0, audited.output
    entries = [json.loads(line) for line in audited.stdout.splitlines()]
    assert [(e["action"], e["actor"], e["entity_id"]) for e in entries] == [
        ("created", "ann", "acme/shop"),
        ("updated", "ann", "acme/shop"),
        ("removed", "ann", "acme/shop"),
    ]
    assert entries[1]["before"] == {"paths": ["db/**"], "min_lines": 800}
    assert entries[1]["after"] == {"paths": ["sql/**"], "min_lines": None}


def test_a_stored_rule_that_no_longer_validates_is_shown_and_not_applied(
    engine_settings: Settings, state: State, url: str
) -> None:
    # Given a rule put in the store by hand, marking every file
    settings = keyed(engine_settings, url)
    store = open_store(settings)
    try:
        store.execute(
            "INSERT INTO github_risky_rules (repository, paths, min_lines, updated_by, "
            "updated_at) VALUES ('*', '[\"**\"]', NULL, 'hand', TIMESTAMP '2026-12-01 10:00:00')"
        )
    finally:
        store.close()
    with TestClient(create_app(settings)) as http:
        _made(http)
        # Then the list shows why it is not applied, and pull requests are judged without it
        [shown] = http.get("/api/github/risky-rules").json()
        assert "matches every file" in shown["problem"]
        assert "set it again" in shown["problem"]
        opened = _open(http, state, 31, [_file("migrations/0001.sql")])
        assert opened["run"]["conclusion"] == "neutral"


def test_what_a_rule_finds_is_worked_out_from_the_listed_files() -> None:
    rule = RiskyRule(
        repository="acme/shop",
        paths=["migrations/**", "*.sql"],
        min_lines=100,
        updated_by="ann",
        updated_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    files = [
        {"filename": "db/seed.sql", "additions": 40, "deletions": 9},  # *.sql at any depth
        {"filename": "app.py", "additions": 50, "deletions": True},  # a boolean is no count
        {"filename": "migrations", "additions": "7"},  # a file named like the folder; no count
        {"filename": "migrations/0001.py", "previous_filename": "old/0001.py", "deletions": 1},
    ]
    risk = assess(rule, files)
    # 40 + 9 + 50 + 1 = 100 changed lines: at the rule's 100, risky by size too
    assert (risk.files, risk.lines, risk.risky) == (
        ("db/seed.sql", "migrations/0001.py"),
        100,
        True,
    )
    # A file name holding a backtick stays one code span
    odd = assess(rule, [{"filename": "migrations/a`b.sql"}])
    text = check_output([], set(), None, odd)["text"]
    assert "- `` migrations/a`b.sql ``" in text


def test_the_commands_answer_alike_through_a_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env.update(HEADWAY_DATABASE=str(tmp_path / "served.duckdb"), HEADWAY_ROLLOUT_INTERVAL="0")
    admin = make_token(env, "admin")
    viewer = make_token(env, "viewer")
    local_env = {**env, "HEADWAY_DATABASE": str(tmp_path / "local.duckdb")}
    commands = [
        ("set", "acme/shop", "--path", "migrations/**", "--min-lines", "400"),
        ("set", "acme/shop", "--path", "**"),  # refused
        ("set", "acme/shop", "--min-lines", "0"),  # refused
        ("list",),
        ("remove", "Acme/Shop"),
        ("remove", "acme/shop"),  # none left
        ("remove", "not a repository"),  # refused
        ("list",),
    ]
    with serving(env) as served:
        remote_env = {**env, "HEADWAY_URL": served, "HEADWAY_TOKEN": admin}
        remote = [run_headway("github", "risky-rule", *c, env=remote_env) for c in commands]
        weak = run_headway(
            "github", "risky-rule", "set", "acme/shop", "--path", "db/**",
            env={**remote_env, "HEADWAY_TOKEN": viewer},
        )  # fmt: skip
    local = [run_headway("github", "risky-rule", *c, env=local_env) for c in commands]

    assert [r.returncode for r in remote] == [0, 2, 2, 0, 0, 2, 2, 0]
    for command, there, here in zip(commands, remote, local, strict=True):
        assert there.returncode == here.returncode, (command, there.stderr, here.stderr)
        assert there.stderr == here.stderr, command  # refusals in the same words
        if there.returncode:
            assert there.stdout == here.stdout == ""
    # What was set is the same rule, recorded as its token through the server
    made, kept = json.loads(remote[0].stdout), json.loads(local[0].stdout)
    assert made["updated_by"].startswith("token:")
    for answer in (made, kept):
        assert (answer["repository"], answer["paths"], answer["min_lines"]) == (
            "acme/shop",
            ["migrations/**"],
            400,
        )
    assert json.loads(remote[3].stdout) == [made]
    assert remote[7].stdout.strip() == local[7].stdout.strip() == "[]"
    # A viewer may read the rules but not set one
    assert weak.returncode == 2
    assert "admin" in weak.stderr
