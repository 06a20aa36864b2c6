"""Every `headway` command starts by parsing its command line: that must not load the store,
the engines, the statistics, the web server or the HTTP client. Only the command that runs
loads what it uses (docs/decisions.md, "The command line loads a library when a command uses
it"); bench/cli_startup.py measures what this saves.

Each command runs in-process in a child of one interpreter that has loaded typer and rich (what
every `--help` needs) and nothing of Headway; the child reports which of the libraries below
`sys.modules` then holds.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from headway.cli import app

ROOT = Path(__file__).parents[2]

# The libraries that only some commands need, and that cost most of the start-up (SQLAlchemy
# alone about 0.35 s on the development machine).
HEAVY = (
    "duckdb",
    "fastapi",
    "httpx",
    "ibis",
    "jinja2",
    "numpy",
    "pandas",
    "psycopg",
    "pyarrow",
    "pydantic_settings",
    "scipy",
    "sqlalchemy",
    "starlette",
    "uvicorn",
)

# A fork per command, so each starts as a new process would, without paying for a new
# interpreter and typer each time (about 40 commands). The command line's output is kept
# whole for the assertions' messages.
CHILD = """
import io, json, os, sys, traceback
import typer, typer.rich_utils, rich.console
heavy = set(sys.argv[1].split(","))
assert not [m for m in sys.modules if m.split(".")[0] in heavy | {"headway"}], "loaded early"
for argv in json.loads(sys.argv[2]):
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        sys.argv = ["headway", *argv]
        sys.stdout = sys.stderr = out = io.StringIO()
        code = 0
        try:
            from headway.cli import main
            main()
        except SystemExit as exit:
            code = exit.code
        except BaseException:
            code = "crashed"
            traceback.print_exc(file=out)
        loaded = sorted({m.split(".")[0] for m in sys.modules} & heavy)
        with os.fdopen(write, "w") as pipe:
            json.dump({"code": code, "output": out.getvalue(), "loaded": loaded}, pipe)
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        print(pipe.read(), flush=True)
    os.waitpid(pid, 0)
"""


def _run(commands: list[list[str]], tmp: Path) -> dict[str, dict[str, Any]]:
    """What each command (a list of arguments) exited with, printed and loaded, by its words."""
    env = {k: v for k, v in os.environ.items() if k not in ("HEADWAY_URL", "HEADWAY_ENGINE")}
    env |= {"PYTHONPATH": str(ROOT), "HEADWAY_DATABASE": str(tmp / "headway.duckdb")}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, ",".join(HEAVY), json.dumps(commands)],
        cwd=tmp,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(commands), done.stdout + done.stderr
    return {" ".join(argv): result for argv, result in zip(commands, results, strict=True)}


def _top_level_commands() -> list[str]:
    root = typer.main.get_command(app)
    return list(root.list_commands(typer.Context(root)))  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def helps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    commands = [["--help"], ["import", "jsonl", "--help"]]
    commands += [[name, "--help"] for name in _top_level_commands()]
    return _run(commands, tmp_path_factory.mktemp("helps"))


def test_every_command_is_asked_for_its_help(helps: dict[str, dict[str, Any]]) -> None:
    names = _top_level_commands()
    # the groups that load lazily, and the commands this file was written for, are all here
    assert {"import", "metrics", "flags", "rollout", "serve", "github", "audit"} <= set(names)
    assert {f"{name} --help" for name in names} <= set(helps)


@pytest.mark.parametrize(
    "command", ["--help", "import jsonl --help", "metrics --help", "flags --help", "serve --help"]
)
def test_help_loads_no_heavy_library(helps: dict[str, dict[str, Any]], command: str) -> None:
    result = helps[command]
    assert result["code"] == 0, result["output"]
    assert "Usage: headway" in str(result["output"]), result["output"]
    assert result["loaded"] == [], f"`headway {command}` loaded {result['loaded']}"


def test_no_group_help_loads_a_heavy_library(helps: dict[str, dict[str, Any]]) -> None:
    loading = {
        command: result["loaded"]
        for command, result in helps.items()
        if result["loaded"] or result["code"] != 0
    }
    assert loading == {}, f"these loaded a heavy library or failed: {loading}"


def test_a_command_loads_what_it_uses_and_no_more(tmp_path: Path) -> None:
    # Given an organisation written by `simulate` (no store), imported, then reported on
    org = str(tmp_path / "org.jsonl")
    done = _run(
        [
            ["simulate", "--services", "1", "--days", "5", "--out", org],
            ["import", "jsonl", org],
            ["metrics", "--format", "json"],
        ],
        tmp_path,
    )
    # Then each ran, and loaded its own libraries: the simulator none of the store's, the
    # import and the report the store's (SQLAlchemy, DuckDB) but no server, HTTP client,
    # statistics or Ibis (the store's own statements compute the metrics by default)
    assert all(result["code"] == 0 for result in done.values()), done
    simulated = done[f"simulate --services 1 --days 5 --out {org}"]["loaded"]
    assert not {"sqlalchemy", "duckdb", "pyarrow", "numpy"} & set(simulated), simulated
    elsewhere = {"fastapi", "starlette", "uvicorn", "jinja2", "httpx", "scipy", "ibis"}
    for command in (f"import jsonl {org}", "metrics --format json"):
        loaded = set(done[command]["loaded"])
        assert {"sqlalchemy", "duckdb"} <= loaded, (command, loaded)
        assert not elsewhere & loaded, (command, loaded)
