"""`headway definitions …`: show, change and compare metric definitions."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from headway.cli.backend import Query, backend
from headway.cli.common import (
    ContextOpt,
    Format,
    FormatOpt,
    ServiceOpt,
    SinceOpt,
    TeamOpt,
    UntilOpt,
    Year,
    YearOpt,
    fail,
)
from headway.output import console, duration, emit_csv, emit_json

app = typer.Typer(help="Show, change and compare metric definitions.", no_args_is_help=True)


@app.command("show")
def definitions_show(
    name: Annotated[
        str | None, typer.Argument(help="Definition (default: the active one).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="toml or json")] = "toml",
) -> None:
    """Show a definition: what counts as a deployment, failure and recovery, and how durations
    are summarised."""
    with backend() as answers:
        defn = answers.definition(name)
    if fmt == "json":
        emit_json(defn.model_dump(mode="json"))
    elif fmt == "toml":
        from headway.definitions import to_toml

        sys.stdout.write(to_toml(defn))
    else:
        fail(f"--format must be toml or json, not {fmt!r}")


@app.command("set")
def definitions_set(
    ref: Annotated[
        str,
        typer.Argument(
            help="A preset (dora, fourkeys, devlake), NAME@VERSION, or "
            "a TOML file (see `headway definitions show`)."
        ),
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why the definition changes (recorded).")],
    author: Annotated[
        str,
        typer.Option(
            "--author",
            help="Who changes it (default: you here; through a server, the token's name).",
        ),
    ] = "",
) -> None:
    """Make a definition active. Recorded with author, time and reason."""
    with backend() as answers:
        saved, before = answers.set_definition(ref, author=author, reason=reason)
    console.print(f"Active definition: {saved.label} (was {before.label}).", highlight=False)
    from headway.definitions import changed_fields

    if "failure" in {c[0].split(".")[0] for c in changed_fields(before, saved)}:
        console.print(
            "[yellow]note:[/yellow] the failure rules changed; run `headway definitions "
            f"diff {before.label} {saved.label}` to see how change fail rate moves."
        )


@app.command("history")
def definitions_history(fmt: FormatOpt = Format.table) -> None:
    """Every definition made active: version, author, time and reason."""
    with backend() as answers:
        rows = answers.definition_history()
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        # here, not at the top: the API module imports FastAPI, which every command would pay
        from headway.api.definitions import DefinitionChange

        emit_csv(rows, DefinitionChange.model_fields)
    elif not rows:
        from headway.definitions import DEFAULT

        console.print(f"No definition has been set; the default {DEFAULT} preset is active.")
    else:
        from rich.table import Table

        table = Table(title="Definition history", title_justify="left")
        for c in ("created_at", "name", "version", "author", "reason"):
            table.add_column(c)
        for row in rows:
            table.add_row(
                row["created_at"], row["name"], str(row["version"]), row["author"], row["reason"]
            )
        console.print(table)


@app.command("diff")
def definitions_diff(
    a: Annotated[str, typer.Argument(help="First definition.")],
    b: Annotated[str, typer.Argument(help="Second definition.")],
    service: ServiceOpt = None,
    team: TeamOpt = None,
    context: ContextOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    levels: YearOpt = Year.y2024,
    fmt: FormatOpt = Format.table,
) -> None:
    """Recompute one period under two definitions and show how each number moves."""
    query = Query(service, team, context, since, until)
    with backend() as answers:
        result = answers.definitions_diff(a, b, query, year=levels.value)
    if fmt is Format.json:
        emit_json(result)
        return
    if fmt is Format.csv:
        emit_csv(result["numbers"])
        return
    from rich.table import Table

    from headway.metrics.dora import Scope

    la, lb = (f"{result[x]['name']}@{result[x]['version']}" for x in ("a", "b"))
    scope = Scope(result["scope"]["kind"], result["scope"]["name"])
    rules = Table(title=f"Rules that differ: {la} → {lb}", title_justify="left")
    for c in ("rule", la, lb):
        rules.add_column(c)
    for change in result["rules"]:
        rules.add_row(change["rule"], str(change["a"]), str(change["b"]))
    console.print(rules)
    numbers = Table(
        title=f"{scope.describe()} · {result['period']['since'][:10]} → "
        f"{result['period']['until'][:10]}",
        title_justify="left",
    )
    for c in ("number", la, lb, "change"):
        numbers.add_column(c, justify="left" if c == "number" else "right")
    for n in result["numbers"]:
        label = n["number"]
        numbers.add_row(
            label.removesuffix(" (s)"),
            _fmt(n["a"], label),
            _fmt(n["b"], label),
            _fmt(n["delta"], label, signed=True),
        )
    console.print(numbers)
    moves = Table(
        title=f"What each rule of {lb} moves on its own, from {la}",
        title_justify="left",
    )
    for c in ("rule", "number", la, "with the rule", "change"):
        moves.add_column(c, justify="left" if c in ("rule", "number") else "right")
    for rule in result["by_rule"]:
        for move in rule["moves"] or [{"number": "(no number moves)"}]:
            moves.add_row(
                rule["rule"],
                move["number"].removesuffix(" (s)"),
                _fmt(move.get("a"), move["number"]),
                _fmt(move.get("with_rule"), move["number"]),
                _fmt(move.get("delta"), move["number"], signed=True),
            )
    console.print(moves)
    for warning in result["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _fmt(value: Any, label: str = "", *, signed: bool = False) -> str:
    """A number of the diff as a person reads it: durations (labels ending in `(s)`) in
    minutes, hours or days, never seconds in scientific notation."""
    if value is None:
        return "–"
    if label.endswith("(s)") and isinstance(value, int | float):
        sign = "-" if value < 0 else ("+" if signed and value > 0 else "")
        size = abs(value)
        return sign + (f"{size:.0f} s" if size < 60 else duration(size))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)
