"""The GitHub App over HTTP: the manifest, the creation callback, the app, its repositories,
and the webhook of installation events.

The callback is the one route a browser reaches without a token: GitHub sends it there after
creating the app. The one-time state `POST /api/github/manifest` gave an admin guards it.
The webhook is signed with the secret GitHub gave the app; installation events are the app's
own, every other event also goes down the delivery path of `/hooks/github`. As the server
starts, the app's secrets kept in plain text or under the previous key are encrypted with
HEADWAY_SECRET_KEY (`seal_stored`); a key that cannot open them is logged, and the routes that
need them answer 503 saying which key to set.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, BackgroundTasks, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from headway.api.auth import Admin, Viewer
from headway.api.deps import StoreDep
from headway.api.hooks import DeliveryResult
from headway.api.responses import AUTH_ERRORS, Error
from headway.api.scopes import every_team
from headway.github.app import (
    AppInfo,
    GitHubApp,
    InstallationResult,
    ManifestStart,
    NoApp,
    StateRefused,
    seal_stored,
)
from headway.github.backfill import BackfillResult, NotGranted
from headway.github.backfill import backfill as run_backfill
from headway.github.flagged import FlaggedPull, on_pull_request
from headway.github.manifest import ManifestError
from headway.github.rest import GitHubClient, GitHubError
from headway.ingest import deliveries
from headway.sources.mapping import Parsed, PayloadError
from headway.store import StoreError
from headway.store.sealing import SealError

__all__ = ["api_router", "callback_router", "hook_router"]

log = logging.getLogger("headway.github")


def _app(request: Request, store: StoreDep) -> GitHubApp:
    github: GitHubApp | None = getattr(request.app.state, "github", None)
    if github is None or github.store is not store:
        settings = request.app.state.settings
        client = GitHubClient(settings.github_api_url)
        github = GitHubApp(store, settings, client, web_url=settings.github_web_url)
        request.app.state.github = github

        async def close(app: Any) -> None:
            client.close()

        request.app.state.shutdown_hooks.append(close)
    return github


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    try:
        report = await asyncio.to_thread(seal_stored, app.state.store, app.state.settings)
    except SealError as error:  # the server still serves all else; the app's routes say why
        log.error("the GitHub App's secrets cannot be read: %s", error)
    else:
        if report.sealed:
            log.info(
                "encrypted the secrets of GitHub App %s with HEADWAY_SECRET_KEY",
                ", ".join(map(str, report.sealed)),
            )
        if report.plain:
            log.warning(
                "the secrets of GitHub App %s are stored in plain text: set HEADWAY_SECRET_KEY "
                "(`openssl rand -base64 32`) and restart to encrypt them",
                ", ".join(map(str, report.plain)),
            )
    yield


App = Annotated[GitHubApp, Depends(_app)]
api_router = APIRouter(prefix="/api/github", tags=["github"], lifespan=lifespan)
_SEALED: dict[int | str, dict[str, Any]] = {
    503: {
        "model": Error,
        "description": "HEADWAY_SECRET_KEY is not set, or cannot open the app's stored "
        "secrets; `error` says which key to set. Also: the store cannot answer now.",
    }
}
callback_router = APIRouter(prefix="/github", tags=["github"])
hook_router = APIRouter(prefix="/hooks", tags=["webhooks"])

_CALLBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "A parameter that is not valid, named in `error`."},
    403: {"model": Error, "description": "The state is unknown, spent or older than an hour."},
    404: {"model": Error, "description": "No GitHub App has been made for this server yet."},
    502: {"model": Error, "description": "GitHub refused; `error` says what it answered."},
    **_SEALED,
}
_ERRORS = {**AUTH_ERRORS, **_CALLBACK_ERRORS, 403: AUTH_ERRORS[403]}


def _refusal(error: Exception) -> JSONResponse:
    if isinstance(error, NoApp):
        return JSONResponse({"error": str(error)}, status_code=404)
    if isinstance(error, StateRefused):
        return JSONResponse({"error": str(error)}, status_code=403)
    if isinstance(error, GitHubError):
        return JSONResponse({"error": str(error)}, status_code=502)
    return JSONResponse({"error": str(error)}, status_code=400)


_HANDLED = (NoApp, StateRefused, GitHubError, ManifestError, PayloadError, ValueError)


class ManifestRequest(BaseModel):
    url: str = Field(
        max_length=2000,
        pattern=r"^https?://[^\s/?#@:]+(:[0-9]{1,5})?(/[^\s?#]*)?$",
        description="Where this Headway server answers, e.g. https://h.example (no query).",
    )
    name: str = Field(
        default="Headway",
        min_length=1,
        max_length=34,
        pattern=r"\S",
        description="The app's name on GitHub.",
    )
    organization: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$",
        description="Create the app in this organisation (its GitHub login).",
    )


@api_router.post(
    "/manifest",
    summary="The app manifest and a one-time state",
    responses=_ERRORS,
    response_model=ManifestStart,
)
def start(body: ManifestRequest, github: App, _: Admin) -> Any:
    try:
        return github.start(body.url, body.name, body.organization)
    except _HANDLED as error:
        return _refusal(error)


@api_router.get(
    "/app",
    summary="The GitHub App, without its secrets",
    responses=_ERRORS,
    response_model=AppInfo,
)
def app_info(github: App, _: Admin) -> Any:
    try:
        return github.info()
    except _HANDLED as error:
        return _refusal(error)


class BackfillRequest(BaseModel):
    repository: str = Field(
        max_length=201,
        pattern=r"^[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}$",
        description="owner/name of a repository the app can read.",
    )
    installation: int | None = Field(
        default=None,
        ge=1,
        le=2**53 - 1,
        description="The installation to read it through; found from the granted ones if left out.",
    )


@api_router.post(
    "/backfill",
    summary="Read a repository's merged pull requests and releases through the app",
    responses={
        **_ERRORS,
        404: {"model": Error, "description": "No app, or no installation grants the repository."},
    },
    response_model=BackfillResult,
)
def backfill(body: BackfillRequest, github: App, _: Admin) -> Any:
    """Page through the repository's closed pull requests and its releases on GitHub and store
    them as the webhooks would have: a backfilled change equals a delivered one, and a second
    backfill adds nothing. The answer comes when every page is read and stored."""
    try:
        return run_backfill(github, body.repository, installation=body.installation)
    except NotGranted as error:
        return JSONResponse({"error": str(error)}, status_code=404)
    except _HANDLED as error:
        return _refusal(error)


class Repository(BaseModel):
    installation: int
    repository: str = Field(description="owner/name")
    service: str


@api_router.get(
    "/repositories", summary="Repositories the app's installations grant", responses=AUTH_ERRORS
)
def repositories(github: App, token: Viewer) -> list[Repository]:
    every_team(token, "every installation's repositories")
    return [
        Repository(installation=i, repository=name, service=service)
        for i, name, service in github.repositories()
    ]


@callback_router.get(
    "/app/callback",
    summary="Where GitHub sends the browser after creating the app",
    responses=_CALLBACK_ERRORS,
    response_model=AppInfo,
)
def callback(
    github: App,
    code: Annotated[
        str,
        Query(
            min_length=1,
            max_length=128,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="GitHub's one-time code.",
        ),
    ],
    state: Annotated[
        str,
        Query(
            min_length=1,
            max_length=128,
            pattern=r"^[A-Za-z0-9_-]+$",
            description="The state of the manifest.",
        ),
    ],
) -> Any:
    try:
        return github.complete(code, state)
    except _HANDLED as error:
        return _refusal(error)


def _signed(secret: str, body: bytes, header: str | None) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(header.strip().encode(), expected.encode())


async def _body(request: Request, limit: int) -> bytes | None:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@hook_router.post(
    "/github-app",
    summary="GitHub App webhook: installations, flagged pull requests, every other event",
    responses={
        202: {"model": DeliveryResult, "description": "Kept raw; Headway does not use it."},
        422: {"model": Error, "description": "Not a usable event (field named); kept raw."},
        502: {"model": Error, "description": "GitHub refused a call the event needed."},
        400: {"model": Error, "description": "Not JSON, or a field the event needs is missing."},
        401: {"model": Error, "description": "Missing or wrong X-Hub-Signature-256."},
        404: {"model": Error, "description": "No GitHub App has been made for this server yet."},
        413: {"model": Error, "description": "Body over HEADWAY_WEBHOOK_MAX_BYTES."},
        **_SEALED,
    },
    response_model=InstallationResult | FlaggedPull | DeliveryResult,
)
async def hook(request: Request, github: App, background: BackgroundTasks) -> Any:
    signature = request.headers.get("x-hub-signature-256")
    if not signature:
        return JSONResponse({"error": "missing X-Hub-Signature-256"}, 401)
    body = await _body(request, request.app.state.settings.webhook_max_bytes)
    if body is None:
        return JSONResponse({"error": "the body is over HEADWAY_WEBHOOK_MAX_BYTES"}, 413)
    try:
        secret = github.credentials().webhook_secret
    except NoApp as error:
        return _refusal(error)
    if not _signed(secret, body, signature):
        return JSONResponse(
            {"error": "X-Hub-Signature-256 is missing or does not match the app's secret"}, 401
        )
    event = request.headers.get("x-github-event", "")
    if event == "installation" or event == "installation_repositories":
        try:
            installed = github.on_installation(event, orjson.loads(body))
        except (orjson.JSONDecodeError, PayloadError, ValueError) as error:
            return JSONResponse({"error": f"not a usable {event} event: {error}"}, 400)
        if installed.added and request.app.state.settings.github_backfill_on_install:
            background.add_task(_backfill_granted, github, installed.installation, installed.added)
            installed = installed.model_copy(update={"backfilling": installed.added})
        return installed
    delivered = await _deliver(request, event, body)
    if event != "pull_request" or delivered.status_code >= 300:
        return delivered
    try:
        flagged = on_pull_request(github, orjson.loads(body))
    except (PayloadError, ValueError) as error:
        return JSONResponse({"error": f"not a usable pull_request event: {error}"}, 400)
    except GitHubError as error:
        return _refusal(error)
    return delivered if flagged is None else JSONResponse(flagged.model_dump(mode="json"))


def _backfill_granted(github: GitHubApp, installation: int, repositories: list[str]) -> None:
    """Read each newly granted repository's history once GitHub has its answer (it waits ten
    seconds at most); progress and the outcome go to the log, a failure says how to retry."""
    for repository in repositories:

        def progress(label: str, n: int, repository: str = repository) -> None:
            log.info("github backfill of %s: %d %s read", repository, n, label)

        try:
            done = run_backfill(github, repository, installation=installation, progress=progress)
        except (GitHubError, NotGranted, StoreError) as error:
            log.warning(
                "github backfill of %s failed: %s; retry with `headway github backfill %s`",
                repository,
                error,
                repository,
            )
            continue
        log.info(
            "github backfill of %s done: %d merged pull requests, %d releases, new %s",
            repository,
            done.merged_pull_requests,
            done.releases,
            done.new,
        )


async def _deliver(request: Request, event: str, body: bytes) -> Response:
    """Every other event goes down the path of `/hooks/github`: the same adapter, the same
    group writer, the same delivery ids, so the app's webhook is the only one a repository
    needs. (The signature was checked against the app's secret above.)"""
    from headway.api.hooks import duplicate, settled, webhook_state  # the shared machinery

    delivery_id = request.headers.get("x-github-delivery")
    if not event or not delivery_id:
        return JSONResponse({"error": "missing X-GitHub-Event or X-GitHub-Delivery"}, 400)
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return JSONResponse({"error": f"the body is not valid JSON: {error}"}, 400)
    state = webhook_state(request.app)
    if state.writer.committed(f"github:{delivery_id}"):
        return duplicate(delivery_id)
    received = datetime.now(UTC)
    parsed: Parsed | None
    rejected = None
    try:
        parsed = deliveries.interpret(
            "github",
            event,
            payload,
            state.mapping,
            received,
            state.settings.webhook_max_skew_s,
            state.parsers["github"],
        )
    except PayloadError as error:
        parsed, rejected = None, str(error)
    raw = deliveries.raw_event("github", delivery_id, event, body, received, parsed, rejected)
    delivery = deliveries.Delivery(raw, parsed or Parsed())
    outcome, note = await state.writer.deliver(delivery)
    return settled(delivery_id, outcome, note, parsed, rejected)
