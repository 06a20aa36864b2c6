"""Every command prints the same and exits the same whether it reads the store or a server.

The store is filled and the tokens made before `headway serve` starts (an embedded DuckDB
store has one writer); then each command of the list runs once on the store and once through
HEADWAY_URL, and the two runs must agree byte for byte on stdout and on the exit code. The
writes run through the server on its store and directly on a copy of the store made before
the server started, so both start from the same records.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer

from headway.cli import app
from tests.cli.test_cli import ALL_COMMANDS
from tests.conftest import FIXTURES, free_port, run_headway, wait_until_serving
from tests.sources.conftest import RepoBuilder

CDEVENTS = str(FIXTURES / "cdevents" / "conformance")
GUARDRAIL = "errors:rate:increase:0%:rollback"
PARIS = "2030-12-08 09:00"  # a scheduled change's time, in Europe/Paris

# Each reading command, with arguments that exercise it; bad input must fail alike too.
BOTH_WAYS: list[tuple[str, ...]] = [
    ("metrics",),
    ("metrics", "--by", "week", "--format", "json"),
    ("metrics", "--each", "service", "--format", "csv"),
    ("metrics", "--team", "nosuch", "--format", "json"),
    ("metrics", "--since", "2026-02-30"),
    ("list", "deployments", "--limit", "15"),
    ("list", "changes", "--limit", "15", "--format", "json"),
    ("list", "incidents", "--format", "csv"),
    ("flow",),
    ("flow", "--each", "team", "--format", "json"),
    ("signals", "--format", "json"),
    ("signals",),
    ("definitions", "show"),
    ("definitions", "show", "fourkeys", "--format", "json"),
    ("definitions", "show", "nosuch"),
    ("definitions", "history"),
    ("sources", "status"),
    ("flags", "list"),
    ("flags", "show", "checkout"),
    ("flags", "show", "nosuch"),
    ("flags", "history", "checkout", "--format", "json"),
    ("flags", "eval", "checkout", "--context", '{"targetingKey": "u1"}'),
    ("flags", "segment", "list"),
    ("flags", "stale", "--json"),
    ("flags", "lifecycle", "nosuch"),
    ("flags", "cleanup", "checkout", "."),
    ("tokens", "list", "--format", "json"),
    ("users", "list"),
    ("users", "list", "--format", "json"),
    ("audit", "verify"),
    ("audit", "verify", "--format", "json"),
    ("audit", "export", "--entity", "flag"),
    ("rollout", "status", "checkout"),
    ("note", "list"),
    ("note", "list", "--period", "2026-13"),
    ("pulse", "results"),
    ("pulse", "results", "--team", "web", "--format", "json"),
    ("pulse", "results", "--team", "nosuch"),
    ("definitions", "diff", "dora", "fourkeys"),
    ("definitions", "diff", "dora", "devlake", "--team", "web", "--format", "json"),
    ("definitions", "diff", "dora", "fourkeys", "--format", "csv"),
    ("definitions", "diff", "dora", "nosuch"),
    ("review", "--period", "2026-10", "--format", "json"),
    ("review", "--period", "2026-10", "--team", "web", "--out", "review", "--force"),
    ("review", "--period", "2026-13", "--format", "json"),
    ("flags", "export"),
    ("flags", "export", "--env", "staging"),
    ("flags", "schedules"),
    ("flags", "schedules", "nosuch"),
    ("rollout", "signals"),
    ("rollout", "simulate", "--guardrail", GUARDRAIL, "--runs", "40", "--looks", "5"),
    ("rollout", "simulate", "--guardrail", "errors:nope"),
    ("simulate", "--services", "1", "--days", "2"),
    ("export", "parquet", "exported"),  # the second run replaces the first's export
    ("export", "parquet", "ours.toml"),  # a file, not a folder
    ("github", "risky-rule", "list"),
]
# Writes that go through the server too: run there first, then on the store once the server
# has stopped, so neither run of the reads above sees what they wrote.
WRITES: list[tuple[str, ...]] = [
    ("note", "add", "Freeze week", "--scope", "organisation", "--period", "2026-12"),
    ("note", "add", "", "--scope", "organisation", "--period", "2026-12"),
    ("definitions", "set", "fourkeys", "--reason", "Compare with Four Keys", "--author", "ann"),
    ("definitions", "set", "nosuch", "--reason", "Typo", "--author", "ann"),
    ("definitions", "set", "dora", "--reason", " ", "--author", "ann"),
    ("definitions", "set", "ours.toml", "--reason", "Rollbacks only", "--author", "ann"),
    ("import", "cdevents", CDEVENTS, "--service", "demo"),
    ("import", "cdevents", CDEVENTS),
    ("reprocess",),
    ("import", "git", "shop", "--service", "shop", "--host", "none"),
    ("import", "git", "shop", "--service", "shop", "--host", "none"),  # up to date
    ("import", "git", "no-such-repo", "--service", "shop", "--host", "none"),
    ("list", "changes", "--service", "shop", "--format", "json"),
    ("list", "deployments", "--service", "shop", "--format", "json"),
    (
        "rollout",
        "start",
        "checkout",
        "--min-duration",
        "1h",
        "--actor",
        "ann",
        "--service",
        "search",
    ),
    ("rollout", "start", "nosuch", "--actor", "ann"),
    ("rollout", "status", "checkout"),
    ("rollout", "list"),
    ("rollout", "status", "checkout", "--id", "nosuch"),
    ("release", "plan", "checkout", "--environments", "staging,production"),
    ("release", "plan", "*", "--environments", "qa"),
    ("release", "plans", "--format", "json"),
    ("release", "cancel", "checkout"),
    ("release", "cancel", "checkout"),
    ("users", "add", "ann@example.com", "editor", "--env", "staging", "--team", "web"),
    ("users", "add", "Ann@example.com", "viewer"),  # a user already
    ("users", "add", "bob@example.com", "admin", "--team", "web"),  # admins take no scope
    ("users", "set-role", "ann@example.com", "viewer", "--team", "web"),
    ("users", "set-role", "nobody@example.com", "admin"),
    ("users", "remove", "ann@example.com"),
    ("users", "remove", "ann@example.com"),  # removed already
    ("users", "list"),
    (
        "flags",
        "schedule",
        "checkout",
        "-e",
        "production",
        "--off",
        "--at",
        PARIS,
        "--tz",
        "Europe/Paris",
    ),
    ("flags", "schedule", "checkout", "-e", "production", "--off", "--at", PARIS),  # no zone
    ("flags", "schedules", "--all"),
    ("flags", "unschedule", "nosuch"),
    ("pulse", "link", "--team", "nosuch"),
    ("pulse", "link", "--team", "web", "--days", "0"),
]
# Commands that change what is stored (their effect is compared by the reads above, run
# after them elsewhere in the suite: tests/api/test_cli_server.py, tests/rollouts).
CHANGES = {
    "import jsonl", "import csv", "flags create", "flags set", "flags split",
    "flags kill", "flags archive", "flags import", "flags origins", "flags rule add",
    "flags rule remove", "flags segment put", "flags segment delete", "tokens create",
    "tokens revoke", "rollout pause", "rollout resume", "rollout advance",
    "rollout abort", "rollout rollback", "flags refs", "github app-manifest",
}  # fmt: skip
# `serve` owns a store; `demo` fills the local one and refuses a server (tested below);
# `github backfill` needs a GitHub: both ways are tested in tests/github/test_app.py; a
# risky-code rule records who set it (`token:NAME` through a server), so `github risky-rule
# set` and `remove` are compared both ways in tests/github/test_risky.py.
LOCAL_ONLY = {"serve", "demo"}
ELSEWHERE = {"github backfill", "github risky-rule set", "github risky-rule remove"}


def test_the_list_names_every_command() -> None:
    leaves = {tuple(c) for c in ALL_COMMANDS if c and not hasattr(_command(c), "list_commands")}
    covered = {
        leaf for leaf in leaves if any(c[: len(leaf)] == leaf for c in [*BOTH_WAYS, *WRITES])
    }
    missing = {" ".join(leaf) for leaf in leaves - covered} - CHANGES - LOCAL_ONLY - ELSEWHERE
    assert not missing, f"say how these work through a server: {sorted(missing)}"


def _command(path: list[str]) -> object:
    command = typer.main.get_command(app)
    for part in path:
        command = command.get_command(typer.Context(command), part)  # type: ignore[attr-defined]
    return command


@pytest.mark.slow
@pytest.mark.timeout(1800)  # 110 processes, each paying the start-up: 8 to 15 minutes
def test_every_command_answers_alike_from_the_store_and_the_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    # One "now" for both runs: waiting work's ages and the default period are read from it, and
    # the two runs are minutes apart.
    env["HEADWAY_NOW"] = datetime.now(UTC).replace(microsecond=0).isoformat()
    # Changes made on the store name this actor; through the server, its token (`cli`).
    env["HEADWAY_ACTOR"] = "token:cli"
    env.update(HEADWAY_DATABASE=str(tmp_path / "store.duckdb"), COLUMNS="200")
    history = tmp_path / "org.jsonl"
    setup = [
        ("simulate", "--out", str(history), "--services", "3", "--days", "40"),
        ("import", "jsonl", str(history)),
        ("flags", "create", "checkout", "--description", "New checkout"),
        ("flags", "segment", "put", "beta", "--when", "plan eq pro"),
        ("flags", "set", "checkout", "--on"),
        ("note", "add", "Migration", "--scope", "organisation", "--period", "2026-10"),
        ("users", "add", "lee@example.com", "viewer", "--team", "web", "--name", "Lee"),
    ]
    for command in setup:
        done = run_headway(*command, env=env)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    made = run_headway("tokens", "create", "--kind", "admin", "--name", "cli", env=env)
    admin = made.stdout.strip().splitlines()[-1]
    _shop(tmp_path / "shop")
    (tmp_path / "ours.toml").write_text(
        'name = "ours"\n[failure]\nrules = ["incident", "rollback"]\n'
    )
    local = [run_headway(*c, env=env, cwd=tmp_path) for c in BOTH_WAYS]
    for command, done in zip(BOTH_WAYS, local, strict=True):
        assert "Traceback" not in done.stderr, command
    copy = {**env, "HEADWAY_DATABASE": str(tmp_path / "copy.duckdb")}
    shutil.copyfile(tmp_path / "store.duckdb", copy["HEADWAY_DATABASE"])
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "headway", "serve", "--port", str(port), "--log-level", "warning"],
        # No controller: its first tick would judge the stored rollout, which the store alone
        # never does, and `rollout status` would differ by that event.
        env={**env, "HEADWAY_ROLLOUT_INTERVAL": "0"},
        cwd=tmp_path,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url)
        remote_env = {**env, "HEADWAY_URL": url, "HEADWAY_TOKEN": admin}
        remote = [run_headway(*c, env=remote_env, cwd=tmp_path) for c in [*BOTH_WAYS, *WRITES]]
    finally:
        server.terminate()
        server.wait(30)
    local += [run_headway(*c, env=copy, cwd=tmp_path) for c in WRITES]
    for command, here, there in zip([*BOTH_WAYS, *WRITES], local, remote, strict=True):
        assert (there.returncode, _timeless(there.stdout)) == (
            here.returncode,
            _timeless(here.stdout),
        ), (
            command,
            here.stderr,
            there.stderr,
        )
        if here.returncode:  # refused alike: one line on stderr, nothing on stdout
            assert here.stdout == ""
            assert there.stderr.startswith("error:"), there.stderr
    # the JSON is parseable and the same document, not merely the same text
    assert json.loads(local[1].stdout)["trend"]
    # the writes did their work both ways; the refusals were refusals both ways
    codes = [done.returncode for done in remote[len(BOTH_WAYS) :]]
    assert codes == [
        *[0, 2, 0, 2, 2, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 2, 0],
        *[0, 2],  # the rollouts listed, a rollout id that names none
        *[0, 2, 0, 0, 2],  # release plans
        *[0, 2, 2, 0, 2, 0, 2, 0],
        *[0, 2, 0, 2],  # scheduled changes
        *[2, 2],  # the pulse links: an unknown team, no days
    ]
    imported = remote[len(BOTH_WAYS) + 9].stdout
    assert "4 changes, 4 deployments (1 failed: a shipped change was reverted)" in imported
    assert "up to date" in remote[len(BOTH_WAYS) + 10].stdout
    assert "Imported 48 CDEvents: 48 raw events" in remote[len(BOTH_WAYS) + 6].stdout
    assert (tmp_path / "review" / "review-2026-10-web.html").exists()


def _timeless(text: str) -> str:
    """Output without the seconds an import took (`in 0.4 s`, `(0.12 s)`), the moments a
    rollout's events happened (`2026-12-06T16:40:12`) and the ids of scheduled changes and
    rollouts."""
    text = re.sub(r"\b\d+\.\d+ s\b", "N s", text)
    # Through a server a rollout's actor is also the token that acted (`token:cli for ann`):
    # the store alone has no token to name.
    text = re.sub(r"(?:token:cli for )?\bann\s+", "ACTOR ", text)
    # A scheduled change's id is made where it is scheduled.
    text = re.sub(r"\b[0-9a-f]{12}\b", "SCHEDULE", text)
    # A rollout's id ends with the moment it started (`checkout:production:20261207T174356838459`)
    text = re.sub(r":\d{8}T\d{12}\b", ":STARTED", text)
    return re.sub(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?", "TIME", text)


def _shop(path: Path) -> None:
    """A repository of three releases: v1.1.0 ships a pull request, v1.2.0 a direct commit
    that v1.3.0 reverts (so v1.2.0 failed and v1.3.0 recovered it)."""
    repo = RepoBuilder(path)
    repo.commit("Start the shop", "2026-09-01T10:00:00+00:00")
    repo.tag("v1.0.0", "2026-09-02T10:00:00+00:00")
    repo.git("checkout", "-q", "-b", "cart")
    repo.commit("Add a cart", "2026-09-03T10:00:00+00:00")
    repo.git("checkout", "-q", "main")
    repo.merge("cart", "Merge pull request #1 from ada/cart", "2026-09-04T10:00:00+00:00")
    repo.tag("v1.1.0", "2026-09-05T10:00:00+00:00")
    repo.commit("Show prices in cents", "2026-09-06T10:00:00+00:00")
    repo.tag("v1.2.0", "2026-09-07T10:00:00+00:00")
    repo.git("revert", "--no-edit", "HEAD", date="2026-09-08T10:00:00+00:00")
    repo.tag("v1.3.0", "2026-09-09T10:00:00+00:00")


def test_demo_refuses_a_server_and_says_what_to_run() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    done = run_headway("demo", env={**env, "HEADWAY_URL": "http://127.0.0.1:9"})
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.startswith("error: demo fills the local store")
    assert "headway import jsonl" in done.stderr
