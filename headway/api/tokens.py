"""API tokens over HTTP, for admins: list, create (the secret is in that answer only), revoke.

A viewer or editor token may be scoped to teams or environments (`headway.api.scopes`).
Creating tokens is rate-limited per caller (`HEADWAY_TOKEN_RATE_LIMIT`), so a stolen admin
session cannot mint them by the thousand before anyone notices.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from headway.api.auth import require
from headway.api.fields import STRICT, AwareInstant
from headway.api.params import PageDep
from headway.api.ratelimit import token_limit, too_many
from headway.api.responses import WRITE_ERRORS, Error, NewToken, TokenInfo
from headway.flags.model import ConfigError
from headway.flags.tokens import Token, TokenKind

__all__ = ["ScopeNames", "router", "token_json"]

router = APIRouter(
    prefix="/api",
    tags=["tokens"],
    dependencies=[Depends(require("admin"))],
    responses={
        **WRITE_ERRORS,
        429: {"model": Error, "description": "This caller made too many tokens; see Retry-After"},
    },
)
# A team or environment name as a scope holds: not blank, not absurd.
ScopeName = Annotated[str, Field(min_length=1, max_length=200, pattern=r"\S")]
ScopeNames = list[ScopeName] | None


def _names(description: str) -> Any:
    return Field(None, min_length=1, max_length=100, description=description)


class TokenCreate(BaseModel):
    model_config = STRICT

    kind: TokenKind = Field(
        description="viewer (reads), editor (also changes flags, segments, notes, rollouts), "
        "admin (also tokens, users, environments, imports), scrape (/metrics only), "
        "server (SDK key) or client (OFREP key, client-side flags only)"
    )
    name: str
    environment: str | None = Field(None, description="The environment of a server or client key.")
    expires_at: AwareInstant | None = Field(
        None, description="When the token stops working; none means until it is revoked."
    )
    teams: ScopeNames = _names("Viewer or editor: the only teams whose records it reads.")
    environments: ScopeNames = _names(
        "Viewer or editor: the only environments whose flags and rollouts it changes."
    )


def token_json(token: Token) -> dict[str, Any]:
    return {
        "id": token.id,
        "kind": token.kind,
        "environment": token.environment,
        "name": token.name,
        "created_by": token.created_by,
        "created_at": token.created_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "teams": list(token.teams) if token.teams is not None else None,
        "environments": list(token.environments) if token.environments is not None else None,
    }


Caller = Annotated[Token, Depends(require("admin"))]


def _invalid(error: ConfigError) -> JSONResponse:
    problems = [{"field": i.path, "problem": i.message} for i in error.issues]
    return JSONResponse({"error": "invalid token", "problems": problems}, status_code=422)


@router.get("/tokens", response_model=list[TokenInfo])
def list_tokens(request: Request, response: Response, page: PageDep) -> Any:
    tokens = request.app.state.tokens.list()
    return page.window([token_json(t) for t in tokens], request, response)


@router.post(
    "/tokens",
    status_code=201,
    summary="Create a token; its secret is in the answer and nowhere else",
    response_model=NewToken,
)
def create_token(request: Request, body: TokenCreate, caller: Caller) -> Any:
    refused = too_many(token_limit(request.app), caller.id, "tokens", "HEADWAY_TOKEN_RATE_LIMIT")
    if refused is not None:
        return refused
    try:
        token, secret = request.app.state.tokens.create(
            body.kind,
            name=body.name,
            actor=f"token:{caller.name}",
            environment=body.environment,
            expires_at=body.expires_at,
            teams=body.teams,
            environments=body.environments,
        )
    except ConfigError as error:
        return _invalid(error)
    return JSONResponse({**token_json(token), "secret": secret}, status_code=201)


@router.delete("/tokens/{token_id}", status_code=204, response_model=None)
def revoke_token(request: Request, token_id: str, caller: Caller) -> Any:
    if not request.app.state.tokens.revoke(token_id, actor=f"token:{caller.name}"):
        return JSONResponse({"error": f"no live token '{token_id}'"}, status_code=404)
    return Response(status_code=204)
