"""The GitHub App over HTTP: the manifest, the creation callback, the app, its repositories,
and the webhook of installation events.

The callback is the one route a browser reaches without a token: GitHub sends it there after
creating the app. The one-time state `POST /api/github/manifest` gave an admin guards it.
The webhook is signed with the secret GitHub gave the app.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from headway.api.auth import Admin, Viewer
from headway.api.deps import StoreDep
from headway.api.responses import AUTH_ERRORS, Error
from headway.github.app import (
    AppInfo,
    GitHubApp,
    InstallationResult,
    ManifestStart,
    NoApp,
    StateRefused,
)
from headway.github.flagged import FlaggedPull, on_pull_request
from headway.github.manifest import ManifestError
from headway.github.rest import GitHubClient, GitHubError
from headway.sources.mapping import PayloadError

__all__ = ["api_router", "callback_router", "hook_router"]


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


App = Annotated[GitHubApp, Depends(_app)]
api_router = APIRouter(prefix="/api/github", tags=["github"])
callback_router = APIRouter(prefix="/github", tags=["github"])
hook_router = APIRouter(prefix="/hooks", tags=["webhooks"])

_CALLBACK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Error, "description": "A parameter that is not valid, named in `error`."},
    403: {"model": Error, "description": "The state is unknown, spent or older than an hour."},
    404: {"model": Error, "description": "No GitHub App has been made for this server yet."},
    502: {"model": Error, "description": "GitHub refused; `error` says what it answered."},
}
_ERRORS = {**AUTH_ERRORS, **_CALLBACK_ERRORS, 403: AUTH_ERRORS[403]}


class Ignored(BaseModel):
    outcome: str = Field(description="ignored")
    note: str = Field(description="Why the app does not act on the event.")


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
        max_length=2000, description="Where this Headway server answers, e.g. https://h.example"
    )
    name: str = Field(default="Headway", max_length=34, description="The app's name on GitHub.")
    organization: str | None = Field(
        default=None, max_length=39, description="Create the app in this organisation."
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


class Repository(BaseModel):
    installation: int
    repository: str = Field(description="owner/name")
    service: str


@api_router.get(
    "/repositories", summary="Repositories the app's installations grant", responses=AUTH_ERRORS
)
def repositories(github: App, _: Viewer) -> list[Repository]:
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
    code: Annotated[str, Query(max_length=128, description="GitHub's one-time code.")],
    state: Annotated[str, Query(max_length=128, description="The state of the manifest.")],
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
    summary="GitHub App webhook: installations and flagged pull requests",
    responses={
        202: {"model": Ignored, "description": "Signed, but not an event the app acts on."},
        502: {"model": Error, "description": "GitHub refused a call the event needed."},
        400: {"model": Error, "description": "Not JSON, or a field the event needs is missing."},
        401: {"model": Error, "description": "Missing or wrong X-Hub-Signature-256."},
        404: {"model": Error, "description": "No GitHub App has been made for this server yet."},
        413: {"model": Error, "description": "Body over HEADWAY_WEBHOOK_MAX_BYTES."},
    },
    response_model=InstallationResult | FlaggedPull,
)
async def hook(request: Request, github: App) -> Any:
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
    if event == "pull_request":
        try:
            flagged = on_pull_request(github, orjson.loads(body))
        except (orjson.JSONDecodeError, PayloadError, ValueError) as error:
            return JSONResponse({"error": f"not a usable pull_request event: {error}"}, 400)
        except GitHubError as error:
            return _refusal(error)
        if flagged is not None:
            return JSONResponse(flagged.model_dump(mode="json"))
    if event == "installation" or event == "installation_repositories":
        try:
            return github.on_installation(event, orjson.loads(body))
        except (orjson.JSONDecodeError, PayloadError, ValueError) as error:
            return JSONResponse({"error": f"not a usable {event} event: {error}"}, 400)
    note = f"{event or 'an event without X-GitHub-Event'} is not one the app acts on yet"
    return JSONResponse({"outcome": "ignored", "note": note}, 202)
