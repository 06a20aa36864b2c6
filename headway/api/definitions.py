"""Metric definitions over HTTP: the one in use (or any stored or preset) and the history of
changes, read-only; making one active stays with `headway definitions set` on the store."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from headway import definitions as defs
from headway.api.auth import require
from headway.api.deps import StoreDep
from headway.api.responses import READ_ERRORS
from headway.query import definition_of

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
