"""`headway audit verify|export`: check the audit chain, and write every change as JSONL."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer

from headway.audited import ENTITIES
from headway.cli.backend import backend
from headway.cli.common import fail
from headway.output import console, emit_json

app = typer.Typer(
    help="The audit log: every change to flags, segments, tokens, environments and rollouts, "
    "as a hash chain.",
    no_args_is_help=True,
)


@app.command("verify")
def verify(
    fmt: Annotated[str, typer.Option("--format", "-f", help="text or json")] = "text",
) -> None:
    """Recompute the chain; name the first entry that was changed, removed or reordered.

    Exits 0 when the chain is intact and 1 when it is not. Keep the head hash it prints
    somewhere else (a ticket, a commit): a store rewritten wholesale is caught by comparing it.
    """
    if fmt not in ("text", "json"):
        fail(f"--format must be text or json, not {fmt!r}")
    with backend() as answers:
        verdict = answers.audit_verify()
    if fmt == "json":
        emit_json(verdict)
    elif verdict["intact"]:
        sealed = f"; {verdict['unsealed']} older entries not yet sealed" * bool(verdict["unsealed"])
        console.print(
            f"Audit chain intact: {verdict['entries']} entries{sealed}; "
            f"head {verdict['head'] or '(empty)'}",
            highlight=False,
        )
    if not verdict["intact"]:
        where = f"entry {verdict['broken_at']}" + (
            f" (id {verdict['broken_id']})" if verdict["broken_id"] else ""
        )
        before = verdict["entries"]
        intact = f"the {before} entries before it are intact" if before else "it is the first"
        fail(f"audit chain broken at {where}: {verdict['problem']}; {intact}", 1)


@app.command("export")
def export(
    out: Annotated[
        Path | None, typer.Option(help="Write to this file instead of standard output.")
    ] = None,
    entity: Annotated[
        str | None,
        typer.Option(help=f"Only changes to this kind of entity: {', '.join(ENTITIES)}."),
    ] = None,
) -> None:
    """Write every change as JSON Lines, in chain order, with its hashes."""
    if out and not out.parent.is_dir():
        fail(f"--out {out}: folder {out.parent} does not exist; create it first")
    if entity is not None and entity not in ENTITIES:
        fail(
            f"--entity {entity!r} is not a kind the audit records; use one of {', '.join(ENTITIES)}"
        )
    with backend() as answers:
        entries = answers.audit_entries(entity)
        target = out.open("wb") if out else sys.stdout.buffer
        try:
            for entry in entries:
                target.write(orjson.dumps(entry) + b"\n")
        finally:
            if out:
                target.close()
            else:
                target.flush()
