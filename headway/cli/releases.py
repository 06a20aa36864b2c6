"""`headway release …`: release plans, which release a flag by themselves, environment by
environment, once the code behind it is deployed there (`headway.rollouts.releases`).

Through a server when HEADWAY_URL is set (its control loop moves the plans), else on the
store directly; there a plan waits until a `headway serve` on the same store runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import quote

import typer
from rich.table import Table

from headway.cli.common import Format, FormatOpt, fail
from headway.cli.common import actor as common_actor
from headway.output import console, emit_csv, emit_json

if TYPE_CHECKING:
    from headway.rollouts.releases import ReleasePlans

__all__ = ["app"]

app = typer.Typer(
    help="Release plans: a flag released by itself, environment by environment, once its "
    "code is deployed.",
    no_args_is_help=True,
)

ActorOpt = Annotated[
    str,
    typer.Option(
        "--actor", help="Who is acting (default: you here; through a server, the token's name)."
    ),
]


@contextmanager
def _plans() -> Iterator[ReleasePlans]:
    # The controller, the statistics and the store load here, when a command runs.
    from headway.config import get_settings
    from headway.flags.service import FlagService
    from headway.rollouts.controller import RolloutService
    from headway.rollouts.plan import PlanError
    from headway.rollouts.releases import ReleasePlans
    from headway.store import StoreError, open_store

    try:
        store = open_store(get_settings())
    except StoreError as error:
        fail(str(error))
    try:
        flags = FlagService(store)
        yield ReleasePlans(store, RolloutService(store, flags), flags)
    except PlanError as error:
        fail(str(error))
    finally:
        store.close()


def _remote(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    from headway.cli.backend import RemoteBackend, backend

    with backend() as answers:
        assert isinstance(answers, RemoteBackend)
        return answers.api.call(method, f"/release-plans{path}", json=body)


def _remote_url() -> str | None:
    """The server HEADWAY_URL names, if any: the release commands talk to it when set."""
    from headway.config import get_settings

    return get_settings().url


def _path(flag: str) -> str:
    return "/" + quote(flag, safe="")


@app.command("plan")
def plan(
    flag: Annotated[
        str, typer.Argument(help="Flag key, or '*' for each flag a pull request adds from now.")
    ],
    environments: Annotated[
        str, typer.Option("--environments", help="In release order, e.g. staging,production.")
    ] = "production",
    promote_after: Annotated[
        str,
        typer.Option(
            "--promote-after",
            help="How long an environment holds the flag on to everyone, with no rollback, "
            "before the next starts: 30m, 24h, 2d.",
        ),
    ] = "24h",
    variant: Annotated[
        str | None, typer.Option("--variant", help="Variant to release (default: the one not off).")
    ] = None,
    stages: Annotated[str, typer.Option("--stages", help="Percentages ending at 100.")] = (
        "1,5,25,50,100"
    ),
    min_duration: Annotated[str, typer.Option("--min-duration", help="Per stage: 30s, 10m.")] = (
        "10m"
    ),
    min_samples: Annotated[int, typer.Option("--min-samples", help="Per stage.")] = 500,
    guardrail: Annotated[
        list[str] | None,
        typer.Option("--guardrail", help="As for `headway rollout start`; repeat for several."),
    ] = None,
    service: Annotated[str, typer.Option("--service", help="Service its releases count for.")] = "",
    actor: ActorOpt = "",
    fmt: FormatOpt = Format.table,
) -> None:
    """Set FLAG's release plan: once a deployment to the first environment carries the pull
    request that added or used FLAG, roll it out there; each next environment follows
    --promote-after later, once deployed there too."""
    from pydantic import ValidationError

    from headway.rollouts.plan import PlanError
    from headway.rollouts.releases import ReleasePlanDocument

    body = {
        "environments": [e.strip() for e in environments.split(",") if e.strip()],
        "promote_after": promote_after,
        "treatment": variant,
        "stages": stages,
        "min_duration": min_duration,
        "min_samples": min_samples,
        "guardrails": guardrail or [],
        "service": service,
    }
    try:
        document = ReleasePlanDocument.model_validate(body)
        document.check()
    except ValidationError as error:
        problem = error.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "plan"
        fail(f"--{where.replace('_', '-').split('.')[0]}: {problem['msg']}")
    except PlanError as error:
        fail(str(error))
    if _remote_url():
        _show([_remote("PUT", _path(flag), {**body, "actor": actor})], fmt)
        return
    with _plans() as plans:
        made = plans.set_plan(flag, document, actor=actor or common_actor())
        _show([made.as_dict()], fmt)


@app.command("plans")
def plans_command(fmt: FormatOpt = Format.table) -> None:
    """Every release plan and where it stands."""
    if _remote_url():
        _show(_remote("GET", ""), fmt)
        return
    with _plans() as plans:
        _show([p.as_dict() for p in plans.plans()], fmt)


@app.command("cancel")
def cancel(
    flag: Annotated[str, typer.Argument(help="Flag key, or '*'.")],
    actor: ActorOpt = "",
    fmt: FormatOpt = Format.table,
) -> None:
    """Remove FLAG's release plan. A rollout it started goes on; steer it with `headway rollout`."""
    if _remote_url():
        _show([_remote("DELETE", _path(flag), None)], fmt)
        return
    with _plans() as plans:
        _show([plans.cancel(flag, actor=actor or common_actor()).as_dict()], fmt)


def _show(rows: list[dict[str, Any]], fmt: Format) -> None:
    from headway.rollouts.releases import EVERY_NEW_FLAG
    from headway.rollouts.results import ReleasePlanResult

    sent = [ReleasePlanResult.model_validate(row).model_dump(mode="json") for row in rows]
    if fmt is Format.json:
        emit_json(sent)
    elif fmt is Format.csv:
        emit_csv(sent, ReleasePlanResult.model_fields)
    elif not sent:
        console.print("No release plans. Set one with `headway release plan FLAG`.")
    else:
        table = Table(title="Release plans", title_justify="left")
        for column in ("flag", "environments", "state", "where", "why"):
            table.add_column(column)
        for row in sent:
            name = "every new flag" if row["flag"] == EVERY_NEW_FLAG else row["flag"]
            table.add_row(
                name,
                " → ".join(row["environments"]) + f" (after {row['promote_after']})",
                row["state"],
                row["environment"],
                row["reason"],
            )
        console.print(table)
