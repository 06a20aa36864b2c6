"""`headway flags import|export`: flags to and from flagd flag-definition files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from headway.cli.common import fail
from headway.cli.flag_common import EnvOpt, actor, session
from headway.output import console

__all__ = ["export_flagd", "import_flagd"]


def import_flagd(
    file: Annotated[Path, typer.Argument(help="A flagd flag-definition file (JSON).")],
    env: EnvOpt = "production",
    yes: Annotated[
        bool, typer.Option("--yes", help="Apply even when the import changes who gets what.")
    ] = False,
) -> None:
    """Create flags from a flagd definition file, all or none, in ENV (off elsewhere)."""
    from headway.flags.flagd import from_flagd

    try:
        document = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"{file}: not a readable JSON file ({error})")
    with session() as (service, _):
        imported = from_flagd(document, env)
        for warning in imported.warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
        if imported.warnings and not yes:
            fail(
                "nothing imported: the warnings above change who gets which variant; "
                "run again with --yes to apply"
            )
        flags = service.import_flags(imported.flags, actor=actor())
    console.print(f"Imported {len(flags)} flags into {env}: {', '.join(f.key for f in flags)}.")


def export_flagd(
    env: EnvOpt = "production",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write ENV's flags as a flagd flag-definition file (JSON)."""
    from headway.flags.flagd_export import to_flagd

    with session() as (service, _):
        known = [e.key for e in service.environments()]
        if env not in known:
            fail(f"environment '{env}' does not exist; known: {', '.join(known)}")
        document, warnings = to_flagd(service.list_flags(), env)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        print(text, end="")
    else:
        output.write_text(text)
