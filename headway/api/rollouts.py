"""Rollouts over HTTP, and the controller loop that runs inside the server.

The loop judges every active rollout each `HEADWAY_ROLLOUT_INTERVAL` seconds (default 5).
Its state is the store, so a restarted server carries on where the last one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from headway.flags.service import FlagService
from headway.rollouts.controller import RolloutError, RolloutNotFound, RolloutService
from headway.rollouts.plan import PlanError, RolloutPlan

log = logging.getLogger("headway.rollouts")


def _interval() -> float:
    return float(os.environ.get("HEADWAY_ROLLOUT_INTERVAL", "5"))


async def _control_loop(service: RolloutService, interval: float) -> None:
    while True:
        try:
            await asyncio.to_thread(service.tick)
        except Exception:  # the loop must outlive one bad tick; the error is logged
            log.exception("rollout controller tick failed")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Use the app's flag service when it has one, so stage changes reach SDKs at once.
    shared = [v for v in app.state._state.values() if isinstance(v, FlagService)]
    flags = shared[0] if shared else FlagService(app.state.store)
    app.state.rollouts = RolloutService(app.state.store, flags)
    task = asyncio.create_task(_control_loop(app.state.rollouts, _interval()))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


router = APIRouter(prefix="/api/rollouts", tags=["rollouts"], lifespan=lifespan)


def get_service(request: Request) -> RolloutService:
    service: RolloutService = request.app.state.rollouts
    return service


ServiceDep = Annotated[RolloutService, Depends(get_service)]


class RolloutCreate(BaseModel):
    flag: str
    environment: str = "production"
    treatment: str = Field(description="the variant being rolled out")
    control: str = Field(description="the variant everyone else keeps")
    stages: str = Field("1,5,25,50,100", description="percentages, comma-separated, ending at 100")
    approvals: list[float] = Field(default_factory=list, description="stages that need a person")
    min_duration: str = "10m"
    min_samples: int = Field(500, ge=0)
    guardrails: list[str] = Field(
        default_factory=list, examples=[["errors:rate:increase:0%:rollback"]]
    )
    alpha: float = Field(0.05, gt=0, lt=1)
    service: str = ""
    actor: str = "api"


class RolloutCommand(BaseModel):
    actor: str = "api"
    reason: str = ""


class Sample(BaseModel):
    flag: str
    variant: str
    metric: str = Field(description="a tracked metric, or '$exposures' for evaluations")
    n: float = Field(ge=0)
    total: float = 0.0
    sumsq: float = Field(0.0, ge=0)


class SampleBatch(BaseModel):
    environment: str
    batch: str | None = Field(None, description="sender's id; a redelivered batch is ignored")
    samples: list[Sample]


def _problem(error: PlanError) -> JSONResponse:
    status = (
        404
        if isinstance(error, RolloutNotFound)
        else 409
        if isinstance(error, RolloutError)
        else 422
    )
    return JSONResponse({"error": str(error)}, status_code=status)


@router.get("")
def list_rollouts(service: ServiceDep, active: bool = False) -> list[dict[str, Any]]:
    from headway.rollouts.store import list_rollouts as query

    return [r.as_dict() for r in query(service.store, active_only=active)]


@router.post("", status_code=201, response_model=None)
def start(body: RolloutCreate, service: ServiceDep) -> dict[str, Any] | JSONResponse:
    try:
        plan = RolloutPlan.build(**body.model_dump(exclude={"actor"}))
        return service.start(plan, actor=body.actor).as_dict()
    except PlanError as error:
        return _problem(error)


@router.get("/signals")
def signals(service: ServiceDep) -> dict[str, Any]:
    return service.signals()


@router.post("/samples", status_code=202, response_model=None)
def ingest(body: SampleBatch, service: ServiceDep) -> dict[str, Any] | JSONResponse:
    try:
        stored = service.ingest(
            body.environment,
            [s.model_dump() for s in body.samples],
            batch=body.batch,
            source="http",
        )
    except PlanError as error:
        return _problem(error)
    return {"accepted": stored}


@router.get("/{flag}/{environment}", response_model=None)
def status(flag: str, environment: str, service: ServiceDep) -> dict[str, Any] | JSONResponse:
    try:
        rollout, events = service.status(flag, environment)
    except PlanError as error:
        return _problem(error)
    return {**rollout.as_dict(), "events": [e.as_dict() for e in events]}


@router.post("/{flag}/{environment}/{action}", response_model=None)
def command(
    flag: str,
    environment: str,
    action: Literal["pause", "resume", "advance", "abort", "rollback"],
    service: ServiceDep,
    body: RolloutCommand | None = None,
) -> dict[str, Any] | JSONResponse:
    body = body or RolloutCommand()
    try:
        if action in ("pause", "abort", "rollback"):
            rollout = getattr(service, action)(
                flag, environment, actor=body.actor, reason=body.reason
            )
        else:
            rollout = getattr(service, action)(flag, environment, actor=body.actor)
    except PlanError as error:
        return _problem(error)
    return dict(rollout.as_dict())
