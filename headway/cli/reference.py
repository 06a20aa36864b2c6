"""The command-line reference (docs/cli.md), generated from the commands themselves.

`python -m headway.cli.reference > docs/cli.md` rewrites it; a test fails when the file and the
commands disagree, so the reference cannot drift from `--help`.
"""

from __future__ import annotations

import sys
from typing import Any

import typer

from headway.cli import app


def _walk(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    out = [(path, command)]
    if hasattr(command, "list_commands"):
        ctx = typer.Context(command)
        for name in command.list_commands(ctx):
            out += _walk(command.get_command(ctx, name), [*path, name])
    return out


def _option(param: Any) -> str:
    names = ", ".join(f"`{n}`" for n in [*param.opts, *param.secondary_opts])
    if param.param_type_name == "argument":
        names = f"`{param.name.upper()}`"
    default = param.default
    shown = "" if default in (None, False, ()) or callable(default) else f" (default: `{default}`)"
    return f"- {names}: {' '.join((getattr(param, 'help', None) or '').split())}{shown}".rstrip()


def reference() -> str:
    root = typer.main.get_command(app)
    lines = [
        "# Command-line reference",
        "",
        "Generated from the commands (`python -m headway.cli.reference > docs/cli.md`); "
        "`headway COMMAND --help` says the same.",
        "",
    ]
    for path, command in _walk(root, ["headway"]):
        lines += [f"{'#' * min(len(path) + 1, 4)} `{' '.join(path)}`", ""]
        paragraphs = (command.help or "").strip().split("\n\n")
        lines.append("\n\n".join(" ".join(p.split()) for p in paragraphs))
        params = [p for p in command.params if p.name != "help"]
        if params:
            lines += ["", *(_option(p) for p in params)]
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(reference())
