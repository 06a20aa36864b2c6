"""Release plans over HTTP: set, read and cancel how a flag is released by itself once its
code is deployed (`headway.rollouts.releases`). The server's control loop moves them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from headway.api.auth import Editor, Viewer, acting
from headway.api.responses import ROLLOUT_ERRORS
from headway.api.rollouts import plan_problem
from headway.api.scopes import in_environment
from headway.rollouts.plan import PlanError
from headway.rollouts.releases import ReleasePlanDocument, ReleasePlans
from headway.rollouts.results import ReleasePlanResult

__all__ = ["router"]

router = APIRouter(prefix="/api/release-plans", tags=["rollouts"], responses=ROLLOUT_ERRORS)

# A flag key, or `*` for the plan every flag a pull request adds gets.
FlagKey = Annotated[
    str,
    Path(
        pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9._:-]{0,127})$",
        description="A flag key, or `*`: the plan given to each flag a pull request adds.",
    ),
]


class ReleasePlanBody(ReleasePlanDocument):
    actor: str = Field("", max_length=200, description="Who the change is made for.")


def _plans(request: Request) -> ReleasePlans:
    plans: ReleasePlans = request.app.state.release_plans
    return plans


PlansDep = Annotated[ReleasePlans, Depends(_plans)]


@router.get("", response_model=list[ReleasePlanResult])
def list_plans(plans: PlansDep, _: Viewer) -> list[dict[str, Any]]:
    return [plan.as_dict() for plan in plans.plans()]


@router.get("/{flag}", response_model=ReleasePlanResult)
def get_plan(flag: FlagKey, plans: PlansDep, _: Viewer) -> dict[str, Any] | JSONResponse:
    plan = plans.get(flag)
    if plan is None:
        return JSONResponse({"error": f"flag {flag!r} has no release plan"}, status_code=404)
    return plan.as_dict()


@router.put("/{flag}", response_model=ReleasePlanResult)
def set_plan(
    flag: FlagKey, body: ReleasePlanBody, plans: PlansDep, token: Editor
) -> dict[str, Any] | JSONResponse:
    for environment in body.environments:
        in_environment(token, environment, "set a release plan")
    document = ReleasePlanDocument.model_validate(body.model_dump(exclude={"actor"}))
    try:
        plan = plans.set_plan(flag, document, actor=acting(token, body.actor))
    except PlanError as error:
        return plan_problem(error)
    return plan.as_dict()


@router.delete("/{flag}", response_model=ReleasePlanResult)
def cancel_plan(flag: FlagKey, plans: PlansDep, token: Editor) -> dict[str, Any] | JSONResponse:
    found = plans.get(flag)
    for environment in found.document.environments if found else []:
        in_environment(token, environment, "cancel a release plan")
    try:
        plan = plans.cancel(flag, actor=acting(token))
    except PlanError as error:
        return plan_problem(error)
    return plan.as_dict()
