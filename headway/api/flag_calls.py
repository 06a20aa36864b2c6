"""What every flag route shares: who may call it (checked before the body is read), the flag
service, and `run`, which turns the service's refusals into 4xx answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal, TypeVar

from fastapi import Body, Depends, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from headway.api.auth import Role, require
from headway.api.scopes import every_environment, in_environment
from headway.flags.model import ConfigError
from headway.flags.service import Conflict, FlagService, NotFound
from headway.flags.tokens import Token

__all__ = [
    "ChangeAction",
    "Document",
    "IfMatch",
    "Service",
    "actor",
    "caller",
    "if_match_version",
    "run",
]

T = TypeVar("T")


def _role(request: Request) -> Role:
    """Reads (and `explain`) need a viewer token, changes an editor's, changes to environments
    (new ones, their CORS origins) an admin's."""
    path = request.url.path
    if path.startswith("/api/environments") and request.method != "GET":
        return "admin"
    if request.method == "GET" or path.endswith("/explain"):
        return "viewer"
    return "editor"


def caller(request: Request) -> Token:
    """Checked as the router's dependency, so before any body is read or validated."""
    role = _role(request)
    token = require(role)(request)
    if role == "editor" and token.environments is not None:
        _within_environments(request, token)
    request.state.token = token
    return token


def _within_environments(request: Request, token: Token) -> None:
    """An environment-scoped editor changes what its environments serve, nothing wider."""
    environment = request.path_params.get("environment")
    if environment is not None:
        in_environment(token, environment, "change this flag")
    elif request.url.path.startswith("/api/segments"):
        every_environment(token, "change a segment")
    elif not request.url.path.endswith("/kill") and not _scheduling(request):
        # The kill switch's body names where, and so do a schedule and the schedule cancelled:
        # their routes check that environment.
        every_environment(token, "change a whole flag")


def _scheduling(request: Request) -> bool:
    """Whether the request was routed to a schedule's route (by its template, so a flag whose
    key is `schedules` is not one)."""
    route = getattr(request.scope.get("route"), "path", "")
    return isinstance(route, str) and route.startswith("/api/flags/{key}/schedules")


def _service(request: Request) -> FlagService:
    service: FlagService = request.app.state.flags
    return service


Service = Annotated[FlagService, Depends(_service)]


def actor(token: Token) -> str:
    return f"token:{token.name}"


def run(request: Request, action: Callable[[Token], T], status: int = 200) -> Any:
    """Run `action` as the caller the router authenticated, turning domain errors into 4xx
    responses."""
    try:
        result = action(request.state.token)
    except ConfigError as exc:
        problems = [{"field": i.path, "problem": i.message} for i in exc.issues]
        return JSONResponse(
            {"error": "invalid configuration", "problems": problems}, status_code=422
        )
    except NotFound as exc:
        return JSONResponse({"error": str(exc)}, status_code=404)
    except Conflict as exc:
        return JSONResponse({"error": str(exc)}, status_code=409)
    if status != 200:
        return JSONResponse(_jsonable(result), status_code=status)
    return _jsonable(result)


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def if_match_version(if_match: str | None) -> int | None:
    if if_match is None:
        return None
    text = if_match.strip().strip('"').removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else None


IfMatch = Annotated[str | None, Header(description="the flag version your change is based on")]
Document = Annotated[dict[str, Any], Body()]
# The names the CLI gives environment changes, so history reads the same whichever way they came.
ChangeAction = Literal["update", "split", "rule-add", "rule-remove"]
