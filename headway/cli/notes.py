"""`headway note …`: interpretation notes shown beside the numbers they explain, on a scope
(organisation, service, team, context) and a period; through the backend, local or remote."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from headway.cli.backend import backend
from headway.cli.common import Format, FormatOpt
from headway.output import console, emit_csv, emit_json

__all__ = ["EVERYTHING", "note_app"]

note_app = typer.Typer(
    help="Interpretation notes shown beside the numbers they explain.", no_args_is_help=True
)
EVERYTHING = "1970-01-01..9998-12-31"  # every note, as a period both backends accept
NoteScopeOpt = Annotated[
    str, typer.Option("--scope", help="organisation, service:NAME, team:NAME or context:NAME.")
]
NotePeriodOpt = Annotated[
    str, typer.Option("--period", help="YYYY-MM, YYYY-MM-DD or YYYY-MM-DD..YYYY-MM-DD (inclusive).")
]


@note_app.command("add")
def note_add(
    text: Annotated[str, typer.Argument(help="What the numbers do not show.")],
    scope: NoteScopeOpt,
    period: NotePeriodOpt,
    author: Annotated[
        str,
        typer.Option(
            "--author",
            help="Who writes it (default: you here; through a server, the token's name).",
        ),
    ] = "",
    fmt: FormatOpt = Format.table,
) -> None:
    """Record an interpretation note on a scope and period."""
    with backend() as answers:
        note = answers.add_note(scope, period, text, author)
    if fmt is Format.json:
        emit_json(note)
    elif fmt is Format.csv:
        emit_csv([note])
    else:
        console.print(
            f"Noted on {note['scope']} for {note['period_start'][:10]} → "
            f"{note['period_end'][:10]}.",
            highlight=False,
        )


@note_app.command("list")
def note_list(
    scope: Annotated[
        str, typer.Option("--scope", help="Scope, as for `note add`.")
    ] = "organisation",
    period: Annotated[
        str | None, typer.Option("--period", help="Period, as for `note add`; default: everything.")
    ] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Notes on a scope (and on what it contains, and organisation-wide) overlapping a period."""
    with backend() as answers:
        rows = answers.notes(scope, period or EVERYTHING)
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        from headway.interpret.results import Note

        emit_csv(rows, Note.model_fields)
    elif not rows:
        console.print("No notes.")
    else:
        table = Table(title=f"Notes · {scope}", title_justify="left")
        for column in ("scope", "period", "text", "author"):
            table.add_column(column)
        for r in rows:
            table.add_row(
                r["scope"],
                f"{r['period_start'][:10]} → {r['period_end'][:10]}",
                r["text"],
                r["author"],
            )
        console.print(table)
