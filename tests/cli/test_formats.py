"""Every `--format` a command offers works: each leaf command with a `--format` option is found
in the CLI's own tree and run once per format it offers (its enum's values, or the "a, b or c"
its help names), over tests/fixtures/small_org.jsonl with one flag and one note. JSON must
parse, CSV must have a header (alone, for a list with nothing in it) and rows as wide as it,
and every run exits 0 with something on stdout."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from headway.cli import app

SMALL_ORG = Path(__file__).parents[1] / "fixtures" / "small_org.jsonl"
runner = CliRunner()

# The arguments a command needs besides its format.
ARGS: dict[str, list[str]] = {
    "definitions diff": ["dora", "fourkeys"],
    "flags show": ["checkout"],
    "flags history": ["checkout"],
    "note add": ["Freeze week", "--scope", "organisation", "--period", "2026-10"],
    "pulse link": ["--team", "core"],
    "review": ["--period", "2026-10", "--force"],
    "release plan": ["checkout"],
    "release cancel": ["*"],  # the default plan the fixture sets
}


def offered(param: Any) -> list[str]:
    """The formats an option offers: its enum's values, else the ones its help lists."""
    annotation = param.type_descriptor.annotation
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return [str(m.value) for m in annotation]
    return re.findall(r"\w+", param.help.replace(" or ", ", "))


def commands() -> Iterator[tuple[str, list[str]]]:
    def walk(command: Any, path: list[str]) -> Iterator[tuple[str, list[str]]]:
        if hasattr(command, "list_commands"):
            ctx = typer.Context(command)
            for name in command.list_commands(ctx):
                yield from walk(command.get_command(ctx, name), [*path, name])
            return
        for param in command.params:
            if "--format" in getattr(param, "opts", []):
                yield " ".join(path), offered(param)

    yield from walk(typer.main.get_command(app), [])


CASES = [(name, fmt) for name, formats in commands() for fmt in formats]


def test_the_formats_are_found() -> None:
    found = dict(commands())
    assert found["metrics"] == ["table", "json", "csv"]
    assert found["review"] == ["table", "json"]
    assert found["audit verify"] == ["text", "json"]
    assert found["definitions show"] == ["toml", "json"]
    assert len(found) >= 20


@pytest.fixture
def org(tmp_path: Path) -> Path:
    assert runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)]).exit_code == 0
    made = runner.invoke(app, ["flags", "create", "checkout", "--description", "New checkout"])
    assert made.exit_code == 0, made.output
    noted = runner.invoke(
        app, ["note", "add", "Migration", "--scope", "organisation", "--period", "2026-10"]
    )
    assert noted.exit_code == 0, noted.output
    planned = runner.invoke(app, ["release", "plan", "*", "--environments", "production"])
    assert planned.exit_code == 0, planned.output
    return tmp_path


@pytest.mark.parametrize(("name", "fmt"), CASES, ids=[f"{n} {f}" for n, f in CASES])
def test_every_offered_format_works(org: Path, name: str, fmt: str) -> None:
    args = [*name.split(), *ARGS.get(name, []), "--format", fmt]
    if name == "review":
        args += ["--out", str(org / "review")]
    done = runner.invoke(app, args)
    assert done.exit_code == 0, (args, done.output)
    assert done.stdout.strip(), args
    if fmt == "json":
        orjson.loads(done.stdout)
    if fmt == "csv":
        rows = list(csv.reader(io.StringIO(done.stdout)))
        assert all(len(row) == len(rows[0]) for row in rows), done.stdout


def test_an_empty_list_is_a_header_alone(org: Path) -> None:
    # No webhook delivery has arrived: the CSV still names its columns
    done = runner.invoke(app, ["sources", "status", "--format", "csv"])
    assert done.exit_code == 0
    assert done.stdout == "source,kind,status,note,deliveries,latest\n"
    done = runner.invoke(app, ["list", "incidents", "--team", "nobody-yet", "--format", "csv"])
    assert done.exit_code == 2  # an unknown team is refused, not an empty list
    done = runner.invoke(
        app, ["list", "incidents", "--since", "2020-01-01", "--until", "2020-02-01", "-f", "csv"]
    )
    assert done.exit_code == 0, done.output
    assert done.stdout.startswith("id,service,title,severity,opened_at,")
    assert len(done.stdout.splitlines()) == 1
