"""Every command prints the same and exits the same whether it reads the store or a server.

The store is filled and the tokens made before `headway serve` starts (an embedded DuckDB
store has one writer); then each command of the list runs once on the store and once through
HEADWAY_URL, and the two runs must agree byte for byte on stdout and on the exit code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from headway.cli import app
from tests.cli.test_cli import ALL_COMMANDS
from tests.conftest import free_port, run_headway, wait_until_serving

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
    ("audit", "verify"),
    ("audit", "verify", "--format", "json"),
    ("audit", "export", "--entity", "flag"),
    ("rollout", "status", "checkout"),
    ("note", "list"),
    ("note", "list", "--period", "2026-13"),
]
# Writes that go through the server too: run there first, then on the store once the server
# has stopped, so neither run of the reads above sees what they wrote.
WRITES: list[tuple[str, ...]] = [
    ("note", "add", "Freeze week", "--scope", "organisation", "--period", "2026-12"),
    ("note", "add", "", "--scope", "organisation", "--period", "2026-12"),
]
# Commands that change what is stored (their effect is compared by the reads above, run
# after them elsewhere in the suite), or that work on the store itself with no route yet.
CHANGES = {
    "import jsonl", "import csv", "definitions set", "flags create", "flags set", "flags split",
    "flags kill", "flags archive", "flags import", "flags origins", "flags rule add",
    "flags rule remove", "flags segment put", "flags segment delete", "tokens create",
    "tokens revoke", "rollout start", "rollout pause", "rollout resume", "rollout advance",
    "rollout abort", "rollout rollback", "flags refs", "github app-manifest",
}  # fmt: skip
STORE_ONLY = {
    "demo", "simulate", "serve", "reprocess", "import git", "import cdevents",
    "definitions diff", "review", "flags export", "rollout signals",
    "rollout simulate", "export parquet", "github backfill",
}  # fmt: skip


def test_the_list_names_every_command() -> None:
    leaves = {tuple(c) for c in ALL_COMMANDS if c and not hasattr(_command(c), "list_commands")}
    covered = {
        leaf for leaf in leaves if any(c[: len(leaf)] == leaf for c in [*BOTH_WAYS, *WRITES])
    }
    missing = {" ".join(leaf) for leaf in leaves - covered} - CHANGES - STORE_ONLY
    assert not missing, f"say how these work through a server: {sorted(missing)}"


def _command(path: list[str]) -> object:
    command = typer.main.get_command(app)
    for part in path:
        command = command.get_command(typer.Context(command), part)  # type: ignore[attr-defined]
    return command


@pytest.mark.slow
def test_every_command_answers_alike_from_the_store_and_the_server(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env.update(HEADWAY_DATABASE=str(tmp_path / "store.duckdb"), COLUMNS="200")
    history = tmp_path / "org.jsonl"
    setup = [
        ("simulate", "--out", str(history), "--services", "3", "--days", "40"),
        ("import", "jsonl", str(history)),
        ("flags", "create", "checkout", "--description", "New checkout"),
        ("flags", "segment", "put", "beta", "--when", "plan eq pro"),
        ("flags", "set", "checkout", "--on"),
        ("note", "add", "Migration", "--scope", "organisation", "--period", "2026-10"),
    ]
    for command in setup:
        done = run_headway(*command, env=env)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    made = run_headway("tokens", "create", "--kind", "admin", "--name", "cli", env=env)
    admin = made.stdout.strip().splitlines()[-1]
    local = [run_headway(*c, env=env) for c in BOTH_WAYS]
    for command, done in zip(BOTH_WAYS, local, strict=True):
        assert "Traceback" not in done.stderr, command
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "headway", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=tmp_path,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_serving(url)
        remote_env = {**env, "HEADWAY_URL": url, "HEADWAY_TOKEN": admin}
        remote = [run_headway(*c, env=remote_env) for c in [*BOTH_WAYS, *WRITES]]
    finally:
        server.terminate()
        server.wait(30)
    local += [run_headway(*c, env=env) for c in WRITES]
    for command, here, there in zip([*BOTH_WAYS, *WRITES], local, remote, strict=True):
        assert (there.returncode, there.stdout) == (here.returncode, here.stdout), (
            command,
            here.stderr,
            there.stderr,
        )
        if here.returncode:  # refused alike: one line on stderr, nothing on stdout
            assert here.stdout == ""
            assert there.stderr.startswith("error:"), there.stderr
    # the JSON is parseable and the same document, not merely the same text
    assert json.loads(local[1].stdout)["trend"]
