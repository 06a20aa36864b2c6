"""`headway flags rule …` and `headway flags segment …`: who gets what, written as targeting
rules of one environment and as reusable audiences (segments) the rules refer to."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from headway.cli.common import fail
from headway.cli.flag_common import (
    EnvOpt,
    Format,
    FormatOpt,
    WhenOpt,
    actor,
    edit_rules,
    parse_condition,
    parse_split,
    service_call,
)
from headway.output import console, emit_json

__all__ = ["rule_app", "segment_app"]

rule_app = typer.Typer(help="Targeting rules of one environment.", no_args_is_help=True)
segment_app = typer.Typer(help="Reusable audiences for rules.", no_args_is_help=True)


@rule_app.command("add")
def rule_add(
    key: str,
    when: WhenOpt,
    env: EnvOpt = "production",
    serve: Annotated[
        str | None, typer.Option(help="Variant to serve when the rule matches.")
    ] = None,
    split_weights: Annotated[
        str | None, typer.Option("--split", help="Serve a split instead, e.g. 'on=10 off=90'.")
    ] = None,
    bucket_by: Annotated[
        str, typer.Option(help="Attribute the split buckets by.")
    ] = "targetingKey",
    rule_id: Annotated[str | None, typer.Option("--id", help="A name for the rule.")] = None,
    position: Annotated[int | None, typer.Option(help="0 = first; default: last.")] = None,
) -> None:
    """Add a targeting rule (all its conditions must hold)."""
    if (serve is None) == (split_weights is None):
        fail("give exactly one of --serve VARIANT or --split 'VARIANT=PERCENT …'")
    target = {"variant": serve} if serve else parse_split(split_weights.split(), bucket_by)  # type: ignore[union-attr]
    conditions = [parse_condition(w) for w in when]

    def edit(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        new = {"id": rule_id or f"rule-{len(rules) + 1}", "conditions": conditions, "serve": target}
        return (
            [*rules[:position], new, *rules[position:]] if position is not None else [*rules, new]
        )

    flag = service_call(lambda s: edit_rules(s, key, env, "rule-add", edit))
    console.print(f"Added a rule to {key} in {env} (v{flag.version}).")


@rule_app.command("remove")
def rule_remove(key: str, rule_id: str, env: EnvOpt = "production") -> None:
    """Remove a targeting rule by id."""

    def edit(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if rule_id not in [r["id"] for r in rules]:
            from headway.flags.service import NotFound

            raise NotFound(f"no rule '{rule_id}' in {env}")
        return [r for r in rules if r["id"] != rule_id]

    flag = service_call(lambda s: edit_rules(s, key, env, "rule-remove", edit))
    console.print(f"Removed rule {rule_id} from {key} in {env} (v{flag.version}).")


# --- segments --------------------------------------------------------------------------------


@segment_app.command("put")
def segment_put(
    key: str,
    include: Annotated[str, typer.Option(help="Comma-separated keys always in.")] = "",
    exclude: Annotated[str, typer.Option(help="Comma-separated keys never in.")] = "",
    when: Annotated[
        list[str], typer.Option("--when", "-w", help="Condition; repeat for AND.")
    ] = [],  # noqa: B006
    description: str = "",
) -> None:
    """Create or replace a segment."""
    doc = {
        "key": key,
        "description": description,
        "included": [k for k in include.split(",") if k],
        "excluded": [k for k in exclude.split(",") if k],
        "conditions": [parse_condition(w) for w in when],
    }
    segment = service_call(lambda s: s.put_segment(doc, actor=actor()))
    console.print(f"Segment {segment.key} v{segment.version} saved.")


@segment_app.command("list")
def segment_list(format: FormatOpt = Format.table) -> None:
    """List segments: reusable groups of users that rules refer to by key."""
    segments = service_call(lambda s: s.list_segments())
    if format is Format.json:
        emit_json([s.model_dump(mode="json") for s in segments])
        return
    table = Table("segment", "included", "excluded", "conditions", title="Segments")
    for seg in segments:
        table.add_row(
            seg.key,
            str(len(seg.included)),
            str(len(seg.excluded)),
            " and ".join(f"{c.attribute} {c.operator} {c.value}" for c in seg.conditions),
        )
    console.print(table)


@segment_app.command("delete")
def segment_delete(key: str) -> None:
    """Delete a segment no flag uses."""
    service_call(lambda s: s.delete_segment(key, actor=actor()))
    console.print(f"Deleted segment {key}.")
