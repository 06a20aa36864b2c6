"""Remote imports, reprocessing and delivery status: what `headway import`, `headway reprocess`
and `headway sources status` call when HEADWAY_URL points at a running server.

`store_cdevents` is also what `headway import cdevents` runs on a local store, so a batch of
events is stored the same way whichever path it takes."""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from headway.api.auth import Admin, Viewer
from headway.api.deps import StoreDep
from headway.api.params import PageDep
from headway.api.responses import ADMIN_ERRORS, ImportCounts, SourceStatus
from headway.api.scopes import every_team
from headway.config import Settings
from headway.ingest import deliveries, ingest
from headway.ingest import reprocess as reprocessing
from headway.ingest.deliveries import Delivery
from headway.metrics.results import Result
from headway.model import RECORD_TYPES, RawEvent
from headway.sources import cdevents
from headway.sources.cdevent_files import Batch
from headway.sources.files import InputError, parse_lines
from headway.sources.mapping import Parsed
from headway.store import Store

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
    request: Request, response: Response, store: StoreDep, page: PageDep, token: Viewer
) -> list[SourceStatus]:
    every_team(token, "the deliveries of every source")
    rows = page.window(deliveries.status(store), request, response)
    return [SourceStatus.model_validate(row) for row in rows]


class CDEventsImport(Result):
    """What a batch of CDEvents wrote: new rows by table (raw events included), and the events
    kept raw only because they mean nothing to Headway, by event type."""

    events: int = Field(description="Events in the batch.")
    new: dict[str, int]
    ignored: dict[str, int]


@router.post("/import/cdevents", summary="Import a batch of CDEvents (all or nothing)")
async def import_cdevents(
    request: Request,
    store: StoreDep,
    _: Admin,
    service: Annotated[
        str | None, Query(description="Service for events that do not name one.")
    ] = None,
) -> CDEventsImport:
    """The body is a JSON array of CDEvents (specification 0.4 to 0.6). Every event is
    validated before anything is written; a bad one answers 400 naming `events[i]` and the
    field. Each event is kept once by its id, as the `/hooks/cdevents` webhook keeps it."""
    settings: Settings = request.app.state.settings
    body = await request.body()
    batch = await run_in_threadpool(_cdevents, body, service, settings.import_max_records)
    new = await run_in_threadpool(store_cdevents, store, settings, batch)
    return CDEventsImport(events=batch.events, new=new, ignored=batch.ignored)


def _cdevents(body: bytes, service: str | None, limit: int) -> Batch:
    try:
        events = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise HTTPException(400, f"the body is not JSON ({error}); send a JSON array") from None
    if not isinstance(events, list):
        raise HTTPException(400, "the body must be a JSON array of CDEvents")
    if len(events) > limit:
        raise TooManyRecords(limit)
    batch = Batch()
    now = datetime.now(UTC)
    for i, event in enumerate(events):
        try:
            parsed = cdevents.parse(event, default_service=service, received_at=now)
        except cdevents.CDEventError as error:
            raise HTTPException(400, f"events[{i}]: {error}") from None
        batch.parsed.append(parsed)
        if parsed.status == "ignored":
            batch.ignored[parsed.kind] = batch.ignored.get(parsed.kind, 0) + 1
    return batch


def store_cdevents(store: Store, settings: Settings, batch: Batch) -> dict[str, int]:
    """Store a batch of parsed CDEvents in one transaction; new rows by table.

    Each event is a delivery, as if sent to the webhook: kept once by its id, and applied in
    its source's order (a file in any order, or imported twice, gives one store)."""
    found = []
    for event in batch.parsed:
        *records, raw = event.records
        assert isinstance(raw, RawEvent)
        found.append(Delivery(raw, Parsed(records=tuple(records), order=event.order)))
    tables = ["raw_events", *(t.table for t in RECORD_TYPES.values() if t.table != "services")]
    before = {t: store.count(t) for t in tables}
    deliveries.commit_all(store, settings, found)
    return {t: store.count(t) - before[t] for t in tables}


class Reprocessed(Result):
    """What reprocessing the raw deliveries did."""

    deliveries: int = Field(description="Raw deliveries derived again.")
    outcomes: dict[str, int] = Field(description="Deliveries by outcome (accepted, ignored, …).")
    removed: int = Field(description="Records derived earlier and replaced.")


@router.post(
    "/reprocess", summary="Re-derive every record webhooks produced from the raw payloads kept"
)
def reprocess(request: Request, store: StoreDep, _: Admin) -> Reprocessed:
    """Run it after changing the mapping (service map, production environments, incident or
    defect labels) in the server's settings: one transaction, readers see old or new."""
    result = reprocessing.reprocess(store, request.app.state.settings)
    return Reprocessed(
        deliveries=result.deliveries, outcomes=result.outcomes, removed=result.removed
    )


class GitImport(Result):
    """What `headway import git` reports: what the history holds and what was written."""

    repository: str
    service: str
    up_to_date: bool = Field(description="Nothing moved since the last import.")
    commits: int = Field(description="Commits read (on a re-import, only the new ones).")
    changes: int
    deployments: int
    failed: dict[str, str] = Field(description="Failed deployment → the revert that shows it.")
    undeployed: int = Field(description="Changes in no release yet.")
    written: dict[str, int] = Field(description="Rows written, by table.")
    removed: int = Field(description="Deployments removed (tag gone or no longer matching).")
    seconds: float


@router.post(
    "/import/git",
    summary="Import a repository's delivery history, sent as a git bundle",
    response_model=GitImport,
)
async def import_git(
    request: Request,
    store: StoreDep,
    _: Admin,
    service: Annotated[str, Query(description="Service the repository delivers.")],
    repository: Annotated[str, Query(description="Repository name in record ids.")],
    head: Annotated[
        str, Query(description="What HEAD was where the bundle was made: refs/heads/NAME or a sha.")
    ],
    team: Annotated[str | None, Query()] = None,
    deploy_tags: Annotated[str | None, Query(description="As `--deploy-tags`.")] = None,
    prereleases: bool = False,
    environment: str = "production",
    branch: Annotated[str | None, Query(description="Main-line branch; default HEAD.")] = None,
    no_deployments: bool = False,
    host: Annotated[str, Query(description="github:OWNER/NAME, gitlab:GROUP/PROJECT or none.")] = (
        "none"
    ),
) -> GitImport:
    """The body is `git bundle create - --all` of the repository (at most
    HEADWAY_IMPORT_MAX_BYTES). The server mirrors it in a temporary directory and imports it as
    `headway import git` does on a local store: all or nothing, only what is new written."""
    from headway.ingest.git import import_repository
    from headway.sources.git import GitError
    from headway.sources.git.host import parse_host
    from headway.sources.git.options import Options
    from headway.sources.git.releases import TagRule

    body = await request.body()
    try:
        opts = Options(
            service=service,
            repository=repository,
            team=team,
            environment=environment,
            tags=TagRule(deploy_tags, prereleases),
            deployments=not no_deployments,
            host=parse_host(host),
        )
        with tempfile.TemporaryDirectory(prefix="headway-bundle-") as folder:
            mirror = await run_in_threadpool(_mirror, body, head, Path(folder))
            report = await run_in_threadpool(
                import_repository, store, request.app.state.settings, mirror, opts, branch
            )
    except GitError as error:
        raise HTTPException(400, str(error)) from None
    return GitImport.model_validate(dataclasses.asdict(report))


def _mirror(bundle: bytes, head: str, folder: Path) -> Path:
    """A bare repository holding every ref of `bundle`, its HEAD where the sender's was."""
    from headway.sources.git import GitError

    if not (head.startswith("refs/heads/") or re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", head)):
        raise GitError(f"head {head!r}: give refs/heads/NAME or the full sha HEAD points at")
    (folder / "repo.bundle").write_bytes(bundle)
    mirror = folder / "repo.git"
    steps = [
        ["git", "init", "-q", "--bare", str(mirror)],
        ["git", "-C", str(mirror), "fetch", "-q", str(folder / "repo.bundle"), "+refs/*:refs/*"],
        ["git", "-C", str(mirror), "symbolic-ref", "HEAD", head]
        if head.startswith("refs/")
        else ["git", "-C", str(mirror), "update-ref", "--no-deref", "HEAD", head],
    ]
    for step in steps:
        done = subprocess.run(step, capture_output=True, text=True, check=False)
        if done.returncode:
            raise GitError(f"the body is not a git bundle of a repository: {done.stderr.strip()}")
    return mirror
