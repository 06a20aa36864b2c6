"""`headway users …`: the people who sign in through the identity provider, for admins.

`add` grants a person a role before (or instead of) their groups; `set-role` changes it, or
with `groups` hands it back to the identity provider's groups; `remove` ends their sessions
and refuses their sign-in until they are added again.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from headway.cli.backend import backend
from headway.cli.common import actor
from headway.cli.flag_common import Format, FormatOpt
from headway.output import console, emit_json

if TYPE_CHECKING:
    from headway.flags.users import UserRow

app = typer.Typer(
    help="People who sign in with single sign-on: their roles and scopes.", no_args_is_help=True
)

RoleArg = Annotated[str, typer.Argument(help="viewer, editor or admin.")]
TeamOpt = Annotated[
    list[str] | None,
    typer.Option(help="A team whose records they may read (repeat; without it, every team)."),
]
EnvOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--env",
        "-e",
        help="An environment whose flags and rollouts they may change (repeat; without it, "
        "every one).",
    ),
]


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else ""


def _scope(user: UserRow) -> str:
    parts = [
        f"{label} {', '.join(names)}"
        for label, names in (("teams", user.teams), ("environments", user.environments))
        if names is not None
    ]
    return "; ".join(parts)


def _line(verb: str, user: UserRow) -> str:
    scope = _scope(user)
    role = user.role or "no role yet"
    return f"{verb} {user.email}: {role} (from {user.role_from})" + (f", {scope}" if scope else "")


@app.command("list")
def user_list(
    format: FormatOpt = Format.table,
    removed: Annotated[bool, typer.Option(help="Also list removed users.")] = False,
) -> None:
    """List users with their role, where it comes from, and their scope."""
    with backend() as answers:
        found = answers.users.list(removed=removed)
    if format is Format.json:
        emit_json(
            [
                {
                    "email": u.email,
                    "name": u.name,
                    "role": u.role,
                    "role_from": u.role_from,
                    "teams": list(u.teams) if u.teams is not None else None,
                    "environments": list(u.environments) if u.environments is not None else None,
                    "created_by": u.created_by,
                    "removed": u.removed_at is not None,
                }
                for u in found
            ]
        )
        return
    table = Table("email", "name", "role", "from", "scope", "last sign-in", "state", title="Users")
    for u in found:
        state = f"removed {_when(u.removed_at)}" if u.removed_at else "active"
        table.add_row(
            u.email, u.name, u.role or "", u.role_from, _scope(u), _when(u.signed_in_at), state
        )
    console.print(table)


@app.command("add")
def user_add(
    email: str,
    role: RoleArg,
    name: Annotated[str | None, typer.Option(help="Their name, as pages show it.")] = None,
    team: TeamOpt = None,
    env: EnvOpt = None,
) -> None:
    """Grant a person a role (kept over their sign-ins, whatever their groups say)."""
    with backend() as answers:
        user = answers.users.add(
            email, role, actor=actor(), name=name, teams=team or None, environments=env or None
        )
    console.print(_line("Added", user))


@app.command("set-role")
def user_set_role(
    email: str,
    role: Annotated[
        str,
        typer.Argument(
            help="viewer, editor or admin; or `groups` to take the role from the identity "
            "provider's groups again at the next sign-in."
        ),
    ],
    team: TeamOpt = None,
    env: EnvOpt = None,
) -> None:
    """Change a user's role and scope (the scope given replaces the old one)."""
    with backend() as answers:
        user = answers.users.set_role(
            email,
            None if role == "groups" else role,
            actor=actor(),
            teams=team or None,
            environments=env or None,
        )
    console.print(_line("Changed", user))


@app.command("remove")
def user_remove(email: str) -> None:
    """Remove a user: their sessions end and they cannot sign in until added again."""
    with backend() as answers:
        answers.users.remove(email, actor=actor())
    console.print(f"Removed {email.strip().lower()}.")
