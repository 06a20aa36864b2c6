"""`headway flags …`: thin commands over the flag service.

Conditions are written `ATTRIBUTE OPERATOR VALUE`, for example `country in FR,DE`,
`plan eq pro`, `age gte 18`, `app.version semver_gte 2.1.0`, `targetingKey in_segment beta`.
Splits are written `VARIANT=PERCENT …`, for example `on=25 off=75`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from headway.cli.backend import Flags, Tokens, backend
from headway.cli.common import actor, fail
from headway.flags.evaluate import explain
from headway.flags.flagd import from_flagd, to_flagd
from headway.flags.model import (
    LIST_OPERATORS,
    NUMERIC_OPERATORS,
    PRESENCE_OPERATORS,
    SEGMENT_OPERATORS,
    Flag,
    Serve,
)
from headway.flags.origins import normalize_origin
from headway.flags.service import NotFound
from headway.output import console, emit_json

__all__ = ["Format", "FormatOpt", "actor", "app", "session"]

app = typer.Typer(
    help="Feature flags: create, target, split, kill, and see their history.", no_args_is_help=True
)
rule_app = typer.Typer(help="Targeting rules of one environment.", no_args_is_help=True)
segment_app = typer.Typer(help="Reusable audiences for rules.", no_args_is_help=True)
app.add_typer(rule_app, name="rule")
app.add_typer(segment_app, name="segment")


class Format(StrEnum):
    table = "table"
    json = "json"


EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment.")]
FormatOpt = Annotated[Format, typer.Option("--format", "-f", help="Output format.")]
WhenOpt = Annotated[
    list[str],
    typer.Option("--when", "-w", help="A condition `ATTRIBUTE OPERATOR VALUE`; repeat for AND."),
]


@contextmanager
def session() -> Iterator[tuple[Flags, Tokens]]:
    """The flag and token services of the backend (the server's when HEADWAY_URL is set);
    refusals become one clear line and exit code 2."""
    with backend() as answers:
        yield answers.flags, answers.tokens


def _service_call(action: Callable[[Flags], Any]) -> Any:
    with session() as (service, _):
        return action(service)


# --- parsing -------------------------------------------------------------------------------


def _scalar(text: str) -> Any:
    """`5` -> 5, `true` -> True, `"5"` -> "5", `pro` -> "pro"."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_condition(text: str) -> dict[str, Any]:
    parts = text.split(None, 2)
    if len(parts) < 2:
        fail(f"condition {text!r}: write ATTRIBUTE OPERATOR VALUE, e.g. 'plan eq pro'")
    attribute, operator = parts[0], parts[1]
    raw = parts[2] if len(parts) == 3 else None
    cond: dict[str, Any] = {"attribute": attribute, "operator": operator}
    if operator in PRESENCE_OPERATORS:
        return cond
    if raw is None:
        fail(f"condition {text!r}: '{operator}' needs a value")
    if operator in LIST_OPERATORS or operator in SEGMENT_OPERATORS:
        cond["value"] = [
            _scalar(v.strip()) if operator in LIST_OPERATORS else v.strip() for v in raw.split(",")
        ]
    elif operator in NUMERIC_OPERATORS or operator in ("eq", "neq", "contains", "not_contains"):
        cond["value"] = _scalar(raw)
    else:
        cond["value"] = raw
    return cond


def parse_split(parts: list[str], bucket_by: str) -> dict[str, Any]:
    weights = []
    for part in parts:
        variant, sep, weight = part.partition("=")
        try:
            weights.append({"variant": variant, "weight": float(weight)})
        except ValueError:
            fail(f"split {part!r}: write VARIANT=PERCENT, e.g. on=25")
        if not sep:
            fail(f"split {part!r}: write VARIANT=PERCENT, e.g. on=25")
    return {"split": {"weights": weights, "bucket_by": bucket_by}}


# --- output --------------------------------------------------------------------------------


def _serve_text(serve: Serve) -> str:
    if serve.variant is not None:
        return serve.variant
    assert serve.split is not None
    weights = ", ".join(f"{w.variant} {w.weight:g}%" for w in serve.split.weights)
    return f"split {weights} by {serve.split.bucket_by}"


def _flag_table(flags: list[Flag]) -> Table:
    envs = sorted({e for f in flags for e in f.environments})
    table = Table("flag", "type", "owner", *envs, "version", "lifecycle", title="Flags")
    for f in flags:
        cells = [
            ("[green]on[/green] → " + _serve_text(f.environments[e].default))
            if e in f.environments and f.environments[e].enabled
            else "[dim]off[/dim]"
            for e in envs
        ]
        life = (
            f"{f.lifecycle.kind}, remove by {f.lifecycle.expected_removal}"
            if f.lifecycle.expected_removal
            else f.lifecycle.kind
        )
        table.add_row(
            f.key + (" [dim](archived)[/dim]" if f.archived else ""),
            f.type,
            f.owner,
            *cells,
            str(f.version),
            life,
        )
    return table


def _show(flag: Flag) -> None:
    console.print(
        f"[bold]{flag.key}[/bold] ({flag.type}) v{flag.version}, owner {flag.owner}"
        + (" [yellow]archived[/yellow]" if flag.archived else "")
    )
    if flag.description:
        console.print(flag.description)
    console.print("variants: " + ", ".join(f"{v.key}={json.dumps(v.value)}" for v in flag.variants))
    console.print(
        "evaluated by: "
        + ("server SDK keys and client keys" if flag.client_side else "server SDK keys only")
    )
    for name, env in flag.environments.items():
        state = "[green]on[/green]" if env.enabled else f"[dim]off (serves {env.off_variant})[/dim]"
        console.print(f"\n[bold]{name}[/bold]: {state}")
        for rule in env.rules:
            conds = (
                " and ".join(
                    f"{c.attribute} {c.operator}"
                    + ("" if c.value is None else f" {json.dumps(c.value)}")
                    for c in rule.conditions
                )
                or "everyone"
            )
            console.print(f"  rule {rule.id}: if {conds} → {_serve_text(rule.serve)}")
        console.print(f"  default → {_serve_text(env.default)}")


# --- flags -----------------------------------------------------------------------------------


@app.command()
def create(
    key: Annotated[str, typer.Argument(help="Flag key, e.g. new-checkout.")],
    owner: Annotated[str, typer.Option(help="Team or person responsible.")] = "",
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
                    {"key": name, "value": _scalar(value) if type != "string" else value}
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
    flag = _service_call(lambda s: s.create_flag(document, actor=actor()))
    life = flag.lifecycle
    until = f", expected removal {life.expected_removal}" if life.expected_removal else ""
    console.print(
        f"Created {life.kind} flag {flag.key}{until} (off in {', '.join(flag.environments)})."
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

    flags = _service_call(action)
    if format is Format.json:
        emit_json([f.model_dump(mode="json") for f in flags])
    else:
        console.print(_flag_table(flags))


@app.command()
def show(key: str, format: FormatOpt = Format.table) -> None:
    """Show one flag: variants, and per environment its rules and default."""
    flag = _service_call(lambda s: s.require_flag(key))
    if format is Format.json:
        emit_json(flag.model_dump(mode="json"))
    else:
        _show(flag)


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
) -> None:
    """Switch a flag on or off in an environment, or change what it serves."""
    fields: dict[str, Any] = {}
    if on is not None:
        fields["enabled"] = on
    if default is not None:
        fields["default"] = {"variant": default}
    if off_variant is not None:
        fields["off_variant"] = off_variant
    if not fields and client_side is None:
        fail("nothing to change: give --on/--off, --default, --off-variant or --client-side")

    def action(s: Flags) -> Flag:
        flag = s.require_flag(key)
        if client_side is not None and client_side != flag.client_side:
            flag = s.update_flag(key, {"client_side": client_side}, actor=actor())
        if fields:
            flag = s.update_environment(key, env, fields, actor=actor())
        return flag

    flag = _service_call(action)
    if client_side is not None:
        who = "client keys too" if flag.client_side else "server SDK keys only"
        console.print(f"{key} is evaluated by {who} (v{flag.version}).")
    if not fields:
        return
    e = flag.environments[env]
    console.print(
        f"{key} in {env}: {'on' if e.enabled else 'off'}, default → "
        f"{_serve_text(e.default)} (v{flag.version})."
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
                raise NotFound(f"no rule '{rule}' in {env}; `headway flags show {key}` lists them")
            return [{**r, "serve": serve} if r["id"] == rule else r for r in rules]

        return _edit_rules(s, key, env, "split", edit)

    flag = _service_call(action)
    console.print(f"{key} in {env} now serves {serve_text(flag, env, rule)} (v{flag.version}).")


def _edit_rules(
    s: Flags,
    key: str,
    env: str,
    action: str,
    edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> Flag:
    """Read an environment's rules, edit them, and write them back whole.

    The write names the version read, so a concurrent edit is refused rather than lost.
    """
    flag = s.require_flag(key)
    if env not in flag.environments:
        known = ", ".join(flag.environments)
        raise NotFound(f"flag '{flag.key}' has no environment '{env}'; it has: {known}")
    rules = [r.model_dump(mode="json") for r in flag.environments[env].rules]
    return s.update_environment(
        key,
        env,
        {"rules": edit(rules)},
        actor=actor(),
        action=action,
        expected_version=flag.version,
    )


def serve_text(flag: Flag, env: str, rule: str | None) -> str:
    e = flag.environments[env]
    serve = next(r.serve for r in e.rules if r.id == rule) if rule else e.default
    return _serve_text(serve)


@app.command()
def kill(
    key: str,
    env: Annotated[str | None, typer.Option("--env", "-e", help="Only this environment.")] = None,
    reason: Annotated[str | None, typer.Option(help="Recorded in the history.")] = None,
) -> None:
    """Kill switch: turn the flag off (everywhere unless --env) in one step."""
    flag = _service_call(lambda s: s.kill(key, actor=actor(), environment=env, reason=reason))
    console.print(
        f"[bold red]Killed[/bold red] {key} in {env or 'every environment'} "
        f"(v{flag.version}); SDKs receive it over their stream now."
    )


@app.command()
def archive(key: str, undo: Annotated[bool, typer.Option(help="Bring it back.")] = False) -> None:
    """Archive a flag: SDKs stop seeing it (callers get their default); history is kept."""
    _service_call(lambda s: s.archive(key, actor=actor(), archived=not undo))
    console.print(f"{'Unarchived' if undo else 'Archived'} {key}.")


@app.command()
def history(key: str, format: FormatOpt = Format.table) -> None:
    """Every version of a flag: who changed it, when, how."""
    versions = _service_call(lambda s: s.history(key))
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
    try:
        ctx = json.loads(context)
    except json.JSONDecodeError as error:
        fail(f"--context is not JSON: {error}")

    def action(s: Flags) -> Any:
        segments = {seg.key: seg for seg in s.list_segments()}
        return explain(s.require_flag(key), env, ctx, segments)

    result, lines = _service_call(action)
    for line in lines:
        console.print(line, highlight=False)
    console.print(
        f"value {json.dumps(result.value)}, variant {result.variant}, reason "
        f"{result.reason}"
        + (f", error {result.error_code}: {result.error_message}" if result.error_code else ""),
        highlight=False,
    )


@app.command("import")
def import_flagd(
    file: Annotated[Path, typer.Argument(help="A flagd flag-definition file (JSON).")],
    env: EnvOpt = "production",
    yes: Annotated[
        bool, typer.Option("--yes", help="Apply even when the import changes who gets what.")
    ] = False,
) -> None:
    """Create flags from a flagd definition file, all or none, in ENV (off elsewhere)."""
    try:
        document = json.loads(file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"{file}: not a readable JSON file ({error})")
    with session() as (service, _):
        imported = from_flagd(document, env)
        for warning in imported.warnings:
            console.print(f"[yellow]warning:[/yellow] {warning}", highlight=False, soft_wrap=True)
        if imported.warnings and not yes:
            fail(
                "nothing imported: the warnings above change who gets which variant; "
                "run again with --yes to apply"
            )
        flags = service.import_flags(imported.flags, actor=actor())
    console.print(f"Imported {len(flags)} flags into {env}: {', '.join(f.key for f in flags)}.")


@app.command("export")
def export_flagd(
    env: EnvOpt = "production",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here instead of stdout.")
    ] = None,
) -> None:
    """Write ENV's flags as a flagd flag-definition file (JSON)."""
    with session() as (service, _):
        document, warnings = to_flagd(service.list_flags(), env)
    for warning in warnings:
        typer.echo(f"warning: {warning}", err=True)
    text = json.dumps(document, indent=2) + "\n"
    if output is None:
        print(text, end="")
    else:
        output.write_text(text)


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

    def action(s: Flags) -> tuple[str, ...]:
        found = next((e for e in s.environments() if e.key == env), None)
        if found is None:
            raise NotFound(f"environment '{env}' does not exist")
        if not (allow or remove or clear):
            return found.cors_origins
        try:
            dropped = {normalize_origin(o) for o in remove}
        except ValueError as error:
            fail(f"--remove {error}")
        kept = [] if clear else [o for o in found.cors_origins if o not in dropped]
        return s.set_cors_origins(env, [*kept, *allow], actor=actor()).cors_origins

    allowed = _service_call(action)
    if allowed:
        console.print(f"{env} allows browsers on: " + ", ".join(allowed), highlight=False)
    else:
        console.print(f"{env} allows no browser origin (client keys work from servers only).")


# --- rules -----------------------------------------------------------------------------------


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

    flag = _service_call(lambda s: _edit_rules(s, key, env, "rule-add", edit))
    console.print(f"Added a rule to {key} in {env} (v{flag.version}).")


@rule_app.command("remove")
def rule_remove(key: str, rule_id: str, env: EnvOpt = "production") -> None:
    """Remove a targeting rule by id."""

    def edit(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if rule_id not in [r["id"] for r in rules]:
            raise NotFound(f"no rule '{rule_id}' in {env}")
        return [r for r in rules if r["id"] != rule_id]

    flag = _service_call(lambda s: _edit_rules(s, key, env, "rule-remove", edit))
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
    segment = _service_call(lambda s: s.put_segment(doc, actor=actor()))
    console.print(f"Segment {segment.key} v{segment.version} saved.")


@segment_app.command("list")
def segment_list(format: FormatOpt = Format.table) -> None:
    """List segments: reusable groups of users that rules refer to by key."""
    segments = _service_call(lambda s: s.list_segments())
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
    _service_call(lambda s: s.delete_segment(key, actor=actor()))
    console.print(f"Deleted segment {key}.")
