"""Metric definitions over HTTP: the one in use (or any stored or preset) and the history of
changes, read-only; making one active stays with `headway definitions set` on the store."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from headway import definitions as defs
from headway.api.auth import require
from headway.api.deps import StoreDep
from headway.query import definition_of

router = APIRouter(prefix="/api", tags=["definitions"], dependencies=[Depends(require("viewer"))])


@router.get("/definition", summary="One definition: the active one, or the one named")
def get_definition(
    store: StoreDep,
    name: Annotated[
        str | None, Query(description="Preset, NAME or NAME@VERSION; default: the active one.")
    ] = None,
) -> dict[str, Any]:
    return definition_of(store, name).model_dump(mode="json")


@router.get("/definitions", summary="Every definition made active: version, author, reason")
def get_definitions(store: StoreDep) -> list[dict[str, Any]]:
    rows = defs.history(store)
    for row in rows:
        row["created_at"] = row["created_at"].isoformat() + "Z"
    return rows
