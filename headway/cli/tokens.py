"""`headway tokens …`: create, list and revoke API tokens and SDK keys, viewer and editor
tokens optionally scoped to teams (`--team`) or environments (`--env`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from headway.cli.common import fail
from headway.cli.flag_common import Format, FormatOpt, actor, session
from headway.output import console, emit_json

if TYPE_CHECKING:
    from headway.flags.tokens import Token

app = typer.Typer(
    help="API tokens: admin, server SDK keys, client (OFREP) keys.", no_args_is_help=True
)
_UNITS = {"m": 60, "h": 3600, "d": 86400}


def _expiry(text: str) -> datetime:
    """`--expires`: a duration from now (90d, 12h, 30m) or a date or time (UTC unless given)."""
    value = text.strip()
    if value[:-1].isdigit() and value[-1:] in _UNITS:
        return datetime.now(UTC) + timedelta(seconds=int(value[:-1]) * _UNITS[value[-1]])
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--expires {text!r} is neither a duration (90d, 12h, 30m) nor a date (YYYY-MM-DD)")
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@app.command("create")
def token_create(
    kind: Annotated[
        str,
        typer.Option(
            help="viewer (reads), editor (also flags, segments, notes, rollouts), admin (also "
            "tokens, environments, imports), scrape (/metrics only), server (SDK key) or "
            "client (OFREP key)."
        ),
    ],
    name: Annotated[str, typer.Option(help="Who or what uses it.")],
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            "-e",
            help="A server or client key's one environment; for a viewer or editor, an "
            "environment it may change (repeat for several; without it, every one).",
        ),
    ] = None,
    team: Annotated[
        list[str] | None,
        typer.Option(
            help="Viewer or editor: a team whose records it may read (repeat for several; "
            "without it, every team)."
        ),
    ] = None,
    expires: Annotated[
        str | None,
        typer.Option(
            help="When it stops working: a duration (90d, 12h) or a date/time (UTC); "
            "without it, until revoked."
        ),
    ] = None,
) -> None:
    """Create a token and print its secret (shown this once)."""
    from headway.flags.tokens import SDK_KINDS

    expires_at = _expiry(expires) if expires else None
    sdk = kind in SDK_KINDS
    if sdk and env and len(env) > 1:
        fail(f"a {kind} key belongs to one environment: give --env once")
    with session() as (_, tokens):
        token, secret = tokens.create(
            kind,
            name=name,
            actor=actor(),
            environment=env[0] if sdk and env else None,
            expires_at=expires_at,
            teams=team or None,
            environments=None if sdk else env or None,
        )
    console.print(
        f"Created {token.kind} token {token.id} ({token.name}"
        + (f", {token.environment}" if token.environment else "")
        + (f", {token.scope_text()}" if token.scoped else "")
        + (f", expires {token.expires_at:%Y-%m-%d %H:%M} UTC" if token.expires_at else "")
        + "). Secret:"
    )
    print(secret)


@app.command("list")
def token_list(format: FormatOpt = Format.table) -> None:
    """List tokens (never their secrets)."""
    with session() as (_, tokens):
        found = tokens.list()
    if format is Format.json:
        emit_json(
            [
                {
                    "id": t.id,
                    "kind": t.kind,
                    "environment": t.environment,
                    "name": t.name,
                    "created_by": t.created_by,
                    "created_at": t.created_at.isoformat(),
                    "revoked": t.revoked_at is not None,
                    "expires_at": t.expires_at.isoformat() if t.expires_at else None,
                    "teams": list(t.teams) if t.teams is not None else None,
                    "environments": list(t.environments) if t.environments is not None else None,
                }
                for t in found
            ]
        )
        return
    table = Table(
        "id", "kind", "environment", "name", "scope", "created by", "state", title="Tokens"
    )
    now = datetime.now(UTC)
    for t in found:
        if t.revoked_at:
            state = "revoked"
        elif t.expires_at and t.expires_at <= now:
            state = f"expired {t.expires_at:%Y-%m-%d %H:%M}"
        elif t.expires_at:
            state = f"live until {t.expires_at:%Y-%m-%d %H:%M}"
        else:
            state = "live"
        table.add_row(t.id, t.kind, t.environment or "", t.name, _scope(t), t.created_by, state)
    console.print(table)


@app.command("revoke")
def token_revoke(token_id: str) -> None:
    """Revoke a token at once."""
    with session() as (_, tokens):
        if not tokens.revoke(token_id, actor=actor()):
            fail(f"no live token '{token_id}'")
    console.print(f"Revoked {token_id}.")


def _scope(token: Token) -> str:
    return token.scope_text() if token.scoped else ""
