"""`headway flags lifecycle`, `stale` and `refs`: flags over time, and read against the code
that uses them.

They join the `flags` group from here, and the root CLI loads the group through this module,
so `cli/flags.py` stays about changing flags.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from headway.cli.backend import backend
from headway.cli.common import actor, fail
from headway.cli.flags import app
from headway.output import console, emit_json

if TYPE_CHECKING:
    from headway.flags.lifecycle import StaleFlag
    from headway.flags.references import ReferenceReport
    from headway.flags.refs import RefPattern

__all__ = ["app", "cleanup", "lifecycle", "refs", "stale"]


JsonOpt = Annotated[bool, typer.Option("--json", help="Print the JSON the API answers.")]


@app.command()
def lifecycle(key: str, json: JsonOpt = False) -> None:
    """Show a flag's owner, kind, state, and when it was created, released and last changed."""
    with backend() as answers:
        life = answers.flags.lifecycle(key)
    if json:
        emit_json(life.model_dump(mode="json"))
        return
    released = f"{life.released_at:%Y-%m-%d %H:%M} UTC" if life.released_at else "not yet"
    removal = f", expected removal {life.expected_removal}" if life.expected_removal else ""
    console.print(f"{life.key}: {life.kind} flag owned by {life.owner}{removal}")
    console.print(f"  state     {life.state} (in every environment unless partial)")
    console.print(f"  created   {life.created_at:%Y-%m-%d %H:%M} UTC")
    console.print(f"  released  {released}")
    console.print(f"  changed   {life.changed_at:%Y-%m-%d %H:%M} UTC")


@app.command()
def stale(
    after_days: Annotated[
        int,
        typer.Option(
            "--after-days",
            min=1,
            max=3650,
            help="Days a release flag must have been fully on or off, with no rule change.",
        ),
    ] = 30,
    json: JsonOpt = False,
) -> None:
    """List flags whose checks can leave the code, why, and where the code reads them."""
    with backend() as answers:
        found = answers.flags.stale(timedelta(days=after_days))
    if json:
        emit_json([s.model_dump(mode="json") for s in found])
        return
    if not found:
        console.print(f"No stale flags (release flags settle after {after_days} days).")
        return
    console.print(_stale_table(found))


def _stale_table(found: list[StaleFlag]) -> Table:
    table = Table("flag", "owner", "kind", "why", "code")
    for s in found:
        table.add_row(s.key, s.owner, s.kind, s.detail, "\n".join(s.references) or "-")
    return table


@app.command()
def cleanup(
    key: str,
    path: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, resolve_path=True, help="A checkout."),
    ],
) -> None:
    """Print the patch (for `git apply`) that replaces a settled boolean flag's evaluations in
    the code at PATH with the value it serves everyone."""
    from headway.flags.cleanup import cleanup_patch
    from headway.flags.lifecycle import settled_value

    with backend() as answers:
        flag = answers.flags.require_flag(key)
    settled, value = settled_value(flag)
    if flag.type != "boolean":
        fail(f"{key} is a {flag.type} flag; only boolean flags are replaced by a literal")
    if not settled or not isinstance(value, bool):
        fail(f"{key} does not serve one value to everyone everywhere; settle it first")
    patch = cleanup_patch(path, key, value)
    if not patch:
        fail(f"no evaluation of {key} under {path}")
    typer.echo(patch, nl=False)


def _patterns(path: Path | None) -> tuple[RefPattern, ...]:
    from headway.flags.refs import DEFAULT_PATTERNS, load_patterns

    if path is None:
        return DEFAULT_PATTERNS
    extra, keep_defaults = load_patterns(path)
    return (*DEFAULT_PATTERNS, *extra) if keep_defaults else extra


@app.command()
def refs(
    path: Annotated[
        Path,
        typer.Argument(exists=True, file_okay=False, resolve_path=True, help="A checkout."),
    ],
    repository: Annotated[
        str | None,
        typer.Option(help="The repository's name in Headway; the folder's name by default."),
    ] = None,
    patterns: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="A TOML file of more patterns (docs/flags.md)."
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Find the flag keys the code at PATH uses, record them with its git commit, and list
    keys Headway does not serve and flags no code reads."""
    from headway.flags.model import ConfigError
    from headway.flags.refs import scan_tree

    try:
        chosen = _patterns(patterns)
    except ConfigError as error:
        fail(f"{patterns}: " + "; ".join(str(i) for i in error.issues))
    scan = scan_tree(path, chosen)
    name = repository or path.name
    with backend() as answers:
        report = answers.flags.record_references(name, scan, actor=actor())
    if json:
        emit_json(report.model_dump(mode="json"))
    else:
        _print_report(report)


def _print_report(report: ReferenceReport) -> None:
    at = report.commit[:12] if report.commit else "no git commit"
    console.print(f"{report.repository} at {at}: {report.files} files read.")
    table = Table("flag", "in Headway", "references")
    for f in report.flags:
        table.add_row(f.flag, "yes" if f.known else "no", "\n".join(f.references))
    console.print(table)
    console.print(f"Unknown keys: {', '.join(report.unknown) or 'none'}")
    console.print(f"Unused flags: {', '.join(report.unused) or 'none'}")
    if report.skipped:
        console.print(f"Skipped (too large): {', '.join(report.skipped)}")
