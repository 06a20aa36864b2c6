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


def rows(store: Store, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    return store.query(sql, list(params))


__all__ = [
    "FIXTURES",
    "SECRETS",
    "Hooks",
    "Path",
    "body_of",
    "fixture",
    "github_headers",
    "pagerduty_headers",
    "rows",
    "with_secrets",
]
