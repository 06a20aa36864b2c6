"""Commands that explain the numbers: `flow`, `signals`, `review`, `note`.

Each parses options, calls a service in `headway.metrics` or `headway.interpret`, and formats
the answer; `--format json` prints the same document the HTTP API returns.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from headway.cli import (
    Bucket,
    ContextOpt,
    DefinitionOpt,
    Each,
    Format,
    FormatOpt,
    ServiceOpt,
    SinceOpt,
    TeamOpt,
    UntilOpt,
    app,
    definition_of,
    period_of,
    scope_of,
    store_for,
)
from headway.metrics import flow
from headway.output import console, duration, emit_csv, emit_json, percent

ByOpt = Annotated[Bucket | None, typer.Option("--by", help="Add a trend by week or month.")]
EachOpt = Annotated[Each | None, typer.Option(
    "--each", help="One result per service, team or context inside the scope.")]


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


# -- flow ------------------------------------------------------------------------------------


def flow_command(
    service: ServiceOpt = None, team: TeamOpt = None, context: ContextOpt = None,
    since: SinceOpt = None, until: UntilOpt = None, by: ByOpt = None, each: EachOpt = None,
    definition: DefinitionOpt = None, fmt: FormatOpt = Format.table,
) -> None:
    """Where lead time goes: coding, pickup, review, approval wait, merge wait, deploy wait.

    For each stage: median, p90 and its share of the end-to-end lead time; the stage that
    dominates and the longest wait; with --by, the same per week or month.
    """
    with store_for() as store:
        defn = definition_of(store, definition)
        scope = scope_of(service, team, context)
        period = period_of(store, since, until)
        bucket = by.value if by else None
        if each:
            results = flow.breakdown_each(store, defn, each.value, period, scope, bucket)
        else:
            results = [flow.breakdown(store, defn, scope, period, bucket)]
    docs = [r.to_json() for r in results]
    if fmt is Format.json:
        emit_json(docs if each else docs[0])
    elif fmt is Format.csv:
        emit_csv([{"scope_kind": d["scope"]["kind"], "scope": d["scope"]["name"] or "organisation",
                   "since": d["period"]["since"], "until": d["period"]["until"],
                   **{k: v for k, v in s.items() if k != "notes"}}
                  for d in docs for s in d["stages"]])
    else:
        for doc in docs:
            if doc["changes"]:
                _print_flow(doc)
            else:
                _warn(doc["warnings"])


def _print_flow(doc: dict[str, Any]) -> None:
    name = doc["scope"]["name"] or ""
    e2e = doc["end_to_end"]
    table = Table(title=f"Flow · {doc['scope']['kind']} {name} · {doc['period']['since'][:10]} → "
                  f"{doc['period']['until'][:10]} · {doc['changes']} changes · lead time median "
                  f"{duration(e2e['median_s'])}, p90 {duration(e2e['p90_s'])}", title_justify="left")
    for column in ("stage", "from → to", "changes", "median", "p90", "share of lead time", "note"):
        table.add_column(column, justify="right" if column in ("changes", "median", "p90") else "left")
    for s in doc["stages"]:
        share = s["share"]
        bar = "█" * round((share or 0) * 30)
        mark = " ◀ dominant" if s["stage"] == doc["dominant_stage"] else (
            " ◀ longest wait" if s["stage"] == doc["longest_wait"] else "")
        table.add_row(s["label"], f"{s['from']} → {s['to']}", str(s["n"]), duration(s["median_s"]),
                      duration(s["p90_s"]), f"{percent(share)} {bar}{mark}",
                      "; ".join(s["notes"]) if s["n"] == 0 or s["median_s"] is None else "")
    console.print(table)
    if doc["dominant_stage"]:
        dom = next(s for s in doc["stages"] if s["stage"] == doc["dominant_stage"])
        console.print(f"Most lead time goes to {dom['label']} ({percent(dom['share'])}).", highlight=False)
    if doc["trend"]:
        trend = Table(title="Trend", title_justify="left")
        for column in ("from", "changes", "lead time", *(flow.LABELS[s] for s in flow.STAGES), "longest wait"):
            trend.add_column(column)
        for t in doc["trend"]:
            trend.add_row(t["since"][:10], str(t["changes"]), duration(t["lead_median_s"]),
                          *(f"{duration(t['stages'][s]['median_s'])} ({percent(t['stages'][s]['share'])})"
                            for s in flow.STAGES),
                          flow.LABELS.get(t["longest_wait"] or "", "–"))
        console.print(trend)
    _warn(doc["warnings"])


def register() -> None:
    app.command("flow")(flow_command)
