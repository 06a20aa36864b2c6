"""Every route needs a credential: walked route by route from the OpenAPI document.

For each operation the table below says which credential it takes and which weaker one it
refuses. The test sends each request three times: with no token (401), with the weaker one
(403) and with the right one (anything but 401 and 403: the request may still be refused for
its content, which is not what this test is about). A route missing from the table fails the
test, so a new route cannot be added without deciding who may call it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from headway.api.app import create_app
from headway.config import Settings

PUBLIC = "public"
SIGNED = "signed"  # webhooks: the source's signature, checked before anything else
STATE = "state"  # the GitHub App's creation callback: the one-time state of an admin's manifest

# (method, path) -> (the credential it takes, a weaker one it refuses)
NEEDS: dict[tuple[str, str], tuple[str, str | None]] = {
    ("get", "/healthz"): (PUBLIC, None),
    ("get", "/metrics"): ("scrape", "client"),
    **{
        ("get", f"/api/{path}"): ("viewer", "scrape")
        for path in (
            "metrics",
            "definitions/diff",
            "deployments",
            "changes",
            "incidents",
            "flow",
            "signals",
            "findings",
            "review",
            "review.html",
            "notes",
            "pulse",
            "sources/status",
            "export/parquet",
            "definition",
            "definitions",
            "flags",
            "flags/{key}",
            "flags/{key}/history",
            "flags/{key}/audit",
            "flags/{key}/exposures",
            "flags/{key}/lifecycle",
            "flags/{key}/schedules",
            "flag-schedules",
            "flag-schedules/{schedule_id}",
            "stale-flags",
            "flag-refs",
            "segments",
            "segments/{key}",
            "environments",
            "rollouts",
            "rollouts/signals",
            "rollouts/{flag}/{environment}",
            "release-plans",
            "release-plans/{flag}",
        )
    },
    ("post", "/api/flags/{key}/explain"): ("viewer", "server"),
    ("post", "/api/notes"): ("editor", "viewer"),
    ("post", "/api/flags"): ("editor", "viewer"),
    ("post", "/api/flag-refs"): ("editor", "viewer"),
    ("put", "/api/flags/{key}"): ("editor", "viewer"),
    ("patch", "/api/flags/{key}"): ("editor", "viewer"),
    ("patch", "/api/flags/{key}/environments/{environment}"): ("editor", "viewer"),
    ("post", "/api/flags/{key}/kill"): ("editor", "viewer"),
    ("post", "/api/flags/{key}/archive"): ("editor", "viewer"),
    ("post", "/api/flags/{key}/unarchive"): ("editor", "viewer"),
    ("post", "/api/flags/{key}/schedules"): ("editor", "viewer"),
    ("delete", "/api/flags/{key}/schedules/{schedule_id}"): ("editor", "viewer"),
    ("put", "/api/segments/{key}"): ("editor", "viewer"),
    ("delete", "/api/segments/{key}"): ("editor", "viewer"),
    ("post", "/api/rollouts"): ("editor", "viewer"),
    ("post", "/api/rollouts/{flag}/{environment}/{action}"): ("editor", "viewer"),
    ("post", "/api/rollouts/samples"): ("server", "client"),
    ("put", "/api/release-plans/{flag}"): ("editor", "viewer"),
    ("delete", "/api/release-plans/{flag}"): ("editor", "viewer"),
    ("post", "/api/pulse/links"): ("admin", "editor"),
    ("post", "/api/environments"): ("admin", "editor"),
    ("put", "/api/environments/{key}/cors-origins"): ("admin", "editor"),
    ("post", "/api/flags/import"): ("editor", "viewer"),
    ("get", "/api/tokens"): ("admin", "editor"),
    ("get", "/api/audit"): ("admin", "editor"),
    ("get", "/api/audit/verify"): ("admin", "editor"),
    ("post", "/api/tokens"): ("admin", "editor"),
    ("delete", "/api/tokens/{token_id}"): ("admin", "editor"),
    ("get", "/api/users"): ("admin", "editor"),
    ("post", "/api/users"): ("admin", "editor"),
    ("put", "/api/users/{email}"): ("admin", "editor"),
    ("delete", "/api/users/{email}"): ("admin", "editor"),
    ("post", "/api/import/jsonl"): ("admin", "editor"),
    ("post", "/api/import/cdevents"): ("admin", "editor"),
    ("post", "/api/import/git"): ("admin", "editor"),
    ("post", "/api/reprocess"): ("admin", "editor"),
    ("post", "/api/definitions"): ("admin", "editor"),
    ("get", "/sdk/config"): ("server", "client"),
    ("get", "/sdk/stream"): ("server", "client"),
    ("post", "/sdk/exposures"): ("client", "viewer"),
    ("post", "/sdk/metrics"): ("server", "client"),
    ("post", "/ofrep/v1/evaluate/flags/{key}"): ("client", "admin"),
    ("post", "/ofrep/v1/evaluate/flags"): ("client", "admin"),
    ("post", "/api/github/manifest"): ("admin", "editor"),
    ("get", "/api/github/app"): ("admin", "editor"),
    ("post", "/api/github/backfill"): ("admin", "editor"),
    ("get", "/api/github/repositories"): ("viewer", "scrape"),
    ("get", "/api/github/risky-rules"): ("viewer", "scrape"),
    ("put", "/api/github/risky-rules"): ("admin", "editor"),
    ("delete", "/api/github/risky-rules"): ("admin", "editor"),
    ("get", "/github/app/callback"): (STATE, None),
    **{
        ("post", f"/hooks/{source}"): (SIGNED, None)
        for source in (
            "github",
            "gitlab",
            "pagerduty",
            "opsgenie",
            "jira",
            "cdevents",
            "github-app",
        )
    },
}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    database = str(tmp_path_factory.mktemp("auth") / "store.duckdb")
    secrets = {
        f"{source}_webhook_secret": "s3cret"
        for source in ("github", "gitlab", "pagerduty", "opsgenie", "jira", "cdevents")
    }
    with TestClient(create_app(Settings(database=database, **secrets))) as http:
        yield http


@pytest.fixture(scope="module")
def tokens(client: TestClient) -> dict[str, str]:
    made = {}
    for kind in ("admin", "editor", "viewer", "scrape", "server", "client"):
        environment = "production" if kind in ("server", "client") else None
        _, made[kind] = client.app.state.tokens.create(  # type: ignore[attr-defined]
            kind, name=f"{kind}-key", actor="test", environment=environment
        )
    return made


def _operations(client: TestClient) -> list[tuple[str, str]]:
    paths: dict[str, Any] = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return sorted((method, path) for path, ops in paths.items() for method in ops)


def _send(
    client: TestClient, method: str, path: str, token: str | None
) -> tuple[int, dict[str, str]]:
    url = re.sub(r"\{[^}]+\}", "x", path)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if path == "/sdk/stream":
        # A stream that is let in never ends: read its first answer only.
        with client.stream(method, url, headers=headers) as answer:
            return answer.status_code, dict(answer.headers)
    answer = client.request(method, url, headers=headers, json={} if method != "get" else None)
    return answer.status_code, dict(answer.headers)


def test_every_route_is_in_the_table(client: TestClient) -> None:
    assert sorted(NEEDS) == _operations(client)


@pytest.mark.parametrize(("method", "path"), sorted(NEEDS))
def test_each_route_takes_only_its_credential(
    client: TestClient, tokens: dict[str, str], method: str, path: str
) -> None:
    needed, weaker = NEEDS[(method, path)]
    if needed == STATE:
        assert client.get(path, params={"code": "x", "state": "nope"}).status_code == 403
        return
    anonymous, headers = _send(client, method, path, None)
    if needed == PUBLIC:
        assert anonymous == 200
        return
    # Without a credential: 401, and for bearer routes the challenge that says which scheme.
    assert anonymous == 401, (method, path)
    if needed == SIGNED:
        return
    assert headers.get("www-authenticate") == "Bearer"
    assert _send(client, method, path, "hwa_nope_0000")[0] == 401  # an unknown token
    assert weaker is not None
    assert _send(client, method, path, tokens[weaker])[0] == 403, (method, path, weaker)
    allowed, _ = _send(client, method, path, tokens[needed])
    assert allowed not in (401, 403), (method, path, needed, allowed)


@pytest.mark.parametrize(
    ("kind", "path", "method"),
    [
        ("admin", "/api/flags", "get"),  # each role can do what the weaker ones can
        ("admin", "/api/notes", "post"),
        ("editor", "/api/metrics", "get"),
        ("viewer", "/metrics", "get"),  # a person with a viewer token may scrape too
        ("admin", "/api/rollouts/samples", "post"),  # an admin may post guardrail samples
    ],
)
def test_stronger_roles_include_the_weaker(
    client: TestClient, tokens: dict[str, str], kind: str, path: str, method: str
) -> None:
    assert _send(client, method, path, tokens[kind])[0] not in (401, 403)


def test_an_expired_token_is_refused_like_a_revoked_one(client: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    service = client.app.state.tokens  # type: ignore[attr-defined]
    token, secret = service.create(
        "viewer", name="short", actor="test", expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    assert _send(client, "get", "/api/flags", secret)[0] == 200
    # When its time is past (moved here, as waiting an hour is not a test), it is refused.
    client.app.state.store.run(  # type: ignore[attr-defined]
        text("UPDATE api_tokens SET expires_at = :at WHERE id = :id"),
        at=(datetime.now(UTC) - timedelta(seconds=1)).replace(tzinfo=None),
        id=token.id,
    )
    service._cache.clear()
    status, _ = _send(client, "get", "/api/flags", secret)
    assert status == 401
    assert token.id not in service.live_ids([token.id])
