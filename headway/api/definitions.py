"""Metric definitions over HTTP: the one in use (or any stored or preset), the history of
changes, and making one active (`headway definitions set` through a server; admin tokens)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from headway import definitions as defs
from headway.api.auth import Admin, acting, require
from headway.api.deps import StoreDep
from headway.api.responses import READ_ERRORS, Error
from headway.metrics.results import Result
from headway.query import definition_of
from headway.store import Store

router = APIRouter(
    prefix="/api",
    tags=["definitions"],
    dependencies=[Depends(require("viewer"))],
    responses=READ_ERRORS,
)


class DefinitionChange(BaseModel):
    """A definition made active: which, by whom, when and why."""

    model_config = ConfigDict(frozen=True)

    name: str
    version: int
    author: str
    created_at: str = Field(description="When it was made active (ISO 8601, UTC).")
    reason: str | None = Field(description="Why the definition changed.")


@router.get(
    "/definition",
    summary="One definition: the active one, or the one named",
    response_model=defs.Definition,
)
def get_definition(
    store: StoreDep,
    name: Annotated[
        str | None, Query(description="Preset, NAME or NAME@VERSION; default: the active one.")
    ] = None,
) -> dict[str, Any]:
    return definition_of(store, name).model_dump(mode="json")


@router.get(
    "/definitions",
    summary="Every definition made active: version, author, reason",
    response_model=list[DefinitionChange],
)
def get_definitions(store: StoreDep) -> list[dict[str, Any]]:
    rows = defs.history(store)
    for row in rows:
        row["created_at"] = row["created_at"].isoformat() + "Z"
    return rows


class DefinitionChoice(BaseModel):
    """Which definition to make active: a stored one or a preset by name, or a whole document
    (what `headway definitions set FILE` reads from the file), and why."""

    ref: str | None = Field(
        None, description="Preset, NAME or NAME@VERSION; give this or `definition`."
    )
    definition: defs.Definition | None = Field(
        None, description="A whole definition document; give this or `ref`."
    )
    reason: str = Field(
        min_length=1,
        max_length=2000,
        pattern=r"\S",
        description="Why the definition changes (recorded; required).",
    )
    author: str = Field(
        "",
        max_length=200,
        description="Who the change is made for; the record names the token first (`token:NAME "
        "for WHO`), and only the token when this is empty.",
    )


class DefinitionSwitch(Result):
    """The definition now active and the one it replaced."""

    active: defs.Definition
    previous: defs.Definition


@router.post(
    "/definitions",
    summary="Make a definition active (admin), recorded with author, time and reason",
    response_model=DefinitionSwitch,
    responses={
        400: {
            "model": Error,
            "description": "No reason, or not exactly one of `ref` and `definition`",
        }
    },
)
def post_definition(store: StoreDep, body: DefinitionChoice, token: Admin) -> DefinitionSwitch:
    chosen = _chosen(store, body)
    previous = defs.active(store)
    saved = defs.set_active(store, chosen, author=acting(token, body.author), reason=body.reason)
    return DefinitionSwitch(active=saved, previous=previous)


def _chosen(store: Store, body: DefinitionChoice) -> defs.Definition:
    if (body.ref is None) == (body.definition is None):
        raise defs.DefinitionError(
            "give exactly one of `ref` (a preset, NAME or NAME@VERSION) or `definition` "
            "(a whole document)"
        )
    if body.definition is not None:
        return body.definition
    assert body.ref is not None
    return defs.resolve(store, body.ref)
