"""Rollouts over HTTP, SDK metric telemetry (`/sdk/metrics`), and the controller loop that
runs inside the server.

The loop judges every active rollout each `HEADWAY_ROLLOUT_INTERVAL` seconds (default 5), then
moves the release plans (`headway.rollouts.releases`). Its state is the store, so a restarted
server carries on where the last one stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from headway.api.auth import Editor, Viewer, accepting, acting, sdk_key
from headway.api.fields import STRICT, Instant
from headway.api.params import PageDep
from headway.api.ratelimit import KeyRateLimit
from headway.api.responses import ROLLOUT_ERRORS
from headway.api.scopes import in_environment
from headway.flags.model import Flag, Serve
from headway.flags.service import FlagService
from headway.flags.tokens import Token
from headway.rollouts import history
from headway.rollouts.admission import NO_CONTROLLER_ON_SERVER
from headway.rollouts.controller import RolloutService
from headway.rollouts.plan import PlanError, RolloutError, RolloutNotFound, RolloutPlan
from headway.rollouts.releases import ReleasePlans
from headway.rollouts.results import (
    Accepted,
    RolloutResult,
    RolloutSignals,
    RolloutStarted,
    RolloutStatus,
)
from headway.rollouts.samples import MAX_SAMPLES, check_window
from headway.store import StoreUnavailable

log = logging.getLogger("headway.rollouts")


def _interval() -> float:
    return float(os.environ.get("HEADWAY_ROLLOUT_INTERVAL", "5"))


def _tick(service: RolloutService, plans: ReleasePlans) -> None:
    """One pass of the loop: judge the rollouts, then move the release plans (a rollout that
    completed in this pass lets its plan move on at once). While another replica's controller
    makes its pass, this one skips its own: one pass at a time, each on what the last left."""
    with service.exclusive.held(wait=False) as mine:
        if mine:
            service.tick()
            plans.tick()


async def _control_loop(service: RolloutService, plans: ReleasePlans, interval: float) -> None:
    while True:
        tick = asyncio.ensure_future(asyncio.to_thread(_tick, service, plans))
        try:
            # Shielded: cancelling the loop must not abandon a tick's thread mid-write; the
            # app closes the store right after, under it.
            await asyncio.shield(tick)
        except asyncio.CancelledError:
            await asyncio.wait([tick])
            if not tick.cancelled() and tick.exception() is not None:
                log.error("rollout controller's last tick failed", exc_info=tick.exception())
            raise
        except StoreUnavailable as error:  # an outage is one line per tick, not a traceback
            log.warning("rollout controller tick skipped: %s", error)
        except Exception:  # the loop must outlive one bad tick; the error is logged
            log.exception("rollout controller tick failed")
        await asyncio.sleep(interval)


class _AppFlags:
    """The app's flag service, looked up at each call: the flag routers' lifespan may start
    after this one, and only their service tells SDK streams about a stage change at once.
    Without them (no flag routers installed) a service of our own does the work."""

    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._own: FlagService | None = None

    def _service(self) -> FlagService:
        shared = getattr(self._app.state, "flags", None)
        if isinstance(shared, FlagService):
            return shared
        if self._own is None:
            self._own = FlagService(self._app.state.store)
        return self._own

    def get_flag(self, key: str) -> Flag | None:
        return self._service().get_flag(key)

    def set_default_serve(
        self, key: str, environment: str, serve: Serve, *, actor: str, reason: str
    ) -> None:
        self._service().set_default_serve(key, environment, serve, actor=actor, reason=reason)

    def environment_keys(self) -> list[str]:
        return self._service().environment_keys()

    def set_enabled(self, key: str, environment: str, enabled: bool, *, actor: str) -> Flag:
        return self._service().set_enabled(key, environment, enabled, actor=actor)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app.state.settings
    flags = _AppFlags(app)
    app.state.rollouts = RolloutService(app.state.store, flags, settings=settings)
    app.state.release_plans = ReleasePlans(app.state.store, app.state.rollouts, flags)
    app.state.sample_limit = KeyRateLimit(settings.sample_rate_limit)
    interval = _interval()
    # 0 turns the controller off: a server whose rollouts another `headway serve` drives.
    task = (
        asyncio.create_task(_control_loop(app.state.rollouts, app.state.release_plans, interval))
        if interval > 0
        else None
    )
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


router = APIRouter(
    prefix="/api/rollouts", tags=["rollouts"], lifespan=lifespan, responses=ROLLOUT_ERRORS
)


def get_service(request: Request) -> RolloutService:
    service: RolloutService = request.app.state.rollouts
    return service


ServiceDep = Annotated[RolloutService, Depends(get_service)]


# Changing a release is an editor's act, like changing a flag; reading one needs a viewer
# token; services that report guardrail samples use their server SDK key.
ReporterDep = Annotated[Token, Depends(accepting("admin", "server"))]


ACTOR = (
    "who the change is made for; the audit names the token first (`token:NAME for WHO`), "
    "and only the token when this is empty"
)


class RolloutCreate(BaseModel):
    model_config = STRICT

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
    prometheus_url: str | None = Field(None, description="Prometheus server for the queries")
    prometheus_queries: dict[str, str] = Field(
        default_factory=dict,
        description="metric -> PromQL counting its events with $variant and $window",
        examples=[{"errors": 'sum(increase(errors_total{variant="$variant"}[$window]))'}],
    )
    force: bool = Field(
        False, description="replace what the flag serves now when that is more than `control`"
    )
    actor: str = Field("", max_length=200, description=ACTOR)


class RolloutCommand(BaseModel):
    model_config = STRICT

    actor: str = Field("", max_length=200, description=ACTOR)
    reason: str = ""


class Sample(BaseModel):
    model_config = STRICT

    flag: str = Field(max_length=128)
    variant: str = Field(max_length=128)
    metric: str = Field(
        max_length=100, description="a tracked metric, or '$exposures' for evaluations"
    )
    n: float = Field(ge=0)
    total: float = 0.0
    sumsq: float = Field(0.0, ge=0)


class SampleBatch(BaseModel):
    model_config = STRICT

    environment: str
    batch: str | None = Field(
        None, max_length=64, description="sender's id; a redelivered batch is ignored"
    )
    samples: list[Sample] = Field(max_length=MAX_SAMPLES)


def plan_problem(error: PlanError) -> JSONResponse:
    """404 for an unknown flag, rollout or plan, 409 for a state conflict, 422 otherwise."""
    status = (
        404
        if isinstance(error, RolloutNotFound)
        else 409
        if isinstance(error, RolloutError)
        else 422
    )
    return JSONResponse({"error": str(error)}, status_code=status)


@router.get("", response_model=list[RolloutResult])
def list_rollouts(
    request: Request,
    response: Response,
    page: PageDep,
    service: ServiceDep,
    _: Viewer,
    active: bool = False,
) -> list[dict[str, Any]]:
    from headway.rollouts.store import list_rollouts as query

    rows = [r.as_dict() for r in query(service.store, active_only=active)]
    return page.window(rows, request, response)


@router.post("", status_code=201, response_model=RolloutStarted)
def start(body: RolloutCreate, service: ServiceDep, token: Editor) -> dict[str, Any] | JSONResponse:
    in_environment(token, body.environment, "start a rollout")
    try:
        plan = RolloutPlan.build(**body.model_dump(exclude={"actor", "force"}))
        replaced = service.replaces(plan)
        rollout = service.start(plan, actor=acting(token, body.actor), force=body.force)
    except PlanError as error:
        return plan_problem(error)
    notes = [f"replaced {replaced}"] if replaced else []
    if _interval() <= 0:
        notes.append(NO_CONTROLLER_ON_SERVER)
    return {**rollout.as_dict(), "notes": notes}


@router.get("/signals")
def signals(service: ServiceDep, _: Viewer) -> RolloutSignals:
    return RolloutSignals.model_validate(service.signals())


def _too_many(request: Request, token: Token) -> JSONResponse | None:
    """429 with Retry-After once `token` has sent its share of sample requests."""
    limit: KeyRateLimit = request.app.state.sample_limit
    wait = limit.retry_after(token.id)
    if wait is None:
        return None
    return JSONResponse(
        {
            "error": f"this key has sent {limit} sample requests (HEADWAY_SAMPLE_RATE_LIMIT); "
            f"send fewer, larger batches, or retry in {wait} s"
        },
        status_code=429,
        headers={"Retry-After": str(wait)},
    )


@router.post("/samples", status_code=202, response_model=Accepted)
def ingest(
    request: Request, body: SampleBatch, service: ServiceDep, token: ReporterDep
) -> dict[str, Any] | JSONResponse:
    # A server key speaks for its own environment only: samples it sends about another
    # would judge that environment's rollouts.
    if token.kind == "server" and token.environment != body.environment:
        return JSONResponse(
            {
                "error": f"environment: this server key belongs to {token.environment!r} and "
                f"cannot send samples for {body.environment!r}; use a server key of "
                f"{body.environment!r}"
            },
            status_code=403,
        )
    refused = _too_many(request, token)
    if refused is not None:
        return refused
    try:
        stored = service.ingest(
            body.environment,
            [s.model_dump() for s in body.samples],
            batch=f"{token.id}:{body.batch}" if body.batch else None,
            source=f"http:{token.id}",
        )
    except PlanError as error:
        return plan_problem(error)
    return {"accepted": stored}


@router.get("/{flag}/{environment}", response_model=RolloutStatus)
def status(
    flag: str,
    environment: str,
    service: ServiceDep,
    _: Viewer,
    id: Annotated[
        str | None,
        Query(max_length=300, description="One rollout of this flag and environment, by id."),
    ] = None,
) -> dict[str, Any] | JSONResponse:
    """The rollout in progress (else the latest finished, or the one `id` names), with its
    history, exposures per stage, guardrails over time and the deployments it recorded."""
    try:
        rollout, events = service.status(flag, environment, id)
    except PlanError as error:
        return plan_problem(error)
    return history.document(service.store, rollout, events)


@router.post("/{flag}/{environment}/{action}", response_model=RolloutResult)
def command(
    flag: str,
    environment: str,
    action: Literal["pause", "resume", "advance", "abort", "rollback"],
    service: ServiceDep,
    token: Editor,
    body: RolloutCommand | None = None,
) -> dict[str, Any] | JSONResponse:
    in_environment(token, environment, f"{action} a rollout")
    body = body or RolloutCommand()
    actor = acting(token, body.actor)
    try:
        if action in ("pause", "abort", "rollback"):
            rollout = getattr(service, action)(flag, environment, actor=actor, reason=body.reason)
        else:
            rollout = getattr(service, action)(flag, environment, actor=actor)
    except PlanError as error:
        return plan_problem(error)
    return dict(rollout.as_dict())


# -- SDK metric telemetry ---------------------------------------------------------------------

sdk_router = APIRouter(prefix="/sdk", tags=["sdk"], responses=ROLLOUT_ERRORS)


class SdkMetricBatch(BaseModel):
    batch: str = Field(
        min_length=1, max_length=64, description="sender's id; a redelivered batch is ignored"
    )
    from_: Instant = Field(alias="from")
    to: Instant
    samples: list[Sample] = Field(max_length=MAX_SAMPLES)


@sdk_router.post(
    "/metrics",
    status_code=202,
    response_model=Accepted,
    summary="Tracked metrics from an SDK: n, sum and sum of squares per flag, variant, metric",
)
async def sdk_metrics(
    request: Request,
    body: SdkMetricBatch,
    token: Annotated[Token, Depends(sdk_key("server"))],
) -> dict[str, Any] | JSONResponse:
    """Server SDK keys only: a client key ships inside pages and apps anyone can read, so
    samples sent with it could be anyone's, and a rollout rolls back on them."""
    refused = _too_many(request, token)
    if refused is not None:
        return refused
    service: RolloutService = request.app.state.rollouts
    start, end = _utc(body.from_), _utc(body.to)
    try:
        check_window(start, end, service.clock())
        stored = await asyncio.to_thread(
            service.ingest,
            token.environment or "",
            [s.model_dump() for s in body.samples],
            batch=f"sdk:{token.id}:{body.batch}",
            source=f"sdk:{token.id}",
            measured=(start, end),
        )
    except PlanError as error:
        return plan_problem(error)
    return {"accepted": stored}


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
