"""`headway review`: the monthly review, written as HTML and Markdown or printed as JSON; the
document comes from the backend (the store, or `GET /api/review` on a server) and the files
are written here, where the user asked for them."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from headway.cli.backend import Query, backend
from headway.cli.common import (
    ContextOpt,
    DefinitionOpt,
    EngineOpt,
    ServiceOpt,
    TeamOpt,
    Year,
    YearOpt,
    fail,
)
from headway.output import console, emit_json

__all__ = ["review_command"]


class ReviewFormat(StrEnum):
    """What `review` can write: the files (HTML and Markdown), or the document as JSON."""

    table = "table"
    json = "json"


def review_command(
    period: Annotated[
        str | None,
        typer.Option("--period", help="The month to review, YYYY-MM; default: last month."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Directory for review-YYYY-MM.html and .md (not needed with --format json).",
        ),
    ] = None,
    service: ServiceOpt = None,
    team: TeamOpt = None,
    context: ContextOpt = None,
    definition: DefinitionOpt = None,
    levels: YearOpt = Year.y2024,
    engine: EngineOpt = None,
    fmt: Annotated[
        ReviewFormat,
        typer.Option(
            "--format", "-f", help="table writes the files; json prints the review document."
        ),
    ] = ReviewFormat.table,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a review written into --out before.")
    ] = False,
) -> None:
    """Write the monthly review: the five metrics with trend, level and context, the delivery
    flow picture, trend charts, findings with their evidence, notes, and the operational
    review questions pre-filled with the evidence that answers them. The terminal lists each
    finding with its scope, confidence and remedy."""
    if fmt is not ReviewFormat.json and out is None:
        fail("--out DIR is required to write the review (or use --format json)")
    if fmt is not ReviewFormat.json and out is not None and out.exists() and not out.is_dir():
        fail(
            f"--out {out} is a file; give a directory: the review writes review-YYYY-MM.html, "
            ".md and -flow.svg into it"
        )
    if period is None:
        from headway import config

        # the month before today's, today being the default period's (`config.now`)
        first = config.now().date().replace(day=1) - timedelta(days=1)
        period = f"{first:%Y-%m}"
    query = Query(service, team, context, definition=definition)
    with backend() as answers:
        doc = answers.review(
            period, query, year=levels.value, engine=engine.value if engine else None
        )
    if fmt is ReviewFormat.json:
        emit_json(doc)
        return
    assert out is not None
    from headway.interpret import review

    try:
        paths = review.write(doc, out, replace=force)
    except review.ReviewExists as error:
        fail(f"{error} already exist(s); add --force to replace them, or choose another --out")
    except OSError as error:  # a folder that cannot be made or written
        fail(f"cannot write the review into {out}: {error.strerror or error}")
    found = doc["findings"]["findings"]
    console.print(
        f"Wrote {', '.join(str(p) for p in paths)}: {len(found)} finding(s)"
        + (f" ({', '.join(sorted({f['title'] for f in found}))})" if found else "")
        + ".",
        highlight=False,
    )
    if found:
        console.print(_findings_table(found))


def _findings_table(found: list[dict[str, Any]]) -> Table:
    """Each finding with what to do about it, as the review and the JSON name it."""
    table = Table(title="Findings and their remedies", title_justify="left", expand=True)
    for column in ("finding", "scope", "confidence"):
        table.add_column(
            column, no_wrap=column != "finding", ratio=2 if column == "finding" else None
        )
    table.add_column("remedy", ratio=4)
    for f in found:
        scope = f["scope"]
        where = f"{scope['kind']} {scope['name']}" if scope["name"] else scope["kind"]
        title = f["title"] + (" (positive)" if f.get("kind") == "positive" else "")
        table.add_row(title, where, f["confidence"], f["remedy"])
    return table
