"""Errors go to stderr, data to stdout, for every command: `headway X ... > out` leaves `out`
empty and exits 2 when X is given a bad name or value (a usage error is on stderr too).

Each leaf command of the CLI appears below with a bad input; a new command fails
`test_every_command_is_tried_with_a_bad_input` until it is added."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headway.cli import app
from tests.cli.test_cli import ALL_COMMANDS, SMALL_ORG
from tests.conftest import run_headway

runner = CliRunner()

BAD: dict[str, list[str]] = {
    "audit verify": ["--format", "nosuch"],
    "audit export": ["--nosuch"],
    "definitions show": ["nosuch"],
    "definitions set": ["nosuch", "--reason", "typo", "--author", "ann"],
    "definitions history": ["nosuch"],
    "definitions diff": ["dora", "nosuch"],
    "demo": ["--days", "many"],
    "export parquet": ["/proc/nosuch/export"],
    "flags create": ["bad key!"],
    "flags list": ["--env", "nosuch"],
    "flags show": ["nosuch"],
    "flags set": ["nosuch", "--on"],
    "flags split": ["nosuch", "on=50", "off=50"],
    "flags kill": ["nosuch"],
    "flags archive": ["nosuch"],
    "flags history": ["nosuch"],
    "flags eval": ["nosuch", "--context", "{}"],
    "flags import": ["/nonexistent/flags.json"],
    "flags export": ["--env", "nosuch"],
    "flags origins": ["nosuch"],
    "flags lifecycle": ["nosuch"],
    "flags stale": ["--env", "nosuch"],
    "flags cleanup": ["nosuch", "."],
    "flags refs": ["/nonexistent"],
    "flags schedule": ["nosuch", "--env", "production", "--on", "--at", "2030-12-08T09:00Z"],
    "flags schedules": ["nosuch"],
    "flags unschedule": ["nosuch"],
    "flags rule add": ["nosuch", "--serve", "on"],
    "flags rule remove": ["nosuch", "0"],
    "flags segment put": ["nosuch", "/nonexistent.json"],
    "flags segment list": ["--env", "nosuch"],
    "flags segment delete": ["nosuch"],
    "flow": ["--team", "nosuch", "--format", "json"],
    "github app-manifest": ["--url", "nosuch"],
    "github backfill": ["nosuch"],
    "github risky-rule set": ["acme/shop", "--path", "**"],
    "github risky-rule list": ["--nosuch"],
    "github risky-rule remove": ["acme/shop"],
    "import jsonl": ["/nonexistent.jsonl"],
    "import csv": ["deployments", "/nonexistent.csv"],
    "import git": ["/nonexistent", "--service", "shop"],
    "import cdevents": ["/nonexistent"],
    "list deployments": ["--team", "nosuch", "--format", "json"],
    "list changes": ["--service", "nosuch", "--format", "json"],
    "list incidents": ["--context", "nosuch", "--format", "csv"],
    "metrics": ["--team", "nosuch", "--format", "json"],
    "note add": ["x", "--scope", "team:nosuch", "--period", "2026-10"],
    "note list": ["--scope", "team:nosuch"],
    "release plan": ["checkout", "--environments", "Prod"],
    "release plans": ["--format", "nosuch"],
    "release cancel": ["nosuch"],
    "pulse results": ["--team", "nosuch"],
    "pulse link": ["--team", "nosuch"],
    "reprocess": ["--source", "nosuch"],
    "review": ["--period", "2026-10", "--team", "nosuch", "--format", "json"],
    "rollout start": ["nosuch"],
    "rollout status": ["nosuch"],
    "rollout list": ["--nosuch"],
    "rollout pause": ["nosuch"],
    "rollout resume": ["nosuch"],
    "rollout advance": ["nosuch"],
    "rollout abort": ["nosuch"],
    "rollout rollback": ["nosuch"],
    "rollout signals": ["nosuch"],
    "rollout simulate": ["--guardrail", "nosuch"],
    "serve": ["--workers", "0"],
    "signals": ["--team", "nosuch", "--format", "json"],
    "simulate": ["--end", "nosuch", "--out", "org.jsonl"],
    "sources status": ["--source", "nosuch"],
    "tokens create": ["--kind", "nosuch"],
    "tokens list": ["--format", "nosuch"],
    "tokens revoke": ["nosuch"],
    "users add": ["ann@example.com", "nosuch"],
    "users list": ["--format", "nosuch"],
    "users remove": ["nosuch@example.com"],
    "users set-role": ["nosuch@example.com", "viewer"],
}


def test_every_command_is_tried_with_a_bad_input() -> None:
    groups = {" ".join(c[:-1]) for c in ALL_COMMANDS if c}
    leaves = {" ".join(c) for c in ALL_COMMANDS if c and " ".join(c) not in groups}
    assert leaves - set(BAD) == set(), "add a bad input for these commands"
    assert set(BAD) - leaves == set(), "these are no longer commands"


@pytest.mark.parametrize("command", sorted(BAD))
def test_a_bad_input_leaves_stdout_empty_and_exits_2(command: str, tmp_path: Path) -> None:
    runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    result = runner.invoke(app, [*command.split(), *BAD[command]])
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert result.stdout == "", result.stdout
    assert result.stderr.startswith(("error:", "Usage:")), result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        (
            "HEADWAY_ENGINE_LINKS",
            "sometimes",
            "error: HEADWAY_ENGINE_LINKS='sometimes': use auto, stored or computed",
        ),
        (
            "HEADWAY_READ_CONNECTIONS",
            "two",
            "error: HEADWAY_READ_CONNECTIONS='two' (or read_connections in headway.toml): "
            "Input should be a valid integer",
        ),
    ],
)
def test_a_setting_that_cannot_be_used_is_named_in_one_line(
    variable: str, value: str, says: str, tmp_path: Path
) -> None:
    done = run_headway("metrics", env={**os.environ, variable: value}, cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert " ".join(done.stderr.split()).startswith(says), done.stderr
    assert "Traceback" not in done.stderr
