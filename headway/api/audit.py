"""The audit log over HTTP, for admins: every change in chain order, and the chain's check."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from headway.api.auth import require
from headway.api.deps import StoreDep
from headway.api.params import PageDep
from headway.api.responses import READ_ERRORS
from headway.store import audit

router = APIRouter(
    prefix="/api",
    tags=["audit"],
    dependencies=[Depends(require("admin"))],
    responses=READ_ERRORS,
)


class AuditRecord(BaseModel):
    """One change: who made it, when, to what, and its place in the hash chain."""

    model_config = ConfigDict(frozen=True)

    seq: int | None = Field(description="Place in the chain; null until sealed.")
    id: str
    occurred_at: str = Field(description="ISO 8601, UTC.")
    actor: str = Field(description="The token (token:NAME) or user that made the change.")
    entity: str = Field(description="flag, segment, token, environment, rollout, note, …")
    entity_id: str
    action: str
    before: Any = Field(description="The entity before the change (null when created).")
    after: Any = Field(description="The entity after the change (null when deleted).")
    prev_hash: str | None
    hash: str | None


class AuditCheck(BaseModel):
    """The chain recomputed: intact, or the first entry that does not match and why."""

    model_config = ConfigDict(frozen=True)

    intact: bool
    entries: int = Field(description="Entries checked before the first break (all if intact).")
    head: str = Field(description="Hash of the newest entry: keep it elsewhere to compare.")
    broken_at: int | None = Field(description="Place of the first entry that does not match.")
    broken_id: str | None
    problem: str | None
    unsealed: int = Field(description="Entries from before the chain, sealed by the next change.")


@router.get("/audit", summary="Every change, in chain order", response_model=list[AuditRecord])
def get_audit(
    request: Request,
    response: Response,
    store: StoreDep,
    page: PageDep,
    entity: Annotated[
        audit.Entity | None, Query(description="Only changes to this kind of entity.")
    ] = None,
) -> list[dict[str, Any]]:
    rows = audit.window(store, page.offset, page.limit + 1, entity)
    return [r.document() for r in page.fetched(rows, request, response)]


@router.get("/audit/verify", summary="Recompute the audit chain", response_model=AuditCheck)
def verify_audit(store: StoreDep) -> dict[str, Any]:
    return audit.verify(store).document()
