"""The shapes of the API's error answers and of the small results the routes build themselves.

Results of the domain live beside their producers (`headway.metrics.results`,
`headway.interpret.results`, `headway.rollouts.results`); this module holds what only the HTTP
surface says: errors, health, tokens, environments and flag history. Each router declares the
errors it can give with one of the `*_ERRORS` maps, so `/openapi.json` lists them.

Every refusal has one shape, `Error`: `{"error": "what was wrong and what to do"}`, with
`problems` for an invalid request (422) and `delivery` for a webhook delivery. `refusal()`
builds it; the app's handlers turn every raised refusal into it (`headway.api.app`). OFREP
routes alone answer the shape the OFREP specification gives (`errorCode`, `errorDetails`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field
from starlette.responses import JSONResponse

from headway.metrics.results import Result

__all__ = [
    "ADMIN_ERRORS",
    "AUTH_ERRORS",
    "READ_ERRORS",
    "ROLLOUT_ERRORS",
    "WRITE_ERRORS",
    "AuditEntry",
    "Environment",
    "Error",
    "FlagVersion",
    "Health",
    "ImportCounts",
    "NewToken",
    "Problem",
    "SourceStatus",
    "TokenInfo",
    "json_errors",
    "refusal",
]


class Problem(Result):
    field: str = Field(description="Where: `query.limit`, `body.flags.0.key`, a JSON path, …")
    problem: str = Field(description="What is wrong with it.")


class Error(Result):
    """A refusal: a missing or weak credential, a bad report option (an unknown scope,
    definition or date), a bad import line, a NUL character, a body too large, an invalid
    request, a conflict, a store that cannot answer. `problems` lists each invalid field of a
    422."""

    error: str = Field(description="What was wrong and what to do, naming the field or line.")
    problems: list[Problem] | None = None
    delivery: str | None = Field(None, description="The webhook delivery it concerns.")


def refusal(
    status: int, message: str, headers: Mapping[str, str] | None = None, **more: Any
) -> JSONResponse:
    """An `Error` answer: `{"error": message, …more}` with `status`."""
    return JSONResponse({"error": message, **more}, status_code=status, headers=headers)


def _answers(codes: dict[int, tuple[type[Result], str]]) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": model, "description": text} for code, (model, text) in codes.items()}


AUTH_ERRORS = _answers(
    {
        400: (Error, "The path, query or body holds a NUL character"),
        401: (Error, "No token, or an unknown, expired or revoked one"),
        403: (Error, "The token's role may not do this; the answer names the one it takes"),
        422: (Error, "A parameter or the body is invalid; `problems` says which and why"),
        503: (Error, "The store cannot answer now"),
    }
)
READ_ERRORS = {
    **AUTH_ERRORS,
    **_answers(
        {
            400: (Error, "A report option that is not valid (a date, a scope kind)"),
            404: (Error, "A service, team, context or definition the store does not know"),
        }
    ),
}
WRITE_ERRORS = {
    **AUTH_ERRORS,
    **_answers(
        {
            404: (Error, "The flag, segment, environment or token does not exist"),
            409: (Error, "The change is based on an older version, or the key is taken"),
            413: (Error, "The body is larger than this route accepts"),
        }
    ),
}
ADMIN_ERRORS = {
    **AUTH_ERRORS,
    **_answers(
        {
            400: (Error, "A line of the import that is not a valid record"),
            413: (Error, "The body or its record count is over the limit"),
        }
    ),
}

ROLLOUT_ERRORS = {
    **AUTH_ERRORS,
    **_answers(
        {
            404: (Error, "No such rollout"),
            409: (Error, "The rollout cannot do this in its state, or one is already running"),
            413: (Error, "The body is larger than this route accepts"),
            429: (Error, "This key sent too many sample requests; see Retry-After"),
        }
    ),
}


def json_errors(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` (an OpenAPI document) with every error answer as JSON. FastAPI files a route's
    error models under its own media type, so /api/review.html claimed HTML errors; the
    exception handlers answer JSON everywhere."""
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            for status, answer in operation.get("responses", {}).items():
                content = answer.get("content", {})
                if status[0] in "45" and "text/html" in content:
                    content["application/json"] = content.pop("text/html")
    return schema


class Health(Result):
    status: str = Field(
        description="`ok` while the server and its store answer, `store unavailable` (with "
        "503) while the store cannot be reached."
    )
    version: str
    store: str = Field(description="`duckdb` or `postgres`.")
    store_busy: bool = Field(description="The store did not answer within 50 ms.")
    error: str | None = Field(None, description="Why the store cannot be reached (with 503).")


class ImportCounts(Result):
    """Records written and records already stored, by record type."""

    new: dict[str, int]
    seen: dict[str, int]


class SourceStatus(Result):
    source: str
    kind: str | None
    status: str
    note: str | None
    deliveries: int
    latest: str


class Environment(Result):
    key: str
    name: str | None
    description: str | None
    cors_origins: list[str] = Field(description="Browser origins allowed on client endpoints.")


class TokenInfo(Result):
    id: str
    kind: str = Field(description="viewer, editor, admin, scrape, server or client.")
    environment: str | None
    name: str
    created_by: str
    created_at: str
    revoked_at: str | None
    expires_at: str | None
    teams: list[str] | None = Field(description="The only teams it reads; null: every team.")
    environments: list[str] | None = Field(
        description="The only environments it changes; null: every environment."
    )


class NewToken(TokenInfo):
    secret: str = Field(description="The token itself: shown in this answer and nowhere else.")


class FlagVersion(Result):
    version: int
    action: str
    actor: str
    comment: str | None
    at: str
    document: dict[str, Any] = Field(description="The flag document at this version.")


class AuditEntry(Result):
    at: str
    actor: str
    action: str
    before: Any = Field(description="The audited object before the change (null if new).")
    after: Any = Field(description="The audited object after it (null if removed).")
