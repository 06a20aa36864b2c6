"""Flags and code over HTTP: a flag's lifecycle, the stale flags, and code references.

`headway flags refs PATH` scans a checkout where it runs and posts what it found here; the
server never reads a path it is sent.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from headway.api.auth import require
from headway.api.fields import STRICT
from headway.api.flag_calls import Service, run
from headway.api.responses import WRITE_ERRORS
from headway.flags.lifecycle import RELEASE_ENVIRONMENT, FlagLifecycle, StaleFlag
from headway.flags.model import KEY_PATTERN
from headway.flags.references import ReferenceReport
from headway.flags.refs import Reference, Scan
from headway.flags.tokens import Token

__all__ = ["router"]


def _caller(request: Request) -> Token:
    token = require("viewer" if request.method == "GET" else "editor")(request)
    request.state.token = token
    return token


router = APIRouter(
    prefix="/api", tags=["flags"], dependencies=[Depends(_caller)], responses=WRITE_ERRORS
)

ReleaseEnvironment = Annotated[
    str,
    Query(
        pattern=KEY_PATTERN,
        description="The environment whose first full serve counts as the release.",
    ),
]


@router.get("/flags/{key}/lifecycle", summary="A flag's owner, kind and dates")
def flag_lifecycle(
    request: Request,
    service: Service,
    key: str,
    release_environment: ReleaseEnvironment = RELEASE_ENVIRONMENT,
) -> FlagLifecycle:
    result: FlagLifecycle = run(request, lambda _: service.lifecycle(key, release_environment))
    return result


@router.get("/stale-flags", summary="Flags whose checks can leave the code, and why")
def stale_flags(
    request: Request,
    service: Service,
    after_days: Annotated[
        int,
        Query(
            ge=1,
            le=3650,
            description="Days a release flag must have been fully on or off, unchanged.",
        ),
    ] = 30,
) -> list[StaleFlag]:
    result: list[StaleFlag] = run(request, lambda _: service.stale(timedelta(days=after_days)))
    return result


class ReferenceIn(BaseModel):
    model_config = STRICT

    flag: str = Field(pattern=KEY_PATTERN)
    path: str = Field(min_length=1, max_length=4096)
    line: int = Field(ge=1, le=2**31 - 1)
    pattern: str = Field(min_length=1, max_length=200)


class ScanIn(BaseModel):
    """What `headway flags refs` found in a checkout."""

    model_config = STRICT

    repository: str = Field(min_length=1, max_length=300)
    commit: str | None = Field(default=None, pattern=r"^[0-9a-f]{40}([0-9a-f]{24})?$")
    files: int = Field(ge=0, le=2**31 - 1)
    references: list[ReferenceIn] = Field(max_length=100_000)
    skipped: list[str] = Field(default_factory=list, max_length=100_000)


@router.post("/flag-refs", summary="Record a scan of a repository's code")
def record_references(request: Request, service: Service, body: ScanIn) -> ReferenceReport:
    scan = Scan(
        body.commit,
        body.files,
        tuple(Reference(r.flag, r.path, r.line, r.pattern) for r in body.references),
        tuple(body.skipped),
    )
    result: ReferenceReport = run(
        request,
        lambda token: service.record_references(body.repository, scan, actor=f"token:{token.name}"),
    )
    return result


@router.get("/flag-refs", summary="The newest scan of a repository, against Headway's flags")
def reference_report(
    request: Request,
    service: Service,
    repository: Annotated[str, Query(min_length=1, max_length=300)],
) -> ReferenceReport:
    result: ReferenceReport = run(request, lambda _: service.reference_report(repository))
    return result
