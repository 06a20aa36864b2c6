"""The `headway` command line: parse options, call a service, format the answer.

One module per command group; this one only assembles them.
Owns: options, output formats, exit codes, and the `Backend` (`cli.backend`) through which
every reading command gets its answer, from the store or a server (`cli.remote`, the one HTTP
client).
May import: every package below it, `api` included (to serve it); nothing imports the CLI.
A command module imports at its top only what its options and help need; the store, the
engines, the statistics, the server and the HTTP client load inside the command that uses
them, so `--help` and parsing stay fast (tests/cli/test_startup.py; docs/decisions.md).
"""

from __future__ import annotations

import importlib
import sys
from typing import Annotated, Any, ClassVar

import typer
import typer.core

from headway import __version__
from headway.cli import (
    definitions,
    demo,
    imports,
    interpret,
    metrics,
    notes,
    records,
    review,
    serve,
)
from headway.cli.common import errors

__all__ = ["app", "main"]


class _LazyGroup(typer.core.TyperGroup):
    """Command groups whose modules load only when used, so `headway metrics` does not pay
    for importing the statistics, the flag engine and the web server."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {
        "rollout": ("headway.cli.rollouts", "app"),
        "release": ("headway.cli.releases", "app"),
        "flags": ("headway.cli.flag_code", "app"),  # the flags group, with its code commands
        "tokens": ("headway.cli.tokens", "app"),
        "users": ("headway.cli.users", "app"),
        "audit": ("headway.cli.audit", "app"),
        "export": ("headway.cli.export", "app"),
        "github": ("headway.cli.github", "app"),
        "pulse": ("headway.cli.pulse", "app"),
    }

    def list_commands(self, ctx: Any) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: Any, name: str) -> Any:
        if name in self.lazy and name not in self.commands:
            module, attr = self.lazy[name]
            command = typer.main.get_command(getattr(importlib.import_module(module), attr))
            command.name = name
            self.add_command(command, name)
        return super().get_command(ctx, name)


app = typer.Typer(
    cls=_LazyGroup,
    name="headway",
    help="Measure how change flows from commit to users, and control that flow.\n\n"
    "Start with `headway demo`; then `headway metrics --help`.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(asked: bool) -> None:
    if asked:
        print(f"headway {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    pass


app.command("demo")(demo.demo)
app.command("simulate")(demo.simulate)
app.command("metrics")(metrics.metrics)
app.add_typer(imports.app, name="import")
app.add_typer(definitions.app, name="definitions")
app.add_typer(records.app, name="list")
app.command("serve")(serve.serve)
app.command("reprocess")(serve.reprocess)
app.add_typer(serve.sources_app, name="sources")
app.command("flow")(interpret.flow_command)
app.command("signals")(interpret.signals_command)
app.add_typer(notes.note_app, name="note")
app.command("review")(review.review_command)
# rollout, release, flags, tokens, users, audit, export, github and pulse load lazily: see
# _LazyGroup.lazy


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
    except ValueError as error:
        # A setting that cannot be used is one line and exit 2, as for any bad input. Its
        # class is imported here, once something failed: the settings load when a command
        # needs them, not for every `--help`.
        from headway.config import SettingsError

        if not isinstance(error, SettingsError):
            raise
        errors.print(f"[red]error:[/red] {error}", highlight=False, soft_wrap=True)
        sys.exit(2)
