"""The `headway` command line: parse options, call a service, format the answer."""

from __future__ import annotations

import functools
import getpass
import importlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, NoReturn

import typer
import typer.core

from headway import definitions as defs
from headway import query
from headway.config import Settings, get_settings
from headway.definitions import DefinitionError
from headway.ingest import ingest
from headway.metrics import bands, dora, records
from headway.metrics.dora import MetricSet, Scope, ScopeError
from headway.names import UnknownName
from headway.output import console, emit_csv, emit_json, flat, metric_table, summary_table
from headway.query import QueryError, inputs
from headway.simulate import Options, write_jsonl
from headway.sources.files import InputError, read_csv, read_jsonl
from headway.store import Store, StoreError, open_store


class _LazyGroup(typer.core.TyperGroup):
    """Command groups whose modules load only when used, so `headway metrics` does not pay
    for importing the statistics, the flag engine and the web server."""

    lazy: ClassVar[dict[str, tuple[str, str]]] = {
        "rollout": ("headway.rollouts.cli", "app"),
        "flags": ("headway.flags.cli", "app"),
        "tokens": ("headway.flags.cli", "tokens_app"),
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
import_app = typer.Typer(
    help="Import delivery history (files, git, CDEvents …).", no_args_is_help=True
)
definitions_app = typer.Typer(
    help="Show, change and compare metric definitions.", no_args_is_help=True
)
list_app = typer.Typer(
    help="List the records behind the numbers, with what was derived for each.",
    no_args_is_help=True,
)
app.add_typer(import_app, name="import")
app.add_typer(definitions_app, name="definitions")
app.add_typer(list_app, name="list")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class Bucket(StrEnum):
    week = "week"
    month = "month"


class Each(StrEnum):
    service = "service"
    team = "team"
    context = "context"


class Year(StrEnum):
    y2023 = "2023"
    y2024 = "2024"
    y2025 = "2025"


def fail(message: str, code: int = 2) -> NoReturn:
    console.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def store_for(settings: Settings | None = None) -> Iterator[Store]:
    """Open the store; turn every user-facing error into one line and exit code 2."""
    settings = settings or get_settings()
    try:
        store = open_store(settings)
    except StoreError as error:
        fail(str(error), 1)
    try:
        yield store
    except UnknownName as error:  # the local user may see every name
        fail(error.for_local_user())
    except (ScopeError, InputError, DefinitionError, QueryError) as error:
        fail(str(error))
    except StoreError as error:
        fail(str(error), 1)
    finally:
        store.close()


# -- shared options --------------------------------------------------------------------------

ServiceOpt = Annotated[str | None, typer.Option("--service", help="Only this service.")]
TeamOpt = Annotated[str | None, typer.Option("--team", help="Only this team's services.")]
ContextOpt = Annotated[
    str | None,
    typer.Option("--context", help="Only services of this operating context (e.g. regulated)."),
]
SinceOpt = Annotated[
    str | None,
    typer.Option(
        "--since", help="Start date (YYYY-MM-DD or ISO time, UTC). Default: 90 days before --until."
    ),
]
UntilOpt = Annotated[
    str | None,
    typer.Option(
        "--until",
        help="End date, inclusive when a date (YYYY-MM-DD). Default: the day of the "
        "latest deployment.",
    ),
]
DefinitionOpt = Annotated[
    str | None,
    typer.Option(
        "--definition",
        "-d",
        help="Definition to use (dora, fourkeys, devlake, NAME@VERSION or a "
        "TOML file). Default: the active one.",
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
YearOpt = Annotated[Year, typer.Option("--levels", help="DORA report year for performance levels.")]


def scope_of(service: str | None, team: str | None, context: str | None) -> Scope:
    return query.scope_of(service, team, context)


def parse_time(text: str, option: str, *, end: bool = False) -> datetime:
    return query.parse_time(text, option, end=end)


period_of = query.period_of
# The CLI's user may name a TOML file as a definition; an HTTP request may not.
definition_of = functools.partial(query.definition_of, files=True)
query_inputs = functools.partial(inputs, files=True)


# -- demo and simulate -----------------------------------------------------------------------


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Random seed of the simulated organisation.")] = 7,
    services: Annotated[int, typer.Option(help="How many services to simulate.")] = 8,
    days: Annotated[int, typer.Option(help="Days of history.")] = 120,
) -> None:
    """Build a simulated organisation in the store and show its five DORA metrics.

    Prints, per team and per service, deployment frequency, change lead time, change fail
    rate, failed deployment recovery time and deployment rework rate, with performance
    levels, under the active definition.
    """
    settings = get_settings()
    opts = Options(seed=seed, services=services, days=days)
    from headway.simulate import generate
    from headway.sources.files import parse_record

    with store_for(settings) as store:
        with console.status("Simulating an organisation…"):
            result = ingest(store, settings, (parse_record(r, "simulator") for r in generate(opts)))
        console.print(
            f"Simulated {services} services over {days} days into {settings.database}: "
            f"{_summary(result.new)}."
        )
        defn = defs.active(store)
        period = dora.default_period(store)
        for kind in ("team", "service"):
            sets = dora.compute_each(store, defn, kind, period)
            console.print(
                summary_table(
                    sets, f"By {kind} · last 90 days · definition {defn.label} · levels 2024"
                )
            )
        console.print(
            "Levels come from the 2024 DORA report; compare teams only within one operating "
            "context. Next: `headway metrics --team web`, `headway list deployments "
            "--service search --format json`, `headway definitions diff dora fourkeys`."
        )


def _summary(counts: dict[str, int]) -> str:
    return (
        ", ".join(f"{n} {table.replace('_', ' ')}" for table, n in counts.items() if n)
        or "nothing new"
    )


@app.command()
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
    end: Annotated[str, typer.Option(help="Last day of the history (YYYY-MM-DD).")] = "2026-11-01",
) -> None:
    """Write a simulated organisation as canonical JSONL (see docs/jsonl.md).

    Services follow archetypes: a regulated low-frequency service, a healthy high-frequency
    team, a team whose speed rises while failures rise, a team that slices changes into many
    tiny deployments. Import the output with `headway import jsonl`.
    """
    try:
        end_at = parse_time(end, "--end").replace(tzinfo=UTC)
    except QueryError as error:
        fail(str(error))
    opts = Options(
        seed=seed, services=services, days=days, deploys_per_day=deploys_per_day, end=end_at
    )
    if out is None:
        write_jsonl(opts, sys.stdout.buffer)
        return
    with out.open("wb") as handle:
        lines = write_jsonl(opts, handle)
    console.print(f"Wrote {lines} records to {out}.", highlight=False)


# -- import ----------------------------------------------------------------------------------


def _remote(path: str, at_most: int | None = None, **params: Any) -> Any:
    """GET from the server HEADWAY_URL names (every page of a list, or its first `at_most`
    rows); its errors become one line, like local ones."""
    from headway import remote

    definition = params.get("definition")
    if isinstance(definition, str) and defs.is_path(definition):
        fail(
            f"--definition {definition}: a definition file is read only with a local store; "
            "against a server, store it first (`headway definitions set FILE --reason ...` "
            "on the server's store) and name it"
        )
    try:
        return remote.get_json(get_settings().url or "", path, params, at_most)
    except StoreError as error:
        fail(str(error))


def _run_import(records: Callable[[], Iterator[Any]], label: str) -> None:
    settings = get_settings()
    if settings.url:
        from headway import remote

        try:
            with console.status(f"Importing {label} through {settings.url}…"):
                sent = remote.import_records(settings.url, list(records()))
        except (InputError, StoreError) as error:
            fail(str(error))
        _report_import(label, sent["new"], sent["seen"])
        return
    with store_for(settings) as store, console.status(f"Importing {label}…"):
        result = ingest(store, settings, records())
    _report_import(label, result.new, result.seen)


def _report_import(label: str, new: dict[str, int], seen_by_table: dict[str, int]) -> None:
    seen = sum(seen_by_table.values())
    console.print(
        f"Imported {label}: {_summary(new)}"
        + (f"; {seen} already present, unchanged or updated" if seen else "")
        + ".",
        highlight=False,
    )


@import_app.command("jsonl")
def import_jsonl(
    files: Annotated[list[Path], typer.Argument(help="JSONL files in Headway's canonical format.")],
) -> None:
    """Import canonical JSONL (what `headway simulate` writes). All or nothing; safe to re-run."""

    def records() -> Iterator[Any]:
        for path in files:
            yield from read_jsonl(path)

    _run_import(records, ", ".join(str(f) for f in files))


@import_app.command("csv")
def import_csv(
    file: Annotated[Path, typer.Argument(help="CSV file with a header row of field names.")],
    type_: Annotated[
        str,
        typer.Option(
            "--type",
            help="Record type of every row: service, change, "
            "approval, pipeline_run, deployment, incident, defect.",
        ),
    ],
) -> None:
    """Import one record type from CSV. Empty cells are missing values; lists use `;`."""
    _run_import(lambda: read_csv(file, type_), str(file))


# -- metrics ---------------------------------------------------------------------------------


@app.command()
def metrics(
    service: ServiceOpt = None,
    team: TeamOpt = None,
    context: ContextOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    by: Annotated[Bucket | None, typer.Option("--by", help="Add a trend by week or month.")] = None,
    each: Annotated[
        Each | None,
        typer.Option("--each", help="One result per service, team or context inside the scope."),
    ] = None,
    definition: DefinitionOpt = None,
    levels: YearOpt = Year.y2024,
    fmt: FormatOpt = Format.table,
) -> None:
    """The five DORA metrics for a scope and period, with the counts behind them.

    Deployment frequency, change lead time, change fail rate, failed deployment recovery time
    and deployment rework rate; durations with median, p75, p90 and mean; performance levels
    of the chosen DORA report year (the 2025 report has none). The JSON is a stable contract
    (docs/metrics-json.md).
    """
    if get_settings().url:
        from headway import remote

        data = _remote(
            "/api/metrics",
            service=service,
            team=team,
            context=context,
            since=since,
            until=until,
            by=by.value if by else None,
            each=each.value if each else None,
            definition=definition,
            levels=levels.value,
        )
        if each:
            sets = [remote.metric_set(d) for d in data]
            label = sets[0].definition.label if sets else definition or "active definition"
            _emit_sets(sets, fmt, f"By {each.value} · {label}")
            return
        result = remote.metric_set(data)
    else:
        with store_for() as store:
            defn, scope, period = query_inputs(
                store, service, team, context, since, until, definition
            )
            year = levels.value
            if each:
                sets = dora.compute_each(store, defn, each.value, period, year=year, within=scope)
                _emit_sets(sets, fmt, f"By {each.value} · {defn.label}")
                return
            result = dora.compute(
                store, defn, scope, period, year=year, by=by.value if by else None
            )
    if fmt is Format.json:
        emit_json(result.to_json())
    elif fmt is Format.csv:
        emit_csv([flat(result), *(flat(t) for t in result.trend)])
    else:
        console.print(metric_table(result))
        if result.trend:
            console.print(summary_table(_trend_rows(result), f"Trend by {by.value if by else ''}"))
        _notes(result)


def _trend_rows(result: MetricSet) -> list[MetricSet]:
    for t in result.trend:
        t.scope = Scope("period", t.to_json()["period"]["since"][:10])
    return result.trend


def _emit_sets(sets: list[MetricSet], fmt: Format, title: str) -> None:
    if fmt is Format.json:
        emit_json([s.to_json() for s in sets])
    elif fmt is Format.csv:
        emit_csv([flat(s) for s in sets])
    else:
        console.print(summary_table(sets, title))


def _notes(result: MetricSet) -> None:
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    if result.year == "2025":
        console.print(bands.NO_LEVELS_NOTE)


# -- list ------------------------------------------------------------------------------------


def _list(
    kind: str,
    service: str | None,
    team: str | None,
    context: str | None,
    since: str | None,
    until: str | None,
    definition: str | None,
    fmt: Format,
    limit: int | None,
) -> None:
    if get_settings().url:
        rows = _remote(
            f"/api/{kind}",
            service=service,
            team=team,
            context=context,
            since=since,
            until=until,
            definition=definition,
            at_most=limit,
        )
    else:
        with store_for() as store:
            defn, scope, period = query_inputs(
                store, service, team, context, since, until, definition
            )
            if kind == "deployments":
                rows = records.deployments(store, defn, scope, period, limit)
            elif kind == "changes":
                rows = records.changes(store, defn, scope, period, limit)
            else:
                rows = records.incidents(store, scope, period, limit)
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        emit_csv(rows)
    else:
        from rich.table import Table

        columns = {
            "deployments": [
                "id",
                "service",
                "kind",
                "finished_at",
                "failed",
                "failure_reason",
                "recovered_at",
                "rework",
            ],
            "changes": ["id", "service", "merged_at", "deployed_at", "lead_time_s", "is_revert"],
            "incidents": [
                "id",
                "service",
                "opened_at",
                "resolved_at",
                "deployment_id",
                "attribution",
            ],
        }[kind]
        table = Table(title=f"{len(rows)} {kind}", title_justify="left")
        for c in columns:
            table.add_column(c)
        for row in rows:
            table.add_row(*("–" if row[c] is None else str(row[c]) for c in columns))
        console.print(table)


LimitOpt = Annotated[int | None, typer.Option("--limit", min=1, help="At most this many rows.")]


_LISTS = {
    "deployments": "Deployments counted by the definition: failed or not, why (rule and evidence), "
    "when recovered, the changes each shipped first, and whether it was rework.",
    "changes": "Changes merged in the period: the deployment that shipped each, when, and its "
    "lead time.",
    "incidents": "Incidents opened in the period: the deployment each is attributed to, and the "
    "rule.",
}


def _list_command(kind: str) -> None:
    """`headway list KIND`: the three listings take the same options."""

    def command(
        service: ServiceOpt = None,
        team: TeamOpt = None,
        context: ContextOpt = None,
        since: SinceOpt = None,
        until: UntilOpt = None,
        definition: DefinitionOpt = None,
        fmt: FormatOpt = Format.table,
        limit: LimitOpt = None,
    ) -> None:
        _list(kind, service, team, context, since, until, definition, fmt, limit)

    list_app.command(kind, help=_LISTS[kind])(command)


for _kind in _LISTS:
    _list_command(_kind)


# -- definitions -----------------------------------------------------------------------------


@definitions_app.command("show")
def definitions_show(
    name: Annotated[
        str | None, typer.Argument(help="Definition (default: the active one).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", "-f", help="toml or json")] = "toml",
) -> None:
    """Show a definition: what counts as a deployment, failure and recovery, and how durations
    are summarised."""
    with store_for() as store:
        defn = definition_of(store, name)
    if fmt == "json":
        emit_json(defn.model_dump(mode="json"))
    elif fmt == "toml":
        sys.stdout.write(defs.to_toml(defn))
    else:
        fail(f"--format must be toml or json, not {fmt!r}")


@definitions_app.command("set")
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
        str | None, typer.Option("--author", help="Who changes it (default: you).")
    ] = None,
) -> None:
    """Make a definition active. Recorded with author, time and reason."""
    with store_for() as store:
        defn = defs.resolve_local(store, ref)
        before = defs.active(store)
        saved = defs.set_active(store, defn, author=author or getpass.getuser(), reason=reason)
    console.print(f"Active definition: {saved.label} (was {before.label}).", highlight=False)
    if "failure" in {c[0].split(".")[0] for c in defs.changed_fields(before, saved)}:
        console.print(
            "[yellow]note:[/yellow] the failure rules changed; run `headway definitions "
            f"diff {before.label} {saved.label}` to see how change fail rate moves."
        )


@definitions_app.command("history")
def definitions_history(fmt: FormatOpt = Format.table) -> None:
    """Every definition made active: version, author, time and reason."""
    with store_for() as store:
        rows = defs.history(store)
    for row in rows:
        row["created_at"] = row["created_at"].isoformat() + "Z"
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        emit_csv(rows)
    elif not rows:
        console.print(f"No definition has been set; the default {defs.DEFAULT} preset is active.")
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


@definitions_app.command("diff")
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
    from headway.metrics.compare import diff

    with store_for() as store:
        da, db = defs.resolve_local(store, a), defs.resolve_local(store, b)
        scope = scope_of(service, team, context)
        period = period_of(store, since, until)
        result = diff(store, da, db, scope, period, levels.value)
    if fmt is Format.json:
        emit_json(result)
        return
    if fmt is Format.csv:
        emit_csv(result["numbers"])
        return
    from rich.table import Table

    rules = Table(title=f"Rules that differ: {da.label} → {db.label}", title_justify="left")
    for c in ("rule", da.label, db.label):
        rules.add_column(c)
    for change in result["rules"]:
        rules.add_row(change["rule"], str(change["a"]), str(change["b"]))
    console.print(rules)
    numbers = Table(
        title=f"{scope.describe()} · {result['period']['since'][:10]} → "
        f"{result['period']['until'][:10]}",
        title_justify="left",
    )
    for c in ("number", da.label, db.label, "change"):
        numbers.add_column(c, justify="left" if c == "number" else "right")
    for n in result["numbers"]:
        numbers.add_row(n["number"], _fmt(n["a"]), _fmt(n["b"]), _fmt(n["delta"]))
    console.print(numbers)
    moves = Table(
        title=f"What each rule of {db.label} moves on its own, from {da.label}",
        title_justify="left",
    )
    for c in ("rule", "number", da.label, "with the rule", "change"):
        moves.add_column(c, justify="left" if c in ("rule", "number") else "right")
    for rule in result["by_rule"]:
        for move in rule["moves"] or [{"number": "(no number moves)"}]:
            moves.add_row(
                rule["rule"],
                move["number"],
                _fmt(move.get("a")),
                _fmt(move.get("with_rule")),
                _fmt(move.get("delta")),
            )
    console.print(moves)
    for warning in result["warnings"]:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# -- sub-commands owned by other modules -----------------------------------------------------


def _register() -> None:
    """Command groups that live next to their feature. One line each."""
    __import__("headway.serve", fromlist=["register"]).register(app)  # serve, sources, reprocess
    __import__("headway.sources.git_cli", fromlist=["register"]).register(
        import_app
    )  # git, cdevents
    __import__(
        "headway.interpret.cli", fromlist=["register"]
    ).register()  # flow signals review note
    # rollout, flags and tokens load lazily: see _LazyGroup.lazy


_register()


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
