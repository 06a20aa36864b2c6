"""The developer confidence pulse: its results per team and month, and survey links.

Reading the results takes a viewer token (narrowed to a team-scoped token's teams, as every
delivery read); making a survey link, an admin's. Answers come in through the web app
(`headway.web.pulse`): anonymous, they carry no credential worth an API of their own.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from headway.api.auth import Admin, acting
from headway.api.deps import StoreDep
from headway.api.fields import STRICT
from headway.api.responses import READ_ERRORS
from headway.api.scopes import team_reader
from headway.interpret import pulse, pulse_links
from headway.interpret.pulse_results import PulseLink, PulseResults

__all__ = ["router"]

router = APIRouter(
    prefix="/api", tags=["pulse"], dependencies=[Depends(team_reader)], responses=READ_ERRORS
)


@router.get("/pulse", summary="The developer confidence pulse per team and month")
def get_pulse(
    store: StoreDep,
    team: Annotated[str | None, Query(description="Only this team.", min_length=1)] = None,
) -> PulseResults:
    return PulseResults.model_validate(pulse.results(store, team))


class LinkCreate(BaseModel):
    model_config = STRICT

    team: str = Field(min_length=1, description="The team whose pulse the link answers.")
    days: int = Field(
        pulse_links.DEFAULT_DAYS,
        ge=1,
        le=pulse_links.MAX_DAYS,
        description="How many days the link stays open.",
    )


@router.post("/pulse/links", status_code=201, summary="Make a survey link for a team's pulse")
def post_link(request: Request, store: StoreDep, body: LinkCreate, token: Admin) -> PulseLink:
    made = pulse_links.create(
        store, body.team, body.days, actor=acting(token), now=datetime.now(UTC)
    )
    url = str(request.base_url).rstrip("/") + made["path"]
    return PulseLink.model_validate({**made, "url": url})
