"""What a rollout's start settles before anything moves: the service its releases count for,
what its first stage replaces, and which guardrail metrics it still waits for.

Evidence belongs to a service, with its team and operating context, so a rollout's releases
and rollbacks count for the service the person starting it names, or the flag's own
`service`, or what the flag's `owner` plainly means (a service of that name, or a team with
exactly one service). Otherwise the person is asked, never answered with a service made up
from the flag's key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass

from headway.flags.model import Flag
from headway.rollouts.plan import PlanError, RolloutError, RolloutPlan
from headway.rollouts.store import active_rollout, known_metrics
from headway.store import Store, access

__all__ = [
    "NO_CONTROLLER_HERE",
    "NO_CONTROLLER_ON_SERVER",
    "Admitted",
    "admit",
    "owning_service",
    "services_and_teams",
]

# What a start says when nothing will move the rollout on: a command run on the store itself
# (the controller lives in `headway serve`), or a server whose controller is switched off.
NO_CONTROLLER_HERE = (
    "no rollout controller runs here: the rollout holds its first stage until `headway "
    "serve` runs on this store (its controller judges every rollout every "
    "HEADWAY_ROLLOUT_INTERVAL seconds, 5 by default); start it, then steer the rollout "
    "through it with HEADWAY_URL"
)
NO_CONTROLLER_ON_SERVER = (
    "this server runs no rollout controller (HEADWAY_ROLLOUT_INTERVAL=0): the rollout holds "
    "its first stage until a `headway serve` with a controller runs on the same store"
)


@dataclass(frozen=True)
class Admitted:
    plan: RolloutPlan  # with the service its releases count for
    waits_for: list[str]  # guardrail metrics that have not reached Headway yet
    replaced: str | None  # what the first stage serves instead of (forced), if anything


def admit(store: Store, plan: RolloutPlan, flag: Flag, *, force: bool) -> Admitted:
    """`plan` settled for `flag`, or a PlanError (RolloutError for a conflict) saying what to
    change."""
    service = owning_service(flag, plan.service, services_and_teams(store))
    plan = dataclasses.replace(plan, service=service)
    running = active_rollout(store, plan.flag, plan.environment)
    if running is not None:
        raise RolloutError(
            f"flag {plan.flag!r} is already rolling out in {plan.environment} "
            f"({running.state} at {running.percent:g}%); abort or finish it first"
        )
    replaced = plan.replaces(flag)
    if replaced and not force:
        raise RolloutError(
            f"flag {plan.flag!r} already serves {replaced}; the rollout would replace it with "
            f"{plan.describe_stage(0)}. Start it with --force (`force` in the API) to replace "
            f"it, or serve {plan.control!r} first: `headway flags set {plan.flag} --env "
            f"{plan.environment} --default {plan.control}`"
        )
    known = known_metrics(store, plan.environment)
    known |= {metric for metric, _ in plan.prometheus_queries}
    unknown = sorted({g.metric for g in plan.guardrails} - known)
    if unknown and known:  # a typo, most likely; with none known yet, a first rollout
        raise PlanError(
            f"guardrail metric(s) {', '.join(unknown)} have never reached Headway for "
            f"{plan.environment}; known metrics: {', '.join(sorted(known)) or 'none yet'}. "
            "Check the spelling, or send the metric first (SDK client.track() or "
            "POST /api/rollouts/samples)"
        )
    return Admitted(plan, unknown, replaced)


def services_and_teams(store: Store) -> dict[str, str | None]:
    """Every service the store knows, with its team."""
    return access.all_service_teams(store)


def owning_service(flag: Flag, given: str, services: Mapping[str, str | None]) -> str:
    """The service `flag`'s rollout counts for: `given`, the flag's `service`, or its owner's.

    A named service must be one the store knows (a typo would otherwise start a service of its
    own), unless the store knows none yet. Raises PlanError naming `--service` otherwise."""
    ask = (
        f"give the service whose users see {flag.key!r} (`--service NAME`; `service` in the "
        f"API), or record it on the flag: `headway flags set {flag.key} --service NAME`"
    )
    known = ", ".join(sorted(services)) or "none yet"
    for named, where in ((given, "--service"), (flag.service, f"flag {flag.key!r}'s service")):
        if not named:
            continue
        if services and named not in services:
            raise PlanError(
                f"{where} {named!r} is not a service Headway knows (known services: {known}); "
                "check the spelling, or import the service first"
            )
        return named
    owner = flag.owner
    if owner in services:
        return owner
    teams = sorted(name for name, team in services.items() if team == owner)
    if len(teams) == 1:
        return teams[0]
    if teams:
        why = f"its owner {owner!r} is a team of {len(teams)} services ({', '.join(teams)})"
    else:
        why = f"its owner {owner!r} is neither a service nor a team (known services: {known})"
    raise PlanError(f"flag {flag.key!r} names no service its releases count for: {why}; {ask}")
