"""The web app's hardening, one defence per test: each security header on every kind of page,
the session cookie's flags, CSRF on writes, and the limits on failed sign-ins and on tokens
made (docs/security.md, "The web app")."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headway import web
from headway.api.app import create_app
from headway.config import Settings
from headway.web.session import COOKIE
from tests.web.conftest import csrf_of, login, sign_in, token

CSP = (
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; "
    "form-action 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
EXPECTED = {
    # no script, style, image or connection from anywhere but this server, no inline script,
    # no framing, forms post here only
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",  # no guessing a script out of a text answer
    "referrer-policy": "same-origin",  # page addresses (with their scopes) stay here
    "x-frame-options": "DENY",  # no clickjacking in browsers without frame-ancestors
    "cache-control": "no-store",  # delivery records are not left in shared caches
}


@pytest.fixture
def https(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        database=str(tmp_path / "store.duckdb"),
        login_rate_limit="3/minute",
        token_rate_limit="2/minute",
    )
    with TestClient(web.install(create_app(settings)), base_url="https://testserver") as client:
        yield client


def _pages(client: TestClient) -> dict[str, object]:
    """A page of each kind: the login form, a page behind it, an error page, a refusal."""
    answers = {"login": client.get("/login")}
    sign_in(client, "viewer")
    answers["page"] = client.get("/flags")
    answers["not found"] = client.get("/flags/nosuch")
    answers["refused"] = client.get("/tokens")  # a viewer: 403 page
    return answers


@pytest.mark.parametrize("header", sorted(EXPECTED))
def test_every_kind_of_page_sends_the_header(https: TestClient, header: str) -> None:
    for kind, answer in _pages(https).items():
        assert answer.headers.get(header) == EXPECTED[header], (kind, answer.status_code)  # type: ignore[attr-defined]


def test_pages_over_https_tell_browsers_to_keep_to_https(
    https: TestClient, client: TestClient
) -> None:
    assert https.get("/login").headers["strict-transport-security"] == "max-age=31536000"
    # over plain http (a development server) the header would mean nothing, and is not sent
    assert "strict-transport-security" not in client.get("/login").headers


def test_the_session_cookie_is_secure_httponly_and_strict_over_https(https: TestClient) -> None:
    answer = login(https, token(https, "viewer"))
    [cookie] = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")]
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"secure", "httponly", "samesite=strict", "path=/"} <= flags


def test_a_write_without_the_forms_csrf_token_is_refused(https: TestClient) -> None:
    sign_in(https, "admin")
    page = https.get("/tokens")
    refused = https.post("/tokens", data={"name": "x", "kind": "viewer"})
    assert refused.status_code == 403
    assert "security token is missing" in refused.text
    made = https.post("/tokens", data={"name": "x", "kind": "viewer", "csrf": csrf_of(page.text)})
    assert made.status_code == 201


def test_failed_sign_ins_from_one_address_are_held_with_retry_after(https: TestClient) -> None:
    # Given HEADWAY_LOGIN_RATE_LIMIT=3/minute
    good = token(https, "viewer")
    # Successful sign-ins count for nothing: two failures, then any number of successes...
    for _ in range(2):
        assert login(https, "hwv_wrong_secret").status_code == 401
    for _ in range(4):
        assert login(https, good).status_code == 303
    # ...and the third failure is still answered; the fourth attempt, even with the right
    # token, is held.
    assert login(https, "hwv_wrong_secret").status_code == 401
    held = login(https, good)
    assert held.status_code == 429
    wait = int(held.headers["retry-after"])
    assert 1 <= wait <= 60  # within the minute the window spans
    assert "Too many failed sign-ins" in held.text
    assert not any(c.startswith(f"{COOKIE}=") for c in held.headers.get_list("set-cookie"))


def test_tokens_made_past_the_limit_are_refused_with_retry_after(https: TestClient) -> None:
    # Given HEADWAY_TOKEN_RATE_LIMIT=2/minute, an admin makes two tokens and is then held
    headers = {"Authorization": f"Bearer {token(https, 'admin', 'boss')}"}
    for n in range(2):
        made = https.post("/api/tokens", json={"kind": "viewer", "name": f"t{n}"}, headers=headers)
        assert made.status_code == 201
    refused = https.post("/api/tokens", json={"kind": "viewer", "name": "t3"}, headers=headers)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["error"].startswith("too many tokens: at most 2 per 1 minute")
    # Another admin has an allowance of its own.
    other = {"Authorization": f"Bearer {token(https, 'admin', 'other')}"}
    assert (
        https.post("/api/tokens", json={"kind": "viewer", "name": "t4"}, headers=other).status_code
        == 201
    )
