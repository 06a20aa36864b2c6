"""People who sign in through the identity provider, for admins: list, add (an admin's grant),
change a role or scope, remove. `headway users` and the web app's users page do the same."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from headway.api.auth import require
from headway.api.fields import STRICT
from headway.api.params import PageDep
from headway.api.responses import WRITE_ERRORS
from headway.api.tokens import ScopeNames
from headway.flags.model import ConfigError
from headway.flags.service import NotFound
from headway.flags.tokens import Token
from headway.flags.users import UserRow, UserService
from headway.metrics.results import Result

__all__ = ["UserInfo", "router", "user_json"]

router = APIRouter(
    prefix="/api",
    tags=["users"],
    dependencies=[Depends(require("admin"))],
    responses=WRITE_ERRORS,
)
Caller = Annotated[Token, Depends(require("admin"))]
Email = Annotated[str, Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")]


class UserInfo(Result):
    id: str
    email: str
    name: str
    role: str | None = Field(description="viewer, editor or admin; null before a first sign-in")
    role_from: str = Field(
        description="admin (granted here, kept over sign-ins) or groups (the identity "
        "provider's groups, mapped by HEADWAY_OIDC_ROLE_MAP at each sign-in)"
    )
    teams: list[str] | None = Field(description="The only teams they read; null: every team.")
    environments: list[str] | None = Field(
        description="The only environments they change; null: every environment."
    )
    created_by: str
    created_at: str
    signed_in_at: str | None
    removed_at: str | None


class UserCreate(BaseModel):
    model_config = STRICT

    email: Email
    role: str = Field(pattern="^(viewer|editor|admin)$")
    name: str | None = Field(None, max_length=200)
    teams: ScopeNames = Field(None, min_length=1, max_length=100)
    environments: ScopeNames = Field(None, min_length=1, max_length=100)


class UserRole(BaseModel):
    model_config = STRICT

    role: str | None = Field(
        pattern="^(viewer|editor|admin)$",
        description="The role an admin grants; null hands it back to the identity provider's "
        "groups from the next sign-in.",
    )
    teams: ScopeNames = Field(None, min_length=1, max_length=100)
    environments: ScopeNames = Field(None, min_length=1, max_length=100)


def user_json(user: UserRow) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "role_from": user.role_from,
        "teams": list(user.teams) if user.teams is not None else None,
        "environments": list(user.environments) if user.environments is not None else None,
        "created_by": user.created_by,
        "created_at": user.created_at.isoformat(),
        "signed_in_at": user.signed_in_at.isoformat() if user.signed_in_at else None,
        "removed_at": user.removed_at.isoformat() if user.removed_at else None,
    }


def _users(request: Request) -> UserService:
    users: UserService = request.app.state.users
    return users


Users = Annotated[UserService, Depends(_users)]


def _refusal(error: Exception) -> JSONResponse:
    if isinstance(error, ConfigError):
        problems = [{"field": i.path, "problem": i.message} for i in error.issues]
        return JSONResponse({"error": "invalid user", "problems": problems}, status_code=422)
    return JSONResponse({"error": str(error)}, status_code=404)


@router.get("/users", response_model=list[UserInfo], summary="People, with role and scope")
def list_users(
    request: Request, response: Response, page: PageDep, users: Users, removed: bool = False
) -> Any:
    return page.window([user_json(u) for u in users.list(removed=removed)], request, response)


@router.post("/users", status_code=201, response_model=UserInfo, summary="Grant a person a role")
def add_user(users: Users, body: UserCreate, caller: Caller) -> Any:
    try:
        user = users.add(
            body.email,
            body.role,
            actor=f"token:{caller.name}",
            name=body.name,
            teams=body.teams,
            environments=body.environments,
        )
    except ConfigError as error:
        return _refusal(error)
    return JSONResponse(user_json(user), status_code=201)


@router.put("/users/{email}", response_model=UserInfo, summary="Change a person's role or scope")
def set_role(users: Users, email: str, body: UserRole, caller: Caller) -> Any:
    try:
        user = users.set_role(
            email,
            body.role,
            actor=f"token:{caller.name}",
            teams=body.teams,
            environments=body.environments,
        )
    except (ConfigError, NotFound) as error:
        return _refusal(error)
    return user_json(user)


@router.delete("/users/{email}", status_code=204, response_model=None, summary="Remove a person")
def remove_user(users: Users, email: str, caller: Caller) -> Any:
    try:
        users.remove(email, actor=f"token:{caller.name}")
    except (ConfigError, NotFound) as error:
        return _refusal(error)
    return Response(status_code=204)
