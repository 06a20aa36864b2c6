"""`GET /api/export/parquet`: the canonical tables as Parquet, for `headway export parquet`
run against a server (HEADWAY_URL) and for anyone who loads Headway's records into a lake.

The server writes the export beside it (engines.export, the same code the CLI runs on a
local store), packs the folder into one zip and sends it; the folder is removed once sent.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from headway.api.auth import Viewer
from headway.api.deps import StoreDep
from headway.api.responses import AUTH_ERRORS, Error, refusal
from headway.api.scopes import every_team

router = APIRouter(prefix="/api", tags=["export"])

ZIP = "application/zip"


@router.get(
    "/export/parquet",
    summary="The canonical tables as Parquet, in one zip",
    response_class=FileResponse,
    responses={
        **AUTH_ERRORS,
        200: {
            "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
            "description": "The export folder, zipped",
        },
        501: {"model": Error, "description": "The server lacks the engines extra"},
    },
)
def export_parquet(request: Request, store: StoreDep, token: Viewer) -> FileResponse:
    """A zip of the folder `headway export parquet DIR` writes: `_headway.json` (format, row
    counts) and `<table>/part-00000.parquet` for services, deployments, changes and incidents,
    read in one snapshot. It spans every team, so a team-scoped token is refused."""
    every_team(token, "the export, which holds every team's records")
    try:
        from headway.engines.export import export_store
    except ImportError as error:
        return refusal(  # type: ignore[return-value]
            501,
            f"the export needs the engines extra on the server: pip install 'headway[spark]' "
            f"({error})",
        )
    work = Path(tempfile.mkdtemp(prefix="headway-export-"))
    try:
        done = export_store(store, request.app.state.settings, work / "export")
        archive = work / "export.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as packed:
            for file in sorted(done.folder.rglob("*")):
                if file.is_file():
                    packed.write(file, file.relative_to(done.folder).as_posix())
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return FileResponse(
        archive,
        media_type=ZIP,
        filename="headway-export.zip",
        background=BackgroundTask(shutil.rmtree, work, ignore_errors=True),
    )
