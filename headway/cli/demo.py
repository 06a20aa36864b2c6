"""`headway demo` and `headway simulate`: a simulated organisation, stored or written."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from headway.cli.common import fail, store_for, summary
from headway.output import console, summary_table

if TYPE_CHECKING:
    from headway.config import Settings
    from headway.store import Store

# Where the demo writes unless HEADWAY_DATABASE (or headway.toml) names a store: a file of its
# own, so a simulated organisation never mixes with the history a user imports.
DEMO_DATABASE = "./.headway/demo.duckdb"


def today() -> datetime:
    """The start of today (UTC): a simulated history ends here, its last day yesterday.
    Today is `config.now`'s, the day the default period ends with (HEADWAY_NOW can fix it)."""
    from headway import config

    now = config.now()
    return datetime(now.year, now.month, now.day, tzinfo=UTC)


def demo(
    seed: Annotated[int, typer.Option(help="Random seed of the simulated organisation.")] = 7,
    services: Annotated[int, typer.Option(help="How many services to simulate.")] = 8,
    days: Annotated[int, typer.Option(help="Days of history.")] = 120,
) -> None:
    """Build a simulated organisation in the local store and show its five DORA metrics.

    Prints, per team and per service, deployment frequency, change lead time, change fail
    rate, failed deployment recovery time and deployment rework rate, with performance
    levels, under the active definition.

    The history ends today (its last day is yesterday), so its last 90 days are full. It
    goes to a store of its own, ./.headway/demo.duckdb, unless HEADWAY_DATABASE (or
    headway.toml) names one; it refuses a store that holds services it did not simulate, so
    it never mixes with real history. It never writes to a server: with HEADWAY_URL set it
    refuses (exit 2). To send a simulated organisation to a server, `headway simulate --out
    FILE` and `headway import jsonl FILE`.
    """
    from headway import definitions as defs
    from headway.config import get_settings
    from headway.ingest import ingest
    from headway.metrics import dora
    from headway.simulate import Options, generate
    from headway.sources.files import parse_record

    settings = get_settings()
    if settings.url:
        fail(
            f"demo fills the local store with a simulated organisation, not the server at "
            f"{settings.url}: unset HEADWAY_URL to run it here, or send one to the server with "
            "`headway simulate --out org.jsonl` and `headway import jsonl org.jsonl`"
        )
    own_file = "database" not in settings.model_fields_set
    if own_file:
        settings = settings.model_copy(update={"database": DEMO_DATABASE})
    opts = Options(seed=seed, services=services, days=days, end=today())
    with store_for(settings) as store:
        _refuse_real_history(store, settings)
        with console.status("Simulating an organisation…"):
            result = ingest(store, settings, (parse_record(r, "simulator") for r in generate(opts)))
        # what the organisation holds, new or already stored by an earlier demo
        held = {
            t: result.new.get(t, 0) + result.seen.get(t, 0) for t in {**result.seen, **result.new}
        }
        again = "" if any(result.new.values()) else " (all stored before: nothing new)"
        console.print(
            f"Simulated {services} services over the {days} days up to today into "
            f"{settings.database}: {summary(held)}{again}.",
            highlight=False,
        )
        defn = defs.active(store)
        period = dora.default_period()
        for kind in ("team", "service"):
            sets = dora.compute_each(store, defn, kind, period)
            console.print(
                summary_table(
                    sets, f"By {kind} · last 90 days · definition {defn.label} · levels 2024"
                )
            )
        explore = f"`export HEADWAY_DATABASE={DEMO_DATABASE}`, then " if own_file else ""
        console.print(
            "Levels come from the 2024 DORA report; compare teams only within one operating "
            f"context. Next: {explore}`headway metrics --team web`, `headway list deployments "
            "--service search --format json`, `headway definitions diff dora fourkeys`.",
            highlight=False,
        )


def _refuse_real_history(store: Store, settings: Settings) -> None:
    """Exit 2 when the store holds a service the simulator does not make: real history."""
    from headway.simulate import LAYOUT
    from headway.store.access import all_service_teams

    simulated = {name for name, _, _ in LAYOUT}
    found = list(all_service_teams(store))
    # a larger organisation repeats the layout as NAME-2, NAME-3, …
    real = [n for n in found if n not in simulated and n.rsplit("-", 1)[0] not in simulated]
    if real:
        fail(
            f"{settings.database} holds services the demo did not simulate "
            f"({', '.join(real[:5])}{', …' if len(real) > 5 else ''}): the demo keeps apart "
            "from real history. Unset HEADWAY_DATABASE (the demo then writes "
            f"{DEMO_DATABASE}) or point it at another file."
        )


def simulate(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (default: stdout).")
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed: same seed and options, same output.")] = 1,
    services: Annotated[
        int, typer.Option(min=1, help="Number of services (archetypes repeat).")
    ] = 4,
    days: Annotated[int, typer.Option(min=1, help="Days of history.")] = 120,
    deploys_per_day: Annotated[
        float,
        typer.Option(
            min=0.01,
            help="Deployments per day of a healthy service; other archetypes scale from it.",
        ),
    ] = 4.0,
    end: Annotated[
        str | None,
        typer.Option(
            help="When the history ends (YYYY-MM-DD, at 00:00 UTC); default: today. A later "
            "end gives the same records, later."
        ),
    ] = None,
) -> None:
    """Write a simulated organisation as canonical JSONL (see docs/jsonl.md).

    Services follow archetypes: a regulated low-frequency service, a healthy high-frequency
    team, a team whose speed rises while failures rise, a team that slices changes into many
    tiny deployments. Import the output with `headway import jsonl`.
    """
    from headway.simulate import Options, write_jsonl

    if end is None:
        end_at = today()
    else:
        from headway.query import QueryError, parse_time

        try:
            end_at = parse_time(end, "--end").replace(tzinfo=UTC)
        except QueryError as error:
            fail(str(error))
    opts = Options(
        seed=seed, services=services, days=days, deploys_per_day=deploys_per_day, end=end_at
    )
    if out is None:
        if sys.stdout.isatty():
            fail(
                "simulate writes megabytes of JSONL; give --out FILE, or redirect it: "
                "headway simulate > org.jsonl"
            )
        write_jsonl(opts, sys.stdout.buffer)
        return
    with out.open("wb") as handle:
        lines = write_jsonl(opts, handle)
    console.print(f"Wrote {lines} records to {out}.", highlight=False)
