"""A fake GitHub on 127.0.0.1, built from GitHub's documented REST formats.

It answers the calls the GitHub App makes: the manifest conversion, installation access tokens
(the app JWT checked against the app's public key), a paginated list with `Link` headers,
rate-limit headers on every answer, and GitHub's error bodies for 401, 403, 404 and 422.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import uvicorn
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from headway.config import Settings
from tests.conftest import FIXTURES, free_port

APP_ID = 29310
INSTALLATION = 957387
DOCS = "https://docs.github.com/rest"
# HEADWAY_SECRET_KEY of the tests: 32 bytes, written in base64 as `openssl rand -base64 32` does.
SECRET_KEY = "q83vEjRWeJC7ze8SNFZ4kLvN7xI0VniQu83vEjRWeJA="


def private_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@dataclass
class State:
    pem: str = field(default_factory=private_key)
    webhook_secret: str = "whsec-fake-3f1c"
    codes: set[str] = field(default_factory=lambda: {"good-code"})
    tokens_issued: list[str] = field(default_factory=list)
    token_lifetime: timedelta = timedelta(hours=1)
    items: int = 250  # in the paginated list
    limited: int = 0  # answer this many next requests with a spent rate limit
    reset_in: int = 30  # seconds until the rate limit resets, when spent
    requests: list[str] = field(default_factory=list)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    installations: set[int] = field(default_factory=lambda: {INSTALLATION, 1})
    pull_files: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # "o/r#n" → files
    check_runs: dict[int, dict[str, Any]] = field(default_factory=dict)


def keyed(settings: Settings, url: str, key: str | None = SECRET_KEY) -> Settings:
    """`settings` calling the fake GitHub at `url`, with HEADWAY_SECRET_KEY `key`."""
    update: dict[str, Any] = {"github_api_url": url, "secret_key": key}
    return Settings(**{**settings.model_dump(), **update})


def _payload(name: str) -> Any:
    return json.loads((FIXTURES / "github" / name).read_text())


def _pull(number: int, owner: str, repo: str) -> dict[str, Any]:
    """A closed pull request as GitHub lists it, from octokit's example; odd numbers merged."""
    pr = _payload("pull_request/closed.payload.json")["pull_request"]
    merged = number % 2 == 1
    day = f"2026-11-{number % 28 + 1:02d}"
    pr.update(
        number=number,
        url=f"https://api.github.com/repos/{owner}/{repo}/pulls/{number}",
        created_at=f"{day}T09:00:00Z",
        updated_at=f"{day}T15:00:00Z",
        closed_at=f"{day}T15:00:00Z",
        merged_at=f"{day}T15:00:00Z" if merged else None,
        merge_commit_sha=f"{number:040x}" if merged else None,
    )
    return dict(pr)


def _error(status: int, message: str, **more: Any) -> JSONResponse:
    return JSONResponse({"message": message, "documentation_url": DOCS, **more}, status)


# What GitHub accepts as a check run's conclusion (docs: REST, "Create a check run").
CONCLUSIONS = {
    "action_required",
    "cancelled",
    "failure",
    "neutral",
    "success",
    "skipped",
    "timed_out",
}


def _check_run_problem(body: dict[str, Any]) -> JSONResponse | None:
    """GitHub's 422 for a conclusion it does not know, or a details_url that is no URL."""
    conclusion = body.get("conclusion")
    if conclusion is not None and conclusion not in CONCLUSIONS:
        field = {"resource": "CheckRun", "field": "conclusion", "code": "invalid"}
        return _error(422, "Invalid request.", errors=[field])
    details = body.get("details_url")
    if details is not None and not str(details).startswith(("https://", "http://")):
        field = {"resource": "CheckRun", "field": "details_url", "code": "invalid"}
        return _error(422, "Invalid request.", errors=[field])
    return None


def build(state: State) -> FastAPI:
    app = FastAPI()
    public = serialization.load_pem_private_key(state.pem.encode(), None).public_key()

    @app.middleware("http")
    async def rate_headers(request: Request, call_next: Any) -> Any:
        state.requests.append(f"{request.method} {request.url.path}")
        reset = int(time.time()) + state.reset_in
        if state.limited:
            state.limited -= 1
            response = _error(403, "API rate limit exceeded for installation ID 957387.")
            remaining = 0
        else:
            response = await call_next(request)
            remaining = 4999
        response.headers["x-ratelimit-limit"] = "5000"
        response.headers["x-ratelimit-remaining"] = str(remaining)
        response.headers["x-ratelimit-reset"] = str(reset)
        response.headers["x-ratelimit-resource"] = "core"
        return response

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/app-manifests/{code}/conversions")
    def conversion(code: str) -> Any:
        if code not in state.codes:
            return _error(404, "Not Found")
        state.codes.discard(code)  # a code converts once
        return JSONResponse(
            {
                "id": APP_ID,
                "slug": "headway-acme",
                "node_id": "MDM6QXBwMjkzMTA=",
                "owner": {"login": "acme", "id": 1, "type": "Organization"},
                "name": "Headway acme",
                "description": "",
                "external_url": "https://headway.example.com",
                "html_url": "https://github.com/apps/headway-acme",
                "created_at": "2026-12-01T10:00:00Z",
                "updated_at": "2026-12-01T10:00:00Z",
                "client_id": "Iv1.8a61f9b3a7aba766",
                "client_secret": "1726be1638095a19edd134c77bde3aa2ece1e5d8",
                "webhook_secret": state.webhook_secret,
                "pem": state.pem,
            },
            201,
        )

    def _app_jwt(request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return "A JSON web token could not be decoded"
        try:  # times are checked against this GitHub's clock, which a test may move
            claims = jwt.decode(
                header[7:],
                public,
                algorithms=["RS256"],
                options={"verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError:
            return "A JSON web token could not be decoded"
        now = state.clock().timestamp()
        if claims.get("iss") != str(APP_ID) or not claims["iat"] <= now < claims["exp"]:
            return "'Issued at' claim ('iat') must be an Integer representing the time"
        if claims["exp"] - claims["iat"] > 600:
            return "'Expiration time' claim ('exp') is too far in the future"
        return None

    @app.post("/app/installations/{installation}/access_tokens")
    def access_token(installation: int, request: Request) -> Any:
        problem = _app_jwt(request)
        if problem:
            return _error(401, problem)
        if installation not in state.installations:
            return _error(404, "Not Found")
        token = f"ghs_fake{len(state.tokens_issued):04d}"
        state.tokens_issued.append(token)
        expires = state.clock() + state.token_lifetime
        return JSONResponse(
            {
                "token": token,
                "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "permissions": {"checks": "write", "contents": "read", "metadata": "read"},
                "repository_selection": "selected",
            },
            201,
        )

    def _installation_token(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        return header.removeprefix("Bearer ") in state.tokens_issued

    @app.get("/repos/{owner}/{repo}/pulls")
    def pulls(owner: str, repo: str, request: Request, page: int = 1, per_page: int = 30) -> Any:
        if not _installation_token(request):
            return _error(401, "Bad credentials")
        if repo == "private":
            return _error(404, "Not Found")
        if repo == "forbidden":
            return _error(403, "Resource not accessible by integration")
        start = (page - 1) * per_page
        numbers = range(start + 1, min(start + per_page, state.items) + 1)
        response = JSONResponse([_pull(n, owner, repo) for n in numbers])
        last = (state.items + per_page - 1) // per_page
        base = f"{request.base_url}repos/{owner}/{repo}/pulls?state=closed&per_page={per_page}"
        links = []
        if page < last:
            links.append(f'<{base}&page={page + 1}>; rel="next"')
        links.append(f'<{base}&page={last}>; rel="last"')
        response.headers["link"] = ", ".join(links)
        return response

    @app.get("/repos/{owner}/{repo}")
    def repository(owner: str, repo: str, request: Request) -> Any:
        if not _installation_token(request):
            return _error(401, "Bad credentials")
        found = _payload("pull_request/opened.payload.json")["repository"]
        found.update(name=repo, full_name=f"{owner}/{repo}")
        return JSONResponse(found)

    @app.get("/repos/{owner}/{repo}/releases")
    def releases(owner: str, repo: str, request: Request) -> Any:
        if not _installation_token(request):
            return _error(401, "Bad credentials")
        release = _payload("release/published.payload.json")["release"]
        return JSONResponse([{**release, "id": i, "tag_name": f"v0.{i}.0"} for i in (1, 2)])

    @app.get("/repos/{owner}/{repo}/pulls/{number}/files")
    def pull_files(owner: str, repo: str, number: int, request: Request) -> Any:
        if not _installation_token(request):
            return _error(401, "Bad credentials")
        files = state.pull_files.get(f"{owner}/{repo}#{number}")
        return _error(404, "Not Found") if files is None else JSONResponse(files)

    @app.post("/repos/{owner}/{repo}/check-runs")
    async def check_run(owner: str, repo: str, request: Request) -> Any:
        if not _installation_token(request):
            return _error(401, "Bad credentials")
        body = await request.json()
        if not body.get("head_sha"):
            return _error(
                422,
                "Invalid request.",
                errors=[{"resource": "CheckRun", "field": "head_sha", "code": "missing_field"}],
            )
        problem = _check_run_problem(body)
        if problem is not None:
            return problem
        run = {"id": len(state.check_runs) + 1, "repository": f"{owner}/{repo}", **body}
        state.check_runs[run["id"]] = run
        return JSONResponse(run, 201)

    @app.patch("/repos/{owner}/{repo}/check-runs/{run_id}")
    async def update_check_run(owner: str, repo: str, run_id: int, request: Request) -> Any:
        if not _installation_token(request):
            return _error(401, "Bad credentials")
        if run_id not in state.check_runs:
            return _error(404, "Not Found")
        body = await request.json()
        problem = _check_run_problem(body)
        if problem is not None:
            return problem
        state.check_runs[run_id].update(body)
        return JSONResponse(state.check_runs[run_id])

    return app


@contextmanager
def serve(state: State) -> Iterator[str]:
    """The fake GitHub's base URL while it runs."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(build(state), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    from tests.conftest import wait_until_serving

    wait_until_serving(url)
    try:
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=10)
