"""`headway flags …`: thin commands over the flag service (the backend's, local or remote).

This module holds the commands on one flag (create, list, show, set, split, kill, archive,
history, eval) and an environment's browser origins, and assembles the group: targeting rules
and segments are in `cli.flag_targeting`, flagd files in `cli.flag_files`, changes made at a
given time in `cli.flag_schedules`, what they share (parsing a condition or a split, printing
a flag) in `cli.flag_common`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from headway.cli import flag_files, flag_schedules
from headway.cli.backend import Flags
from headway.cli.common import fail
from headway.cli.flag_common import (
    EnvOpt,
    Format,
    FormatOpt,
    actor,
    describe_serve,
    edit_rules,
    flag_table,
    parse_split,
    scalar,
    serve_text,
    service_call,
    show_flag,
)
from headway.cli.flag_targeting import rule_app, segment_app
from headway.output import console, emit_json

if TYPE_CHECKING:
    from headway.flags.model import Flag

__all__ = ["app"]

SERVICE_HELP = (
    "The service whose code reads the flag: its rollouts' releases and rollbacks count for it."
)

app = typer.Typer(
    help="Feature flags: create, target, split, kill, and see their history.", no_args_is_help=True
)
app.add_typer(rule_app, name="rule")
app.add_typer(segment_app, name="segment")


@app.command()
def create(
    key: Annotated[str, typer.Argument(help="Flag key, e.g. new-checkout.")],
    owner: Annotated[str, typer.Option(help="Team or person responsible.")] = "",
    service: Annotated[str, typer.Option(help=SERVICE_HELP)] = "",
    type: Annotated[
        str, typer.Option("--type", "-t", help="boolean, string, number or json.")
    ] = "boolean",
    variant: Annotated[
        list[str],
        typer.Option(
            "--variant", "-v", help="KEY=VALUE (JSON value); boolean flags default to on/off."
        ),
    ] = [],  # noqa: B006
    description: Annotated[str, typer.Option(help="What the flag is for.")] = "",
    tag: Annotated[list[str], typer.Option("--tag", help="Repeatable.")] = [],  # noqa: B006
    kind: Annotated[
        str,
        typer.Option(
            help="release, experiment, operational (short-lived: 40, 40 and 7 days), "
            "kill-switch or permission (long-lived)."
        ),
    ] = "release",
    remove_by: Annotated[
        str | None,
        typer.Option(help="Expected removal date (YYYY-MM-DD); default: the kind's lifetime."),
    ] = None,
    permanent: Annotated[
        bool, typer.Option(help="A long-lived flag (no removal date); same as --kind permanent.")
    ] = False,
    client_side: Annotated[
        bool, typer.Option(help="Client (OFREP) keys may evaluate it: browsers see its value.")
    ] = False,
    file: Annotated[Path | None, typer.Option(help="A whole flag document (JSON).")] = None,
) -> None:
    """Create a flag, switched off in every environment."""
    if file is not None:
        document = json.loads(file.read_text())
        document.setdefault("key", key)
    else:
        if variant:
            variants = []
            for v in variant:
                name, sep, value = v.partition("=")
                if not sep:
                    fail(f"--variant {v!r}: write KEY=VALUE, e.g. blue='\"#00f\"' or limit=10")
                variants.append(
                    {"key": name, "value": scalar(value) if type != "string" else value}
                )
        elif type == "boolean":
            variants = [{"key": "on", "value": True}, {"key": "off", "value": False}]
        else:
            fail(f"a {type} flag needs --variant KEY=VALUE (at least one)")
        lifecycle: dict[str, Any] = {"kind": "permanent" if permanent else kind}
        if remove_by is not None:
            lifecycle["expected_removal"] = remove_by
        document = {
            "key": key,
            "type": type,
            "owner": owner or actor(),
            "variants": variants,
            "description": description,
            "tags": tag,
            "lifecycle": lifecycle,
        }
    if client_side:
        document["client_side"] = True
    if service:
        document["service"] = service
    flag = service_call(lambda s: s.create_flag(document, actor=actor()))
    life = flag.lifecycle
    until = ""
    if life.expected_removal:
        days = (life.expected_removal - datetime.now(UTC).date()).days
        until = f", expected removal in {days} days ({life.expected_removal})"
    of = f" of service {flag.service}" if flag.service else ""
    console.print(
        f"Created {life.kind} flag {flag.key}{of}{until} (off in {', '.join(flag.environments)})."
    )


@app.command("list")
def list_flags(
    tag: Annotated[str | None, typer.Option(help="Only flags with this tag.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's flags.")] = None,
    archived: Annotated[bool, typer.Option(help="Include archived flags.")] = False,
    stale: Annotated[
        bool, typer.Option(help="Only temporary flags past their removal date.")
    ] = False,
    format: FormatOpt = Format.table,
) -> None:
    """List flags with their state in every environment."""

    def action(s: Flags) -> list[Flag]:
        if stale:
            return s.stale_flags()
        return s.list_flags(include_archived=archived, tag=tag, owner=owner)

    flags = service_call(action)
    if format is Format.json:
        emit_json([f.model_dump(mode="json") for f in flags])
    else:
        console.print(flag_table(flags))


@app.command()
def show(key: str, format: FormatOpt = Format.table) -> None:
    """Show one flag: variants, and per environment its rules and default."""
    flag = service_call(lambda s: s.require_flag(key))
    if format is Format.json:
        emit_json(flag.model_dump(mode="json"))
    else:
        show_flag(flag)


@app.command("set")
def set_flag(
    key: str,
    env: EnvOpt = "production",
    on: Annotated[bool | None, typer.Option("--on/--off", help="Switch on or off.")] = None,
    default: Annotated[str | None, typer.Option(help="Serve this variant by default.")] = None,
    off_variant: Annotated[str | None, typer.Option(help="Variant served while off.")] = None,
    client_side: Annotated[
        bool | None,
        typer.Option(
            "--client-side/--server-only",
            help="Whether client (OFREP) keys may evaluate it, in every environment.",
        ),
    ] = None,
    service: Annotated[str | None, typer.Option(help=SERVICE_HELP)] = None,
) -> None:
    """Switch a flag on or off in an environment, or change what it serves; or, in every
    environment, who may evaluate it and which service it belongs to."""
    fields: dict[str, Any] = {}
    if on is not None:
        fields["enabled"] = on
    if default is not None:
        fields["default"] = {"variant": default}
    if off_variant is not None:
        fields["off_variant"] = off_variant
    if not fields and client_side is None and service is None:
        fail(
            "nothing to change: give --on/--off, --default, --off-variant, --client-side or "
            "--service"
        )

    def action(s: Flags) -> Flag:
        flag = s.require_flag(key)
        if client_side is not None and client_side != flag.client_side:
            flag = s.update_flag(key, {"client_side": client_side}, actor=actor())
        if service is not None and service != flag.service:
            flag = s.update_flag(key, {"service": service}, actor=actor())
        if fields:
            flag = s.update_environment(key, env, fields, actor=actor())
        return flag

    flag = service_call(action)
    if client_side is not None:
        who = "client keys too" if flag.client_side else "server SDK keys only"
        console.print(f"{key} is evaluated by {who} (v{flag.version}).")
    if service is not None:
        belongs = f"service {flag.service}" if flag.service else "no service"
        console.print(f"{key} belongs to {belongs}: its rollouts' releases count there.")
    if not fields:
        return
    e = flag.environments[env]
    console.print(
        f"{key} in {env}: {'on' if e.enabled else 'off'}, default → "
        f"{describe_serve(e.default)} (v{flag.version})."
    )
    served = flag.variant_values().get(e.default.variant or "")
    if on and e.default.variant is not None and served is False and not e.rules:
        # A flag created before booleans defaulted to their `true` variant: it is on, yet
        # serves false to everyone. Say so rather than leave the user to find out.
        console.print(
            f"[yellow]note:[/yellow] it serves {e.default.variant} (false) to everyone; "
            f"`headway flags set {key} --env {env} --default "
            f"{next((v.key for v in flag.variants if v.value is True), 'on')}` serves true",
            highlight=False,
            soft_wrap=True,
        )


@app.command()
def split(
    key: str,
    weights: Annotated[list[str], typer.Argument(help="VARIANT=PERCENT …, summing to 100.")],
    env: EnvOpt = "production",
    bucket_by: Annotated[
        str, typer.Option(help="Context attribute to bucket by.")
    ] = "targetingKey",
    rule: Annotated[
        str | None, typer.Option(help="Split this rule's serve, not the default.")
    ] = None,
) -> None:
    """Serve a percentage split (sticky: raising a percentage keeps everyone already in)."""
    serve = parse_split(weights, bucket_by)

    def action(s: Flags) -> Flag:
        if rule is None:
            return s.update_environment(key, env, {"default": serve}, actor=actor(), action="split")

        def edit(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
            if rule not in [r["id"] for r in rules]:
                from headway.flags.service import NotFound

                raise NotFound(f"no rule '{rule}' in {env}; `headway flags show {key}` lists them")
            return [{**r, "serve": serve} if r["id"] == rule else r for r in rules]

        return edit_rules(s, key, env, "split", edit)

    flag = service_call(action)
    console.print(f"{key} in {env} now serves {serve_text(flag, env, rule)} (v{flag.version}).")


@app.command()
def kill(
    key: str,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    reason: Annotated[str | None, typer.Option(help="Recorded in the history.")] = None,
) -> None:
    """Kill switch: turn the flag off (everywhere unless --env) in one step."""
    flag = service_call(lambda s: s.kill(key, actor=actor(), environment=env, reason=reason))
    console.print(
        f"[bold red]Killed[/bold red] {key} in {env or 'every environment'} "
        f"(v{flag.version}); SDKs receive it over their stream now."
    )


@app.command()
def archive(key: str, undo: Annotated[bool, typer.Option(help="Bring it back.")] = False) -> None:
    """Archive a flag: SDKs stop seeing it (callers get their default); history is kept."""
    service_call(lambda s: s.archive(key, actor=actor(), archived=not undo))
    console.print(f"{'Unarchived' if undo else 'Archived'} {key}.")


@app.command()
def history(key: str, format: FormatOpt = Format.table) -> None:
    """Every version of a flag: who changed it, when, how."""
    versions = service_call(lambda s: s.history(key))
    if format is Format.json:
        emit_json(
            [
                {
                    "version": v.version,
                    "action": v.action,
                    "actor": v.actor,
                    "comment": v.comment,
                    "at": v.created_at.isoformat(),
                    "document": v.document,
                }
                for v in versions
            ]
        )
        return
    table = Table("version", "when (UTC)", "who", "action", "comment", title=f"History of {key}")
    for v in versions:
        table.add_row(
            str(v.version),
            v.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            v.actor,
            v.action,
            v.comment or "",
        )
    console.print(table)


@app.command("eval")
def eval_flag(
    key: str,
    context: Annotated[str, typer.Option(help="Evaluation context as JSON.")] = "{}",
    env: EnvOpt = "production",
) -> None:
    """Evaluate a flag for a context and explain each rule's outcome."""
    from headway.flags.evaluate import explain

    try:
        ctx = json.loads(context)
    except json.JSONDecodeError as error:
        fail(f"--context is not JSON: {error}")

    def action(s: Flags) -> Any:
        segments = {seg.key: seg for seg in s.list_segments()}
        flags = {f.key: f for f in s.list_flags()}
        return explain(s.require_flag(key), env, ctx, segments, flags)

    result, lines = service_call(action)
    for line in lines:
        console.print(line, highlight=False)
    console.print(
        f"value {json.dumps(result.value)}, variant {result.variant}, reason "
        f"{result.reason}"
        + (f", error {result.error_code}: {result.error_message}" if result.error_code else ""),
        highlight=False,
    )


# flagd files: import and export (cli.flag_files)
app.command("import")(flag_files.import_flagd)
app.command("export")(flag_files.export_flagd)
# changes made at a given time (cli.flag_schedules)
app.command("schedule")(flag_schedules.schedule)
app.command("schedules")(flag_schedules.schedules)
app.command("unschedule")(flag_schedules.unschedule)


@app.command()
def origins(
    env: Annotated[str, typer.Argument(help="Environment.")],
    allow: Annotated[
        list[str], typer.Option(help="Allow this browser origin, e.g. https://app.example.com.")
    ] = [],  # noqa: B006
    remove: Annotated[list[str], typer.Option(help="Stop allowing this origin.")] = [],  # noqa: B006
    clear: Annotated[bool, typer.Option(help="Allow no origin at all.")] = False,
) -> None:
    """Browser origins that may call ENV's client endpoints (OFREP) from another origin (CORS)."""
    from headway.flags.origins import normalize_origin

    def action(s: Flags) -> tuple[str, ...]:
        found = next((e for e in s.environments() if e.key == env), None)
        if found is None:
            from headway.flags.service import NotFound

            raise NotFound(f"environment '{env}' does not exist")
        if not (allow or remove or clear):
            return found.cors_origins
        try:
            dropped = {normalize_origin(o) for o in remove}
        except ValueError as error:
            fail(f"--remove {error}")
        kept = [] if clear else [o for o in found.cors_origins if o not in dropped]
        return s.set_cors_origins(env, [*kept, *allow], actor=actor()).cors_origins

    allowed = service_call(action)
    if allowed:
        console.print(f"{env} allows browsers on: " + ", ".join(allowed), highlight=False)
    else:
        console.print(f"{env} allows no browser origin (client keys work from servers only).")
