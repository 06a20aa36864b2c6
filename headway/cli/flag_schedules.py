"""`headway flags schedule`, `schedules` and `unschedule`: changes to a flag made at a given
time by the server's runner (`headway.flags.schedules`), through the backend like every flag
command."""

from __future__ import annotations

from datetime import UTC
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from headway.cli.backend import backend
from headway.cli.common import actor, fail
from headway.cli.flag_common import Format, FormatOpt
from headway.output import console, emit_json

if TYPE_CHECKING:
    from headway.flags.results import Schedule

__all__ = ["schedule", "schedules", "unschedule"]

RUNS = (
    "a running `headway serve` applies it then (every HEADWAY_SCHEDULE_INTERVAL seconds), "
    "or the first one to start after it."
)


def _utc(found: Schedule) -> str:
    return f"{found.at.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _when(found: Schedule) -> str:
    """The time as it was given and, when that is not UTC, in UTC too."""
    if found.zone == "UTC":
        return found.local
    return f"{found.local} ({_utc(found)})"


def schedule(
    key: Annotated[str, typer.Argument(help="Flag key.")],
    env: Annotated[str, typer.Option("--env", "-e", help="Environment.")],
    at: Annotated[
        str,
        typer.Option(
            help="When: a date and time in --tz (2026-12-08 09:00), or an instant with its "
            "offset (2026-12-08T09:00+01:00, or Z for UTC)."
        ),
    ],
    tz: Annotated[
        str | None, typer.Option(help="IANA time zone of --at, e.g. Europe/Paris or UTC.")
    ] = None,
    on: Annotated[bool, typer.Option("--on", help="Switch the flag on.")] = False,
    off: Annotated[bool, typer.Option("--off", help="Switch the flag off.")] = False,
    kill: Annotated[
        bool, typer.Option("--kill", help="Kill switch: off, recorded as a kill.")
    ] = False,
    serve: Annotated[
        str | None,
        typer.Option(help="Serve this variant by default (to everyone no rule targets)."),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Kept in the flag's history.")] = None,
) -> None:
    """Schedule a change to a flag in one environment, made once at the time given."""
    chosen = [name for name, given in (("on", on), ("off", off), ("kill", kill)) if given]
    if serve is not None:
        chosen.append("serve")
    if len(chosen) != 1:
        fail(
            "give one change: --on, --off, --kill or --serve VARIANT"
            + (f" (not {' and '.join('--' + c for c in chosen)})" if chosen else "")
        )
    with backend() as answers:
        made = answers.schedules.create(
            key,
            environment=env,
            action=chosen[0],
            variant=serve,
            at=at,
            tz=tz,
            reason=reason,
            actor=actor(),
        )
    console.print(
        f"Scheduled {made.id}: {made.change} {key} in {env} at {_when(made)}; {RUNS}",
        highlight=False,
        soft_wrap=True,
    )


def schedules(
    key: Annotated[str | None, typer.Argument(help="Only this flag's.")] = None,
    every: Annotated[
        bool, typer.Option("--all", help="Also those applied, failed or cancelled.")
    ] = False,
    format: FormatOpt = Format.table,
) -> None:
    """Scheduled changes, the earliest first: those still to run, or every one with --all."""
    with backend() as answers:
        found = answers.schedules.list_schedules(finished=every, flag=key)
    if format is Format.json:
        emit_json([s.model_dump(mode="json") for s in found])
        return
    if not found:
        console.print(
            "No scheduled change" + ("" if every else " waiting (--all shows past ones)") + "."
        )
        return
    table = Table("id", "flag", "env", "change", "when", "state", "by", "outcome")
    for s in found:
        table.add_row(
            s.id, s.flag, s.environment, s.change, _when(s), s.state, s.created_by, s.outcome
        )
    table.title = "Scheduled changes" + (" (all)" if every else "")
    console.print(table)


def unschedule(
    schedule_id: Annotated[str, typer.Argument(metavar="ID", help="The schedule's id.")],
) -> None:
    """Cancel a scheduled change that has not run yet."""
    with backend() as answers:
        done = answers.schedules.cancel(schedule_id, actor=actor())
    console.print(
        f"Cancelled {done.id}: {done.change} {done.flag} in {done.environment} at {_when(done)}.",
        highlight=False,
        soft_wrap=True,
    )
