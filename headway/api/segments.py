"""Segments and environments over HTTP, beside the flags that use them (`api.flags`)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from headway.api.fields import STRICT
from headway.api.flag_calls import Document, Service, actor, caller, run
from headway.api.params import PageDep
from headway.api.responses import WRITE_ERRORS, Environment
from headway.flags.model import KEY_PATTERN, Segment
from headway.flags.store import EnvironmentRow
from headway.flags.tokens import Token

__all__ = ["router"]

router = APIRouter(
    prefix="/api",
    tags=["flags"],
    dependencies=[Depends(caller)],
    responses=WRITE_ERRORS,
)


@router.get("/segments", tags=["flags"], response_model=list[Segment])
def list_segments(request: Request, response: Response, page: PageDep, service: Service) -> Any:
    return run(request, lambda _: page.window(service.list_segments(), request, response))


@router.put("/segments/{key}", summary="Create or replace a segment", response_model=Segment)
def put_segment(request: Request, service: Service, key: str, document: Document) -> Any:
    return run(request, lambda t: service.put_segment({**document, "key": key}, actor=actor(t)))


@router.get("/segments/{key}", response_model=Segment)
def get_segment(request: Request, service: Service, key: str) -> Any:
    return run(request, lambda _: service.get_segment(key))


@router.delete("/segments/{key}", status_code=204, response_model=None)
def delete_segment(request: Request, service: Service, key: str) -> Any:
    result = run(request, lambda t: service.delete_segment(key, actor=actor(t)))
    return result if isinstance(result, JSONResponse) else Response(status_code=204)


@router.get("/environments", response_model=list[Environment])
def list_environments(request: Request, response: Response, page: PageDep, service: Service) -> Any:
    return run(
        request,
        lambda _: page.window(
            [_environment_json(e) for e in service.environments()],
            request,
            response,
        ),
    )


class EnvironmentCreate(BaseModel):
    model_config = STRICT

    key: str = Field(pattern=KEY_PATTERN, description="Letters, digits, '.', '_' or '-'.")
    name: str | None = None
    description: str | None = None


@router.post("/environments", status_code=201, response_model=Environment)
def create_environment(request: Request, service: Service, body: EnvironmentCreate) -> Any:
    def action(t: Token) -> dict[str, Any]:
        env = service.create_environment(
            body.key, name=body.name, description=body.description, actor=actor(t)
        )
        return _environment_json(env)

    return run(request, action, status=201)


def _environment_json(env: EnvironmentRow) -> dict[str, Any]:
    return {
        "key": env.key,
        "name": env.name,
        "description": env.description,
        "cors_origins": list(env.cors_origins),
    }


class CorsOrigins(BaseModel):
    model_config = STRICT

    origins: list[str] = Field(
        max_length=1000,
        description="browser origins such as https://app.example.com; [] allows none",
    )


@router.put(
    "/environments/{key}/cors-origins",
    summary="Replace the browser origins allowed to call this environment's client endpoints",
    response_model=Environment,
)
def put_cors_origins(request: Request, service: Service, key: str, body: CorsOrigins) -> Any:
    return run(
        request,
        lambda t: _environment_json(service.set_cors_origins(key, body.origins, actor=actor(t))),
    )
