"""Commands that explain the numbers: `flow` and `signals` (notes are in `cli.notes`, the
monthly review in `cli.review`).

Each parses options, asks the backend, and formats the answer; `--format json` prints the
same document the HTTP API returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

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
)
from headway.output import console, duration, emit_csv, emit_json, percent

if TYPE_CHECKING:
    from headway.metrics.signals import AiRule

ByOpt = Annotated[Bucket | None, typer.Option("--by", help="Add a trend by week or month.")]
EachOpt = Annotated[
    Each | None,
    typer.Option("--each", help="One result per service, team or context inside the scope."),
]


def _print_notes(doc: dict[str, Any]) -> None:
    for n in doc.get("notes", []):
        console.print(
            f"[cyan]note[/cyan] ({n['scope']}, {n['period_start'][:10]} → "
            f"{n['period_end'][:10]}, {n['author']}): {n['text']}",
            highlight=False,
        )


def _warn(warnings: list[str]) -> None:
    for warning in warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)


# -- flow ------------------------------------------------------------------------------------


def flow_command(
    service: ServiceOpt = None,
    team: TeamOpt = None,
    context: ContextOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    by: ByOpt = None,
    each: EachOpt = None,
    definition: DefinitionOpt = None,
    engine: EngineOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Where lead time goes: coding, pickup, review, approval wait, merge wait, deploy wait.

    For each stage: median, p90 and its share of the end-to-end lead time; the stage that
    dominates and the longest wait; with --by, the same per week or month. Beside them, the
    work not yet with users (open requests, merged changes not deployed) by the stage it
    waits in, with its age at the end of the period, or now when the period ends later.
    """
    query = Query(service, team, context, since, until, definition)
    with backend() as answers:
        docs = answers.flow(
            query,
            by=by.value if by else None,
            each=each.value if each else None,
            engine=engine.value if engine else None,
        )
    if fmt is Format.json:
        emit_json(docs if each else docs[0])
    elif fmt is Format.csv:
        emit_csv(
            [
                {
                    "scope_kind": d["scope"]["kind"],
                    "scope": d["scope"]["name"] or "organisation",
                    "since": d["period"]["since"],
                    "until": d["period"]["until"],
                    **{k: v for k, v in s.items() if k != "notes"},
                    "waiting_as_of": d["waiting"]["as_of"],
                    "waiting": w["changes"],
                    "waiting_oldest_s": w["oldest_s"],
                    "waiting_median_s": w["median_s"],
                }
                for d in docs
                for s, w in zip(d["stages"], d["waiting"]["stages"], strict=True)
            ]
        )
    else:
        for doc in docs:
            if doc["changes"]:
                _print_flow(doc)
            else:
                _warn(doc["warnings"])
            _print_waiting(doc["waiting"])
            if doc["changes"]:
                _print_notes(doc)


def _left_out(stage: dict[str, Any]) -> str | None:
    from headway.metrics import flow

    bounds = (stage["from"], stage["to"])
    return (
        flow.negative_note(stage["negative"], stage["label"], bounds) if stage["negative"] else None
    )


def _stage_notes(stage: dict[str, Any]) -> list[str]:
    """The notes a stage row shows when it has no median (the changes a negative span left
    out are said under the table, in full)."""
    if stage["n"] and stage["median_s"] is not None:
        return []
    return [n for n in stage["notes"] if n != _left_out(stage)]


def _print_flow(doc: dict[str, Any]) -> None:
    from headway.metrics import flow

    name = doc["scope"]["name"] or ""
    e2e = doc["end_to_end"]
    table = Table(
        title=f"Flow · {doc['scope']['kind']} {name} · {doc['period']['since'][:10]} → "
        f"{doc['period']['until'][:10]} · {doc['changes']} changes · lead time median "
        f"{duration(e2e['median_s'])}, p90 {duration(e2e['p90_s'])}",
        title_justify="left",
    )
    for column in ("stage", "from → to", "changes", "median", "p90", "share of lead time", "note"):
        table.add_column(
            column, justify="right" if column in ("changes", "median", "p90") else "left"
        )
    for s in doc["stages"]:
        share = s["share"]
        bar = "█" * round((share or 0) * 30)
        mark = (
            " ◀ dominant"
            if s["stage"] == doc["dominant_stage"]
            else (" ◀ longest wait" if s["stage"] == doc["longest_wait"] else "")
        )
        table.add_row(
            s["label"],
            f"{s['from']} → {s['to']}",
            str(s["n"]),
            duration(s["median_s"]),
            duration(s["p90_s"]),
            f"{percent(share)} {bar}{mark}",
            "; ".join(_stage_notes(s)),
        )
    console.print(table)
    for s in doc["stages"]:
        if note := _left_out(s):
            console.print(f"{note}.", highlight=False)
    if (wait := doc["release_wait"]) and wait["flagged"]:
        console.print(
            f"After lead time, {wait['label']} ({wait['from']} → {wait['to']}): median "
            f"{duration(wait['median_s'])}, p90 {duration(wait['p90_s'])} over "
            f"{wait['changes']} flagged changes; {wait['unreleased']} not yet released.",
            highlight=False,
        )
    if doc["dominant_stage"]:
        dom = next(s for s in doc["stages"] if s["stage"] == doc["dominant_stage"])
        console.print(
            f"Most lead time goes to {dom['label']} ({percent(dom['share'])}).", highlight=False
        )
    if doc["trend"]:
        trend = Table(title="Trend", title_justify="left")
        for column in (
            "from",
            "changes",
            "lead time",
            *(flow.LABELS[s] for s in flow.STAGES),
            "longest wait",
        ):
            trend.add_column(column)
        for t in doc["trend"]:
            trend.add_row(
                t["since"][:10],
                str(t["changes"]),
                duration(t["lead_median_s"]),
                *(
                    f"{duration(t['stages'][s]['median_s'])} ({percent(t['stages'][s]['share'])})"
                    for s in flow.STAGES
                ),
                flow.LABELS.get(t["longest_wait"] or "", "–"),
            )
        console.print(trend)
    _warn(doc["warnings"])


def _print_waiting(waiting: dict[str, Any]) -> None:
    """Work that has not reached users: the two queues, then the stages holding them."""
    at = f"{waiting['as_of'][:16].replace('T', ' ')} UTC ({waiting['as_of_rule']})"
    queues = [waiting["open"], waiting["undeployed"]]
    if not any(q["changes"] for q in queues):
        console.print(f"Nothing waiting at {at}.", highlight=False)
        return
    parts = [
        f"{q['changes']} {what}" + (f", oldest {duration(q['oldest_s'])}" if q["changes"] else "")
        for q, what in zip(queues, ("open requests", "merged, not deployed"), strict=True)
    ]
    table = Table(title=f"Waiting at {at} · {' · '.join(parts)}", title_justify="left")
    for column in ("stage", "waiting since", "changes", "oldest", "median age", "note"):
        table.add_column(column, justify="right" if column in ("changes",) else "left")
    for s in waiting["stages"]:
        if s["changes"] or s["notes"]:
            table.add_row(
                s["label"],
                s["from"],
                str(s["changes"]),
                f"{duration(s['oldest_s'])} ({s['oldest_change']})" if s["changes"] else "–",
                duration(s["median_s"]),
                "; ".join(s["notes"]),
            )
    console.print(table)


# -- signals ---------------------------------------------------------------------------------

AiLabelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ai-label",
        help="Label marking an AI-assisted change (repeatable; replaces the defaults).",
    ),
]
AiAuthorOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--ai-author", help="Author (e.g. a bot) whose changes are AI-assisted (repeatable)."
    ),
]
AiTrailerOpt = Annotated[
    list[str] | None,
    typer.Option("--ai-trailer", help="Commit trailer text, e.g. 'Assisted-by:' (repeatable)."),
]


def ai_rule(
    labels: list[str] | None, authors: list[str] | None, trailers: list[str] | None
) -> AiRule:
    from headway.metrics.signals import AiRule

    default = AiRule()
    return AiRule(
        tuple(labels) if labels else default.labels,
        tuple(authors) if authors else default.authors,
        tuple(trailers) if trailers else default.trailers,
    )


def signals_command(
    service: ServiceOpt = None,
    team: TeamOpt = None,
    context: ContextOpt = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    by: Annotated[Bucket, typer.Option("--by", help="Bucket of the trends.")] = Bucket.week,
    each: EachOpt = None,
    definition: DefinitionOpt = None,
    ai_label: AiLabelOpt = None,
    ai_author: AiAuthorOpt = None,
    ai_trailer: AiTrailerOpt = None,
    engine: EngineOpt = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Friction signals: approval latency by gate, batch size, lead-time variance, deployment
    friction, rollback clustering, change-failure concentration, escaped defects, incident
    themes, rework, and AI-assisted change compared with the rest."""
    rule = ai_rule(ai_label, ai_author, ai_trailer)
    query = Query(service, team, context, since, until, definition)
    with backend() as answers:
        docs = answers.signals(
            query,
            by=by.value,
            each=each.value if each else None,
            ai=rule,
            engine=engine.value if engine else None,
        )
    if fmt is Format.json:
        emit_json(docs if each else docs[0])
        return
    from headway.interpret.review import signal_rows

    rows = [
        {"scope": d["scope"]["name"] or "organisation", **r} for d in docs for r in signal_rows(d)
    ]
    if fmt is Format.csv:
        emit_csv(rows)
        return
    for doc in docs:
        table = Table(
            title=f"Signals · {doc['scope']['kind']} {doc['scope']['name'] or ''} · "
            f"{doc['period']['since'][:10]} → {doc['period']['until'][:10]}",
            title_justify="left",
        )
        for column in ("signal", "value", "behind it"):
            table.add_column(column)
        for r in signal_rows(doc):
            table.add_row(r["signal"], r["value"], r["detail"])
        console.print(table)
        _print_notes(doc)
        _warn(doc["warnings"])
