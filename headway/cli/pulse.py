"""`headway pulse …`: the developer confidence pulse, its results per team and month and the
survey links people answer it through; through the backend, local or remote."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from headway.cli.backend import backend
from headway.cli.common import Format, FormatOpt, errors, fail
from headway.output import console, emit_csv, emit_json

__all__ = ["app"]

app = typer.Typer(
    help="The developer confidence pulse: three questions answered 1 to 5, per team.",
    no_args_is_help=True,
)


@app.command("results")
def results(
    team: Annotated[str | None, typer.Option("--team", help="Only this team.")] = None,
    fmt: FormatOpt = Format.table,
) -> None:
    """Per team and month: how many answered and the mean of each question, the trend over
    months. A month with fewer than three answers shows no scores, only `too few answers`."""
    if team is not None and not team.strip():
        fail("--team is empty; name a team, or leave --team out for every team")
    with backend() as answers:
        doc = answers.pulse_results(team)
    if fmt is Format.json:
        emit_json(doc)
    elif fmt is Format.csv:
        emit_csv(_flat(doc), ["team", "month", "answers", *_keys(doc), "overall", "reason"])
    elif not doc["teams"]:
        console.print("No answers yet: `headway pulse link --team TEAM` makes a survey link.")
    else:
        console.print(_table(doc))
        for q in doc["questions"]:
            console.print(f"{q['key']}: {q['text']}", highlight=False)


def _keys(doc: dict[str, Any]) -> list[str]:
    return [q["key"] for q in doc["questions"]]


def _flat(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "team": t["team"],
            "month": m["month"],
            "answers": m["answers"],
            **{k: (m["means"] or {}).get(k) for k in _keys(doc)},
            "overall": m["overall"],
            "reason": m["reason"],
        }
        for t in doc["teams"]
        for m in t["months"]
    ]


def _table(doc: dict[str, Any]) -> Table:
    table = Table(
        title="Developer confidence pulse (1 = disagree, 5 = agree)", title_justify="left"
    )
    for column in ("team", "month", "answers", *_keys(doc), "overall"):
        table.add_column(column, justify="left" if column in ("team", "month") else "right")
    for row in _flat(doc):
        if row["reason"]:
            table.add_row(
                row["team"], row["month"], "too few answers", *[""] * (len(_keys(doc)) + 1)
            )
            continue
        scores = [f"{row[k]:.2f}" for k in (*_keys(doc), "overall")]
        table.add_row(row["team"], row["month"], str(row["answers"]), *scores)
    return table


@app.command("link")
def link(
    team: Annotated[str, typer.Option("--team", help="The team whose pulse the link answers.")],
    days: Annotated[
        int, typer.Option("--days", help="How many days the link stays open (1 to 90).")
    ] = 14,
    fmt: FormatOpt = Format.table,
) -> None:
    """Make a survey link for a team's pulse: anyone holding it may answer once per browser,
    without a token, until it expires. The code is shown only now."""
    if not 1 <= days <= 90:
        fail(f"--days {days}: a link stays open from 1 to 90 days")
    with backend() as answers:
        made = answers.pulse_link(team, days)
    if fmt is Format.json:
        emit_json(made)
    elif fmt is Format.csv:
        emit_csv([made])
    else:
        print(made["url"] or made["path"])
        where = "" if made["url"] else " (on the address people reach `headway serve` at)"
        errors.print(
            f"Team {made['team']}'s pulse{where}, open until {made['expires_at']}; "
            "the code is shown only now.",
            highlight=False,
        )
