"""`headway rollout …`: start, list, watch and steer guarded rollouts (and simulate their
judge: `cli/rollout_simulate.py`).

Commands talk to the running server when HEADWAY_URL is set (the server owns the store and
runs the controller), otherwise to the store directly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from headway.cli.common import actor as common_actor
from headway.cli.common import errors, fail
from headway.cli.rollout_simulate import GUARDRAIL_HELP, simulate_command

if TYPE_CHECKING:
    from headway.flags.model import Flag
    from headway.rollouts.controller import RolloutService

app = typer.Typer(
    help="Guarded rollouts: staged exposure, judged by guardrails.", no_args_is_help=True
)
console = Console()

EnvOpt = Annotated[str, typer.Option("--env", "-e", help="Environment.")]
ActorOpt = Annotated[
    str,
    typer.Option(
        "--actor", help="Who is acting (default: you here; through a server, the token's name)."
    ),
]
ReasonOpt = Annotated[str, typer.Option("--reason", help="Why, for the record.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@contextmanager
def _service() -> Iterator[RolloutService]:
    # The controller, the statistics and the store load here, when a command runs.
    from headway.config import get_settings
    from headway.flags.service import FlagService, NotFound
    from headway.rollouts.controller import RolloutService
    from headway.rollouts.plan import PlanError
    from headway.store import StoreError, open_store

    try:
        store = open_store(get_settings())
    except StoreError as error:
        fail(str(error))
    try:
        yield RolloutService(store, FlagService(store))
    except (PlanError, NotFound) as error:
        fail(str(error))
    finally:
        store.close()


def _remote_url() -> str | None:
    """The server HEADWAY_URL names, if any: the rollout commands talk to it when set."""
    from headway.config import get_settings

    return get_settings().url


def _remote(
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    params: dict[str, Any] | None = None,
) -> Any:
    """The server's answer through the CLI's one client; its refusals become one line."""
    from headway.cli.backend import RemoteBackend, backend

    with backend() as answers:
        assert isinstance(answers, RemoteBackend)
        return answers.api.call(method, f"/rollouts{path}", json=body, params=params or {})


def _show(rollout: dict[str, Any], as_json: bool) -> None:
    # what a person should know about a start goes with the messages, not the data
    for note in rollout.get("notes", []):
        errors.print(f"[yellow]note:[/yellow] {note}", highlight=False, soft_wrap=True)
    if as_json:
        console.print_json(json.dumps(rollout, default=str))
        return
    stages = " → ".join(
        f"[bold]{p:g}%[/bold]" if i == rollout["stage_index"] else f"{p:g}%"
        for i, p in enumerate(rollout["stages"])
    )
    console.print(
        f"{rollout['flag']} in {rollout['environment']}: [bold]{rollout['state']}[/bold] at "
        f"{rollout['percent']:g}% ({stages})"
    )
    if rollout.get("reason"):
        console.print(f"reason: {rollout['reason']}", highlight=False)
    for decision in rollout.get("judgement", []):
        console.print(f"  [{decision['verdict']}] {decision['explanation']}", highlight=False)
    for stage in rollout.get("exposures", []):
        console.print(
            f"  stage {stage['stage']} ({stage['percent']:g}%): {stage['treatment']:,.0f} "
            f"exposures on treatment, {stage['control']:,.0f} on control",
            highlight=False,
        )
    for deployment in rollout.get("delivered", []):
        failed = " (failed: rolled back)" if deployment["failed"] else ""
        console.print(
            f"  recorded {deployment['kind']} {deployment['id']}{failed}", highlight=False
        )
    for event in rollout.get("events", [])[-10:]:
        console.print(
            f"  {event['occurred_at'][:19]} {event['kind']:<18} {event['actor']:<10} "
            f"{event['explanation']}",
            highlight=False,
        )


@app.command()
def start(
    flag: Annotated[str, typer.Argument(help="Flag key.")],
    variant: Annotated[
        str | None,
        typer.Option(
            "--variant",
            help="Variant to roll out (default: the one the flag does not serve now, "
            "when there is only one, as for a boolean flag).",
        ),
    ] = None,
    env: EnvOpt = "production",
    control: Annotated[
        str | None, typer.Option("--control", help="Variant the rest keep (default: served now).")
    ] = None,
    stages: Annotated[str, typer.Option("--stages", help="Percentages ending at 100.")] = (
        "1,5,25,50,100"
    ),
    approval: Annotated[
        list[float] | None, typer.Option("--approval", help="A stage that needs approval.")
    ] = None,
    min_duration: Annotated[
        str, typer.Option("--min-duration", help="Per stage: 30s, 10m, 1h.")
    ] = ("10m"),
    min_samples: Annotated[
        int, typer.Option("--min-samples", help="Treatment exposures per stage.")
    ] = 500,
    guardrail: Annotated[list[str] | None, typer.Option("--guardrail", help=GUARDRAIL_HELP)] = None,
    alpha: Annotated[float, typer.Option(help="False-rollback rate for the whole plan.")] = 0.05,
    service: Annotated[str, typer.Option("--service", help="Service the release counts for.")] = "",
    prometheus_url: Annotated[
        str | None, typer.Option("--prometheus-url", help="Prometheus for --prometheus-query.")
    ] = None,
    prometheus_query: Annotated[
        list[str] | None,
        typer.Option(
            "--prometheus-query",
            help="METRIC=PROMQL counting METRIC's events of variant $variant since the start "
            "($window), e.g. errors='sum(increase(errors_total{variant=\"$variant\"}[$window]))'.",
        ),
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Replace what the flag serves now when that is more than the control variant "
            "(a split, or another variant).",
        ),
    ] = False,
    actor: ActorOpt = "",
    as_json: JsonOpt = False,
) -> None:
    """Start rolling a variant of FLAG out, stage by stage, judged by the guardrails.

    Its releases and rollbacks count for the flag's service (--service, the flag's own, or
    the service or one-service team its owner names). The controller that moves it on runs
    in `headway serve`: start rollouts through it (HEADWAY_URL)."""
    queries = {}
    for item in prometheus_query or []:
        metric, sep, query = item.partition("=")
        if not sep or not metric.strip() or not query.strip():
            fail(f"--prometheus-query {item!r} must be METRIC=PROMQL")
        queries[metric.strip()] = query.strip()
    body = {
        "flag": flag,
        "environment": env,
        "treatment": variant,
        "control": control,
        "stages": stages,
        "approvals": approval or [],
        "min_duration": min_duration,
        "min_samples": min_samples,
        "guardrails": guardrail or [],
        "alpha": alpha,
        "service": service,
        "prometheus_url": prometheus_url,
        "prometheus_queries": queries,
    }
    if _remote_url():
        from headway.cli.backend import backend

        known = None
        if control is None or variant is None:  # the server's flag says what they are
            with backend() as answers:
                known = answers.flags.require_flag(flag)
        body["control"], body["treatment"] = _variants(known, flag, env, control, variant)
        _show(_remote("POST", "", {**body, "actor": actor, "force": force}), as_json)
        return
    from headway.flags.service import FlagService
    from headway.rollouts.admission import NO_CONTROLLER_HERE
    from headway.rollouts.plan import RolloutPlan

    actor = actor or common_actor()
    with _service() as svc:
        stored = None
        if control is None or variant is None:  # the stored flag says what they are
            stored = FlagService(svc.store).require_flag(flag)
        body["control"], body["treatment"] = _variants(stored, flag, env, control, variant)
        plan = RolloutPlan.build(**body)  # type: ignore[arg-type]
        replaced = svc.replaces(plan)
        rollout = svc.start(plan, actor=actor, force=force).as_dict()
        notes = [f"replaced {replaced}"] if replaced else []
        _show({**rollout, "notes": [*notes, NO_CONTROLLER_HERE]}, as_json)


def _variants(
    found: Flag | None, flag: str, env: str, control: str | None, variant: str | None
) -> tuple[str, str]:
    """(control, treatment): as given, or what the flag makes plain (the variant it serves
    now, or its off variant under a split; the one other variant), whichever backend the flag
    came from."""
    if control is None:
        env_config = found.environments.get(env) if found else None
        if env_config is None:
            fail(f"give --control: {flag} has no environment {env!r}")
        control = env_config.default.variant or env_config.off_variant
    if variant is None:
        others = [v.key for v in found.variants if v.key != control] if found else []
        if len(others) != 1:
            fail(f"give --variant: {flag} could roll out any of {', '.join(others)}")
        variant = others[0]
    return control, variant


@app.command("list")
def list_command(
    active: Annotated[bool, typer.Option("--active", help="Only rollouts in progress.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Every rollout in the order they started, with the id `headway rollout status --id`
    takes."""
    if _remote_url():
        found = _remote("GET", "", params={"active": active})
    else:
        from headway.rollouts.store import list_rollouts

        with _service() as svc:
            found = [r.as_dict() for r in list_rollouts(svc.store, active_only=active)]
    if as_json:
        console.print_json(json.dumps(found, default=str))
        return
    table = Table("id", "state", "exposure", "started", "finished")
    for rollout in found:
        finished = rollout["finished_at"]
        table.add_row(
            rollout["id"],
            rollout["state"],
            f"{rollout['percent']:g}%",
            rollout["started_at"][:19],
            finished[:19] if finished else "",
        )
    console.print(table if found else "no rollouts; start one with `headway rollout start`")


@app.command()
def status(
    flag: str,
    env: EnvOpt = "production",
    rollout_id: Annotated[
        str | None,
        typer.Option(
            "--id",
            help="One rollout of this flag and environment, by id (`headway rollout list` "
            "shows them); default: the one in progress, else the latest.",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Where the rollout stands, the latest judgement and the last events."""
    if _remote_url():
        _show(_remote("GET", f"/{flag}/{env}", params={"id": rollout_id}), as_json)
        return
    from headway.rollouts import history

    with _service() as svc:
        rollout, events = svc.status(flag, env, rollout_id)
        _show(history.document(svc.store, rollout, events), as_json)


def _command(action: str, flag: str, env: str, actor: str, reason: str | None) -> None:
    if _remote_url():
        body = {"actor": actor, "reason": reason or ""}
        _show(_remote("POST", f"/{flag}/{env}/{action}", body), False)
        return
    with _service() as svc:
        options: dict[str, Any] = {"actor": actor or common_actor()}
        if reason is not None:
            options["reason"] = reason
        _show(getattr(svc, action)(flag, env, **options).as_dict(), False)


@app.command()
def pause(
    flag: str, env: EnvOpt = "production", actor: ActorOpt = "", reason: ReasonOpt = ""
) -> None:
    """Hold the rollout at its current exposure."""
    _command("pause", flag, env, actor, reason)


@app.command()
def resume(flag: str, env: EnvOpt = "production", actor: ActorOpt = "") -> None:
    """Let a paused rollout carry on."""
    _command("resume", flag, env, actor, None)


@app.command()
def advance(flag: str, env: EnvOpt = "production", actor: ActorOpt = "") -> None:
    """Enter the next stage now (this is also how a waiting stage is approved)."""
    _command("advance", flag, env, actor, None)


@app.command()
def abort(
    flag: str, env: EnvOpt = "production", actor: ActorOpt = "", reason: ReasonOpt = ""
) -> None:
    """Stop and serve control to everyone, without calling the change a failure."""
    _command("abort", flag, env, actor, reason)


@app.command()
def rollback(
    flag: str, env: EnvOpt = "production", actor: ActorOpt = "", reason: ReasonOpt = ""
) -> None:
    """Serve control to everyone now and record a failed release and its recovery."""
    _command("rollback", flag, env, actor, reason)


@app.command()
def signals(as_json: JsonOpt = False) -> None:
    """Rollout confidence: completion, abandon and automatic-rollback rates, stage times."""
    if _remote_url():
        data = _remote("GET", "/signals")
    else:
        with _service() as svc:
            data = svc.signals()
    console.print_json(json.dumps(data))


app.command("simulate")(simulate_command)
