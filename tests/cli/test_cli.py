"""The command line as a user meets it: help everywhere, one-line errors, the demo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from headway.cli import app

SMALL_ORG = Path(__file__).parents[1] / "fixtures" / "small_org.jsonl"
runner = CliRunner()


def _commands(group: Any, prefix: list[str]) -> list[list[str]]:
    out = [prefix]
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):  # lazy groups load here too
        command = group.get_command(ctx, name)
        if hasattr(command, "list_commands"):  # a group (typer bundles its own click)
            out += _commands(command, [*prefix, name])
        else:
            out.append([*prefix, name])
    return out


ALL_COMMANDS = _commands(typer.main.get_command(app), [])  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=lambda c: " ".join(c) or "headway")
def test_every_command_explains_itself(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    # the first line of the help says what the command is for, in words
    click_command = typer.main.get_command(app)
    for part in command:
        click_command = click_command.get_command(  # type: ignore[attr-defined]
            typer.Context(click_command), part
        )
    assert len((click_command.help or "").split()) >= 4, f"{command} needs a real description"


def test_metrics_json_contract() -> None:
    assert runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)]).exit_code == 0
    result = runner.invoke(
        app,
        [
            "metrics",
            "--service",
            "api",
            "--since",
            "2026-10-01",
            "--until",
            "2026-10-10",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {
        "definition",
        "scope",
        "period",
        "deployment_frequency",
        "change_lead_time",
        "change_fail_rate",
        "failed_deployment_recovery_time",
        "deployment_rework_rate",
        "warnings",
    }
    assert data["period"] == {
        "since": "2026-10-01T00:00:00Z",
        "until": "2026-10-11T00:00:00Z",
        "days": 10.0,
    }
    # d2 (incident) and d3 (rollback); i3 opened 2 h after d5, beyond dora's 30-minute window
    # 40% would be low, but 5 deployments are too few to rate
    assert data["change_fail_rate"] == {
        "deployments": 5,
        "failed": 2,
        "rate": 0.4,
        "level": None,
        "reason": None,
        "level_reason": "too few to rate: 5 counted deployments; a level needs at least 10",
    }


def test_metrics_csv_has_one_row_per_period() -> None:
    runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    result = runner.invoke(
        app,
        [
            "metrics",
            "--service",
            "api",
            "--since",
            "2026-10-01",
            "--until",
            "2026-10-10",
            "--by",
            "week",
            "--format",
            "csv",
        ],
    )
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 + 1 + 2  # header, whole period, two weeks
    header = lines[0].split(",")
    assert header[:5] == ["definition", "scope_kind", "scope", "since", "until"]
    assert "change_fail_rate.rate" in header


def test_table_output_names_definition_and_levels() -> None:
    runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    result = runner.invoke(app, ["metrics", "--since", "2026-10-01", "--until", "2026-10-10"])
    assert result.exit_code == 0
    assert "definition dora@2" in result.output
    assert "level (2024)" in result.output
    assert "blends services of 2 operating contexts" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["metrics", "--team", "nobody"], "no team named 'nobody'; known teams: core, money"),
        (
            ["metrics", "--service", "api", "--team", "core"],
            "give only one of service, team, context",
        ),
        (["metrics", "--since", "2026-02-30"], "--since '2026-02-30' is not a date"),
        (["metrics", "--since", "2026-10-05", "--until", "2026-10-01"], "must be before --until"),
        (
            ["metrics", "--definition", "nope"],
            "unknown definition 'nope'; known: devlake, dora, fourkeys",
        ),
        (["list", "incidents", "--context", "galactic"], "no context named 'galactic'"),
        # review writes files or prints JSON; it does not offer csv
        (["review", "--period", "2026-10", "--format", "csv"], "'csv' is not one of"),
    ],
)
def test_bad_input_gets_one_line_and_exit_code_2(args: list[str], message: str) -> None:
    runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert "Traceback" not in result.output


def test_errors_go_to_stderr_and_leave_the_data_stream_empty() -> None:
    """`headway metrics --team nosuch --format json > x.json` leaves x.json empty, exits 2."""
    runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    result = runner.invoke(app, ["metrics", "--team", "nosuch", "--format", "json"])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "no team named 'nosuch'" in result.stderr
    # flags and rollouts print their errors the same way
    for args in (
        ["flags", "eval", "f", "--context", "{"],
        ["rollout", "start", "f", "--guardrail", "nonsense"],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2, result.output
        assert result.stdout == ""
        assert result.stderr.startswith("error:"), result.stderr


def test_definitions_set_history_and_diff() -> None:
    runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    result = runner.invoke(
        app,
        [
            "definitions",
            "set",
            "fourkeys",
            "--reason",
            "match the old dashboard",
            "--author",
            "ana",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Active definition: fourkeys@3 (was dora@2)" in result.output
    history = json.loads(runner.invoke(app, ["definitions", "history", "--format", "json"]).output)
    assert [(h["name"], h["author"], h["reason"]) for h in history] == [
        ("fourkeys", "ana", "match the old dashboard")
    ]
    shown = runner.invoke(app, ["definitions", "show"]).output
    assert 'name = "fourkeys"' in shown
    assert 'rules = ["incident"]' in shown

    diff = json.loads(
        runner.invoke(
            app,
            [
                "definitions",
                "diff",
                "dora",
                "fourkeys",
                "--service",
                "api",
                "--since",
                "2026-10-01",
                "--until",
                "2026-10-10",
                "--format",
                "json",
            ],
        ).output
    )
    failed = next(n for n in diff["numbers"] if n["number"] == "failed deployments")
    # dora: d2 (incident), d3 (rollback, revert); fourkeys: d2 only (the incident naming it)
    assert (failed["a"], failed["b"], failed["delta"]) == (2, 1, -1)
    assert any("defined away" in w for w in diff["warnings"])


def test_a_custom_definition_from_a_file_gets_versions(tmp_path: Path) -> None:
    runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    path = tmp_path / "ours.toml"
    path.write_text('name = "ours"\n[failure]\nrules = ["incident", "rollback"]\n')
    assert runner.invoke(app, ["definitions", "set", str(path), "--reason", "start"]).exit_code == 0
    path.write_text('name = "ours"\n[failure]\nrules = ["incident"]\n')
    result = runner.invoke(
        app, ["definitions", "set", str(path), "--reason", "stop counting rollbacks"]
    )
    assert "Active definition: ours@2 (was ours@1)" in result.output
    assert "the failure rules changed" in " ".join(result.output.split())
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "ours"\n[failure]\nrules = ["vibes"]\n')
    result = runner.invoke(app, ["definitions", "set", str(bad), "--reason", "x"])
    assert result.exit_code == 2
    assert "failure.rules.0" in result.output


def test_simulate_is_deterministic(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    for path in (a, b):
        result = runner.invoke(
            app, ["simulate", "--seed", "5", "--services", "4", "--days", "30", "--out", str(path)]
        )
        assert result.exit_code == 0
    assert a.read_bytes() == b.read_bytes()
    other = tmp_path / "c.jsonl"
    runner.invoke(
        app, ["simulate", "--seed", "6", "--services", "4", "--days", "30", "--out", str(other)]
    )
    assert other.read_bytes() != a.read_bytes()
    assert runner.invoke(app, ["import", "jsonl", str(a)]).exit_code == 0


def test_demo_prints_every_team_and_service() -> None:
    result = runner.invoke(app, ["demo", "--services", "4", "--days", "60"])
    assert result.exit_code == 0, result.output
    for name in (
        "payments",
        "web",
        "growth",
        "messaging",
        "payments-ledger",
        "storefront",
        "search",
        "notifications",
    ):
        assert name in result.output
    assert "definition dora@2" in result.output
    assert "levels 2024" in result.output


def test_the_served_app_has_every_surface() -> None:
    from headway.api.app import create_app

    paths = set(create_app().openapi()["paths"])
    for path in (
        "/healthz",
        "/api/metrics",
        "/api/deployments",
        "/api/flow",
        "/hooks/github",
        "/api/flags",
        "/sdk/config",
        "/sdk/stream",
        "/ofrep/v1/evaluate/flags",
        "/api/rollouts",
    ):
        assert path in paths, path


def test_version_prints_the_installed_version() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"headway {version('headway')}\n"


def test_definitions_diff_shows_durations_in_human_units() -> None:
    runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    result = runner.invoke(
        app, ["definitions", "diff", "dora", "fourkeys", "--since", "2026-10-01"]
    )
    assert result.exit_code == 0, result.output
    assert "(s)" not in result.output  # no column of raw seconds
    assert "e+0" not in result.output  # no scientific notation
    lead = next(line for line in result.output.splitlines() if "lead time median" in line)
    assert lead.split("│")[2].strip().endswith((" min", " h", " d"))


def test_simulate_refuses_to_fill_a_terminal(tmp_path: Path) -> None:
    import os
    import pty
    import subprocess
    import sys

    leader, follower = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    done = subprocess.run(
        [sys.executable, "-m", "headway", "simulate", "--services", "1", "--days", "2"],
        stdout=follower,
        stderr=subprocess.PIPE,
        env={**env, "HEADWAY_DATABASE": str(tmp_path / "s.duckdb")},
        timeout=120,
        check=False,
    )
    os.close(follower)
    os.close(leader)
    assert done.returncode == 2
    assert b"give --out FILE, or redirect it" in done.stderr
