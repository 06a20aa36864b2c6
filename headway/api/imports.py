"""Remote import and delivery status: what `headway import` and `headway sources status` call
when HEADWAY_URL points at a running server."""

from __future__ import annotations

import io
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from starlette.concurrency import run_in_threadpool

from headway.api.auth import Admin, Viewer
from headway.api.deps import StoreDep
from headway.api.params import PageDep
from headway.api.responses import ADMIN_ERRORS, ImportCounts, SourceStatus
from headway.ingest import deliveries, ingest
from headway.sources.files import InputError, parse_lines

router = APIRouter(prefix="/api", tags=["import"], responses=ADMIN_ERRORS)


@router.post("/import/jsonl", summary="Import canonical JSONL records (all or nothing)")
async def import_jsonl(request: Request, store: StoreDep, token: Admin) -> ImportCounts:
    """The body is Headway's canonical JSONL (docs/jsonl.md), one record per line. Every line
    is checked before anything is written; a bad line answers 400 naming the line and field."""
    body = await request.body()
    settings = request.app.state.settings
    try:
        # Parsed in a thread: a body of up to HEADWAY_IMPORT_MAX_BYTES would hold the loop.
        records = await run_in_threadpool(_parse, body, settings.import_max_records)
    except InputError as error:
        raise HTTPException(status_code=400, detail=str(error)) from None
    result = await run_in_threadpool(
        lambda: ingest(store, settings, records, actor=f"token:{token.name}")
    )
    return ImportCounts(new=result.new, seen=result.seen)


class TooManyRecords(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            f"the import holds more than {limit} records (raise HEADWAY_IMPORT_MAX_RECORDS, "
            "split the file, or import without HEADWAY_URL on the server's store)",
        )


def _parse(body: bytes, limit: int) -> list[Any]:
    # Counted before any is parsed, by streaming over the lines: a million short lines would
    # otherwise cost a million parsed records before the limit refused them.
    if body.count(b"\n") >= limit and sum(1 for line in io.BytesIO(body) if line.strip()) > limit:
        raise TooManyRecords(limit)
    return list(parse_lines(body.splitlines(), lambda n: f"line {n}"))


@router.get("/sources/status", summary="Webhook deliveries by source, event and outcome")
def sources_status(
    request: Request, response: Response, store: StoreDep, page: PageDep, _: Viewer
) -> list[SourceStatus]:
    rows = page.window(deliveries.status(store), request, response)
    return [SourceStatus.model_validate(row) for row in rows]
