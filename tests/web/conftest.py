"""The web app over a small organisation whose numbers are worked out by hand.

Two services: `api` (team core, context internal) deployed on Monday 5 and Tuesday 6 October
2026, `ledger` (team money, context regulated) on Monday 19 October; nothing in the week of
12 October. The window 2026-10-05..2026-10-25 (inclusive) is 21 days, three whole weeks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway import web
from headway.api.app import create_app
from headway.config import Settings
from headway.ingest import ingest
from headway.sources.files import parse_record
from headway.store import open_store

WINDOW = "since=2026-10-05&until=2026-10-25"


def _deployment(n: int, service: str, finished: str, status: str = "success") -> dict[str, Any]:
    return {
        "type": "deployment",
        "source": "t",
        "source_id": f"d{n}",
        "service": service,
        "environment": "production",
        "started_at": finished.replace("10:20", "10:00"),
        "finished_at": finished,
        "status": status,
        "kind": "deploy",
        "version": f"v{n}",
    }


RECORDS: list[dict[str, Any]] = [
    {"type": "service", "name": "api", "team": "core", "context": "internal"},
    {"type": "service", "name": "ledger", "team": "money", "context": "regulated"},
    _deployment(1, "api", "2026-10-05T10:20:00Z"),
    _deployment(2, "api", "2026-10-06T10:20:00Z"),
    _deployment(3, "ledger", "2026-10-19T10:20:00Z"),
    {
        "type": "change",
        "source": "t",
        "source_id": "c1",
        "service": "api",
        "number": 7,
        "title": "Faster search",
        "author": "ana",
        "opened_at": "2026-10-05T06:20:00Z",
        "merged_at": "2026-10-05T08:20:00Z",
        "deployment_ref": "t:d1",
    },
]


@pytest.fixture
def app(tmp_path: Path) -> Any:
    settings = Settings(database=str(tmp_path / "small.duckdb"))
    store = open_store(settings)
    ingest(store, settings, (parse_record(r, "t") for r in RECORDS))
    store.close()
    return web.install(create_app(settings))


@pytest.fixture
def client(app: Any) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def token(client: TestClient, kind: str = "viewer", name: str | None = None) -> str:
    """A new token's secret."""
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    return str(tokens.create(kind, name=name or f"web-{kind}", actor="test")[1])


def login(client: TestClient, secret: str, target: str | None = None) -> Any:
    """Post the login form as a browser does: after loading it, with its CSRF token (signed
    out first: the login page sends a signed-in browser on)."""
    client.cookies.clear()
    form = client.get("/login", follow_redirects=False)
    fields = {"token": secret, "csrf": csrf_of(form.text)}
    if target is not None:
        fields["next"] = target
    return client.post("/login", data=fields, follow_redirects=False)


def sign_in(client: TestClient, kind: str = "viewer") -> str:
    """Sign `client` in with a new token of `kind`; returns the token's secret."""
    secret = token(client, kind)
    answer = login(client, secret)
    assert answer.status_code == 303, answer.text
    return secret


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no write form"
    return found.group(1)
