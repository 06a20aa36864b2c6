"""Scheduled flag changes over HTTP, and the runner that applies them inside the server.

Every `HEADWAY_SCHEDULE_INTERVAL` seconds (default 5; 0 turns it off on this server) the
runner takes the due schedules no other runner holds and applies them through the flag
service (`headway.flags.schedules`). It ticks once as the server starts, so a time that passed
while no server ran is caught up at once. Its state is the store: any number of servers on one
PostgreSQL run their runners, and each schedule is applied by one of them, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from headway.api.auth import acting
from headway.api.fields import STRICT
from headway.api.flag_calls import caller, run
from headway.api.params import PageDep
from headway.api.responses import WRITE_ERRORS
from headway.api.scopes import in_environment
from headway.flags.results import Action, Schedule
from headway.flags.schedules import ScheduleService
from headway.flags.tokens import Token
from headway.store import StoreUnavailable

__all__ = ["lifespan", "router"]

log = logging.getLogger("headway.flags")


async def _run_schedules(service: ScheduleService, interval: float) -> None:
    while True:
        try:
            for done in await asyncio.to_thread(service.run_due):
                log.info(
                    "schedule %s (%s %s in %s): %s, %s",
                    done.id,
                    done.change,
                    done.flag,
                    done.environment,
                    done.state,
                    done.outcome,
                )
        except StoreUnavailable as error:  # an outage is one line per tick, not a traceback
            log.warning("scheduled changes not applied this time: %s", error)
        except Exception:  # the runner must outlive one bad tick; the error is logged
            log.exception("scheduled changes could not be applied")
        await asyncio.sleep(interval)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    service = ScheduleService(app.state.store)
    app.state.schedules = service
    interval = app.state.settings.schedule_interval
    task = asyncio.create_task(_run_schedules(service, interval)) if interval > 0 else None
    try:
        yield
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# Who may call each route is `caller`'s rule for flags: a viewer reads, an editor schedules
# and cancels (one scoped to environments, only in its own).
router = APIRouter(
    prefix="/api",
    tags=["flags"],
    lifespan=lifespan,
    dependencies=[Depends(caller)],
    responses=WRITE_ERRORS,
)


def _service(request: Request) -> ScheduleService:
    service: ScheduleService = request.app.state.schedules
    return service


Service = Annotated[ScheduleService, Depends(_service)]
Finished = Annotated[
    bool, Query(alias="all", description="also those applied, failed or cancelled")
]


class ScheduleCreate(BaseModel):
    model_config = STRICT

    environment: str = Field(max_length=128)
    action: Action = Field(
        description="on, off, kill, or serve (`variant` by default: to all no rule targets)"
    )
    variant: str | None = Field(None, max_length=128, description="the variant `serve` serves")
    at: str = Field(
        max_length=64,
        description="a date and time, `2026-12-08 09:00` with `tz`, or an instant with its "
        "offset, `2026-12-08T09:00+01:00`; it must be in the future",
        examples=["2026-12-08 09:00"],
    )
    tz: str | None = Field(
        None, max_length=64, description="an IANA time zone for `at`", examples=["Europe/Paris"]
    )
    reason: str | None = Field(None, max_length=500, description="kept in the flag's history")
    actor: str = Field(
        "",
        max_length=200,
        description="who the change is made for; the schedule names the token first "
        "(`token:NAME for WHO`)",
    )


@router.post(
    "/flags/{key}/schedules",
    summary="Schedule a change to a flag in one environment",
    status_code=201,
    response_model=Schedule,
)
def create_schedule(request: Request, service: Service, key: str, body: ScheduleCreate) -> Any:
    in_environment(request.state.token, body.environment, "schedule a change")

    def create(token: Token) -> Schedule:
        return service.create(
            key,
            environment=body.environment,
            action=body.action,
            variant=body.variant,
            at=body.at,
            tz=body.tz,
            reason=body.reason,
            actor=acting(token, body.actor),
        )

    return run(request, create, status=201)


@router.get(
    "/flags/{key}/schedules",
    summary="A flag's scheduled changes, the earliest first",
    response_model=list[Schedule],
)
def flag_schedules(
    request: Request,
    response: Response,
    page: PageDep,
    service: Service,
    key: str,
    finished: Finished = False,
) -> Any:
    return run(
        request,
        lambda _: page.window(
            service.list_schedules(finished=finished, flag=key), request, response
        ),
    )


@router.delete(
    "/flags/{key}/schedules/{schedule_id}",
    summary="Cancel a scheduled change that has not run",
    response_model=Schedule,
)
def cancel_schedule(request: Request, service: Service, key: str, schedule_id: str) -> Any:
    def cancel(token: Token) -> Schedule:
        found = service.get(schedule_id)
        in_environment(token, found.environment, "cancel a scheduled change")
        return service.cancel(schedule_id, actor=acting(token), flag=key)

    return run(request, cancel)


@router.get(
    "/flag-schedules",
    summary="Every flag's scheduled changes, the earliest first",
    response_model=list[Schedule],
)
def all_schedules(
    request: Request,
    response: Response,
    page: PageDep,
    service: Service,
    finished: Finished = False,
) -> Any:
    return run(
        request, lambda _: page.window(service.list_schedules(finished=finished), request, response)
    )


@router.get(
    "/flag-schedules/{schedule_id}", summary="One scheduled change", response_model=Schedule
)
def one_schedule(request: Request, service: Service, schedule_id: str) -> Any:
    return run(request, lambda _: service.get(schedule_id))
