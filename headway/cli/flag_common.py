"""What the flag and token commands share: the services they ask, who acts, how a condition
or a split is written on the command line, and how a flag is printed.

Conditions are written `ATTRIBUTE OPERATOR VALUE`, for example `country in FR,DE`,
`plan eq pro`, `age gte 18`, `app.version semver_gte 2.1.0`, `targetingKey in_segment beta`.
Splits are written `VARIANT=PERCENT …`, for example `on=25 off=75`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from headway.cli.backend import Flags, Tokens, backend
from headway.cli.common import actor, fail
from headway.output import console

if TYPE_CHECKING:
    from headway.flags.model import Flag, Serve

__all__ = [
    "EnvOpt",
    "Format",
    "FormatOpt",
    "WhenOpt",
    "actor",
    "describe_serve",
    "edit_rules",
    "flag_table",
    "parse_condition",
    "parse_split",
    "scalar",
    "serve_text",
    "service_call",
    "session",
    "show_flag",
]


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


def service_call(action: Callable[[Flags], Any]) -> Any:
    with session() as (service, _):
        return action(service)


# --- parsing -------------------------------------------------------------------------------


def scalar(text: str) -> Any:
    """`5` -> 5, `true` -> True, `"5"` -> "5", `pro` -> "pro"."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_condition(text: str) -> dict[str, Any]:
    from headway.flags.model import (
        FOLDED_LIST_OPERATORS,
        IP_OPERATORS,
        LIST_OPERATORS,
        NUMERIC_OPERATORS,
        PREREQUISITE_OPERATORS,
        PRESENCE_OPERATORS,
        SEGMENT_OPERATORS,
        STRING_OPERATORS,
    )

    # keys, variants, networks, text: never numbers
    key_lists = SEGMENT_OPERATORS | FOLDED_LIST_OPERATORS | IP_OPERATORS | PREREQUISITE_OPERATORS
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
    if operator in LIST_OPERATORS:
        cond["value"] = [scalar(v.strip()) for v in raw.split(",")]
    elif operator in key_lists:
        cond["value"] = [v.strip() for v in raw.split(",")]
    elif (
        operator in NUMERIC_OPERATORS
        or operator in ("eq", "neq", "contains", "not_contains")
        or (operator in STRING_OPERATORS and raw.startswith("["))
    ):
        cond["value"] = scalar(raw)
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


def describe_serve(serve: Serve) -> str:
    if serve.variant is not None:
        return serve.variant
    assert serve.split is not None
    weights = ", ".join(f"{w.variant} {w.weight:g}%" for w in serve.split.weights)
    return f"split {weights} by {serve.split.bucket_by}"


def flag_table(flags: list[Flag]) -> Table:
    envs = sorted({e for f in flags for e in f.environments})
    table = Table("flag", "type", "owner", *envs, "version", "lifecycle", title="Flags")
    for f in flags:
        cells = [
            ("[green]on[/green] → " + describe_serve(f.environments[e].default))
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


def show_flag(flag: Flag) -> None:
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
            console.print(f"  rule {rule.id}: if {conds} → {describe_serve(rule.serve)}")
        console.print(f"  default → {describe_serve(env.default)}")


def edit_rules(
    s: Flags,
    key: str,
    env: str,
    action: str,
    edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
) -> Flag:
    """Read an environment's rules, edit them, and write them back whole.

    The write names the version read, so a concurrent edit is refused rather than lost.
    """
    from headway.flags.service import NotFound

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
    return describe_serve(serve)
