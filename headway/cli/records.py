"""`headway list …`: the records behind the numbers, with what was derived for each."""

from __future__ import annotations

from typing import Annotated

import typer

from headway.cli.backend import Query, backend
from headway.cli.common import (
    ContextOpt,
    DefinitionOpt,
    EngineOpt,
    Format,
    FormatOpt,
    ServiceOpt,
    SinceOpt,
    TeamOpt,
    UntilOpt,
)
from headway.output import console, emit_csv, emit_json

app = typer.Typer(
    help="List the records behind the numbers, with what was derived for each.",
    no_args_is_help=True,
)


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
    engine: str | None = None,
) -> None:
    query = Query(service, team, context, since, until, definition)
    with backend() as answers:
        rows = answers.records(kind, query, limit, engine=engine)
    if fmt is Format.json:
        emit_json(rows)
    elif fmt is Format.csv:
        from headway.metrics.results import Change, Deployment, Incident, Result

        # the columns of each list, for the header of an empty CSV
        models: dict[str, type[Result]] = {
            "deployments": Deployment,
            "changes": Change,
            "incidents": Incident,
        }
        emit_csv(rows, models[kind].model_fields)
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
        engine: EngineOpt = None,
    ) -> None:
        chosen = engine.value if engine else None
        _list(kind, service, team, context, since, until, definition, fmt, limit, chosen)

    app.command(kind, help=_LISTS[kind])(command)


for _kind in _LISTS:
    _list_command(_kind)
