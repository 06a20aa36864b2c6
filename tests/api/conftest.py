"""Webhook test helpers: signed deliveries, an app with secrets on each engine."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings
from headway.store import Store
from tests.conftest import FIXTURES

SECRETS = {
    "github_webhook_secret": "gh-secret",
    "gitlab_webhook_secret": "gl-token",
    "pagerduty_webhook_secret": "pd-secret",
    "opsgenie_webhook_secret": "og-token",
    "jira_webhook_secret": "jira-token",
    "cdevents_webhook_secret": "cd-token",
}


def fixture(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


def body_of(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def github_headers(
    body: bytes,
    event: str,
    delivery: str | None = None,
    secret: str = SECRETS["github_webhook_secret"],
) -> dict[str, str]:
    signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery or str(uuid.uuid4()),
        "X-Hub-Signature-256": f"sha256={signature}",
        "Content-Type": "application/json",
    }


def pagerduty_headers(
    body: bytes, secrets: tuple[str, ...] = (SECRETS["pagerduty_webhook_secret"],)
) -> dict[str, str]:
    signatures = ",".join(
        "v1=" + hmac.new(s.encode(), body, hashlib.sha256).hexdigest() for s in secrets
    )
    return {"X-PagerDuty-Signature": signatures, "Content-Type": "application/json"}


# Every webhook fixture by source, with the GitHub event it is (other sources name it inside).
FIXTURE_EVENTS: dict[str, tuple[str, str | None]] = {
    **{
        f"github/{path}": ("github", path.split("/")[0])
        for path in (
            "check_suite/completed.payload.json",
            "create/payload.json",
            "deployment/payload.json",
            "deployment_review/requested.payload.json",
            "deployment_status/gh-pages.payload.json",
            "deployment_status/payload.json",
            "issues/labeled.payload.json",
            "ping/payload.json",
            "pull_request/closed.payload.json",
            "pull_request/opened.payload.json",
            "pull_request/synchronize.payload.json",
            "pull_request_review/submitted.payload.json",
            "push/payload.json",
            "push/with-new-branch.payload.json",
            "release/published.payload.json",
            "workflow_run/completed.payload.json",
            "workflow_run/completed.with-pull-requests.payload.json",
        )
    },
    **{
        f"gitlab/{name}.json": ("gitlab", None)
        for name in ("deployment", "issue", "merge_request", "pipeline", "push", "release")
    },
    "gitlab/tag_push.json": ("gitlab", None),
    "jira/webhook-issue-created.json": ("jira", None),
    "jira/webhook-issue-updated-resolved.json": ("jira", None),
    "opsgenie/create.json": ("opsgenie", None),
    "pagerduty/acknowledged_v3.json": ("pagerduty", None),
    "pagerduty/triggered_v3.json": ("pagerduty", None),
    **{
        f"cdevents/conformance/{name}.json": ("cdevents", None)
        for name in (
            "approval_closed",
            "change_merged",
            "change_reviewed",
            "incident_detected",
            "incident_resolved",
            "pipelinerun_finished",
            "service_deployed",
            "service_rolledback",
        )
    },
}


def signed(
    source: str, payload: Any, event: str | None = None, delivery: str | None = None
) -> tuple[str, bytes, dict[str, str]]:
    """The path, body and headers of a correctly signed delivery of `payload` to `source`."""
    body = body_of(payload)
    if source == "github":
        return "/hooks/github", body, github_headers(body, event or "ping", delivery)
    if source == "pagerduty":
        return "/hooks/pagerduty", body, pagerduty_headers(body)
    headers = {"Content-Type": "application/json"}
    if source == "gitlab":
        headers["X-Gitlab-Token"] = SECRETS["gitlab_webhook_secret"]
        headers["X-Gitlab-Event-UUID"] = delivery or str(uuid.uuid4())
    else:
        headers["X-Headway-Token"] = SECRETS[f"{source}_webhook_secret"]
    return f"/hooks/{source}", body, headers


def with_secrets(settings: Settings, **extra: Any) -> Settings:
    return settings.model_copy(update={**SECRETS, **extra})


@pytest.fixture
def hook_settings(engine_settings: Settings) -> Settings:
    return with_secrets(engine_settings)


@pytest.fixture
def client(hook_settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(hook_settings, store=store)) as c:
        yield c


class Hooks:
    """Send signed deliveries to a test client."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def github(self, event: str, payload: Any, delivery: str | None = None) -> Any:
        body = body_of(payload)
        return self.client.post(
            "/hooks/github", content=body, headers=github_headers(body, event, delivery)
        )


@pytest.fixture
def hooks(client: TestClient) -> Hooks:
    return Hooks(client)


def rows(store: Store, sql: str) -> list[tuple[Any, ...]]:
    return store.query(sql)


__all__ = [
    "FIXTURES",
    "FIXTURE_EVENTS",
    "SECRETS",
    "Hooks",
    "Path",
    "body_of",
    "fixture",
    "github_headers",
    "pagerduty_headers",
    "rows",
    "signed",
    "with_secrets",
]
