"""The GitHub App's risky-code rules over HTTP: list them, set one, remove one.

`headway github risky-rule …` calls these through a server, and the same service on a store.
A rule a JSON schema accepts can still be refused by the service (a pattern that is not
gitignore's, one that matches every file, a `..`): 422 naming the field, as the CLI's exit 2.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from headway.api.auth import Admin, Viewer
from headway.api.deps import StoreDep
from headway.api.fields import STRICT
from headway.api.responses import AUTH_ERRORS, Error
from headway.api.scopes import every_team
from headway.github.risky import (
    MAX_MIN_LINES,
    MAX_PATTERN_LENGTH,
    MAX_PATTERNS,
    REPOSITORY_PATTERN,
    NoRule,
    RiskyRule,
    RiskyRules,
    RuleError,
)

__all__ = ["router"]

router = APIRouter(prefix="/api/github", tags=["github"], responses=AUTH_ERRORS)
Repository = Annotated[
    str,
    Field(
        min_length=1,
        max_length=201,
        pattern=REPOSITORY_PATTERN,
        description="owner/name, or `*` for the rule of every repository without its own.",
    ),
]
_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {
        "model": Error,
        "description": "A field that is not valid, named in `error` (a pattern gitignore "
        "does not read, one matching every file, a rule with neither paths nor min_lines), "
        "or `problems` for the body's shape.",
    }
}


class RuleBody(BaseModel):
    model_config = STRICT

    repository: Repository
    paths: list[Annotated[str, Field(min_length=1, max_length=MAX_PATTERN_LENGTH)]] = Field(
        default=[],
        max_length=MAX_PATTERNS,
        description="gitignore-style patterns of risky files, from the repository's root: "
        "`migrations/**`, `src/payments/**`, `*.sql`; `!` excludes.",
    )
    min_lines: int | None = Field(
        default=None,
        ge=1,
        le=MAX_MIN_LINES,
        description="Changed lines (additions plus deletions) from which any change is risky.",
    )


def _rules(store: StoreDep) -> RiskyRules:
    return RiskyRules(store)


@router.get("/risky-rules", summary="The risky-code rules", response_model=list[RiskyRule])
def list_rules(store: StoreDep, token: Viewer) -> Any:
    every_team(token, "every repository's risky-code rule")
    return _rules(store).list()


@router.put(
    "/risky-rules",
    summary="Set a repository's risky-code rule",
    response_model=RiskyRule,
    responses=_REFUSED,
)
def put_rule(body: RuleBody, store: StoreDep, caller: Admin) -> Any:
    """Replace the rule of `repository` (or of every repository without one, `*`). A pull
    request it finds touching risky code, which adds or uses no flag, gets an
    `action_required` check run at its next push."""
    try:
        return _rules(store).put(
            body.repository, body.paths, body.min_lines, actor=f"token:{caller.name}"
        )
    except RuleError as error:
        return JSONResponse({"error": str(error)}, status_code=422)


@router.delete(
    "/risky-rules",
    summary="Remove a repository's risky-code rule",
    status_code=204,
    responses={
        **_REFUSED,
        404: {"model": Error, "description": "That repository has no rule of its own."},
    },
)
def remove_rule(
    repository: Annotated[
        str,
        Query(
            min_length=1,
            max_length=201,
            pattern=REPOSITORY_PATTERN,
            description="owner/name, or `*` for the rule of every repository without its own.",
        ),
    ],
    store: StoreDep,
    caller: Admin,
) -> Response:
    """Its pull requests are judged by the `*` rule from their next push, or by none."""
    try:
        _rules(store).remove(repository, actor=f"token:{caller.name}")
    except NoRule as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    except RuleError as error:
        return JSONResponse({"error": str(error)}, status_code=422)
    return Response(status_code=204)
