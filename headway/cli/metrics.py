"""`headway metrics`: the five DORA metrics for a scope and period."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from headway.cli.backend import Query, backend
from headway.cli.common import (
    Bucket,
    ContextOpt,
    DefinitionOpt,
    Each,
    EngineOpt,
    Format,
    FormatOpt,
    ServiceOpt,
    SinceOpt,
    TeamOpt,
    UntilOpt,
    Year,
    YearOpt,
)
from headway.metrics import bands
from headway.output import (
    console,
    emit_csv,
    emit_json,
    flat,
    metric_table,
    profile_lines,
    summary_table,
)

if TYPE_CHECKING:
    from headway.metrics.dora import MetricSet


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
    engine: EngineOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """The five DORA metrics for a scope and period, with the counts behind them.

    Deployment frequency, change lead time, change fail rate, failed deployment recovery time
    and deployment rework rate; durations with median, p75, p90 and mean; performance levels
    of the chosen DORA report year. The 2025 report has no levels: `--levels 2025` shows its
    view instead, the two factors on its survey's scales and the team profiles they fit. The JSON is a stable contract
    (docs/metrics-json.md).
    """
    query = Query(service, team, context, since, until, definition)
    with backend() as answers:
        sets = answers.metrics(
            query,
            year=levels.value,
            by=by.value if by else None,
            each=each.value if each else None,
            engine=engine.value if engine else None,
        )
        label = sets[0].definition.label if sets else answers.definition(definition).label
    if each:
        _emit_sets(sets, fmt, f"By {each.value} · {label}")
        return
    result = sets[0]
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
    from headway.metrics.dora import Scope

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
        for line in profile_lines(result.to_json()["profile"]):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
