"""Signing in and out, sessions, roles and CSRF, as a browser without JavaScript meets them."""

from __future__ import annotations

import re

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from headway import web
from headway.web.session import COOKIE
from tests.web.conftest import csrf_of, login, sign_in, token

# Sign-in itself, single sign-on (404 when it is not configured), and a pulse survey link,
# whose code is its credential (tests/web/test_pulse.py).
OPEN = {
    "/login",
    "/login/oidc",
    "/login/oidc/callback",
    "/static/{name}",
    "/favicon.ico",
    "/pulse/{code}",
}


def _web_routes() -> list[tuple[str, str]]:
    return [
        (method, route.path)
        for router in web.routers()
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods)
    ]


def test_every_page_but_login_and_assets_sends_a_stranger_to_sign_in(client: TestClient) -> None:
    routes = _web_routes()
    assert ("GET", "/") in routes
    assert ("POST", "/flags/{key}/change") in routes
    for method, path in routes:
        if path in OPEN:
            continue
        url = re.sub(r"\{\w+\}", "x", path)
        answer = client.request(method, url, follow_redirects=False)
        assert answer.status_code == 303, (method, path, answer.status_code)
        assert answer.headers["location"].startswith("/login"), (method, path)


def test_the_web_pages_are_not_in_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert not {p for p in paths if not p.startswith(("/api", "/sdk", "/ofrep", "/hooks"))} - {
        "/healthz",
        "/metrics",
        "/github/app/callback",  # GitHub sends the browser here; an API route with its state
    }


def test_login_returns_to_the_page_asked_for(client: TestClient) -> None:
    first = client.get("/records/changes?since=2026-10-05", follow_redirects=False)
    assert first.headers["location"] == "/login?next=%2Frecords%2Fchanges%3Fsince%3D2026-10-05"
    answer = login(client, token(client), "/records/changes?since=2026-10-05")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/records/changes?since=2026-10-05"


def test_the_session_cookie_is_httponly_strict_and_holds_no_secret(client: TestClient) -> None:
    secret = token(client)
    answer = login(client, secret)
    [cookie] = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{COOKIE}=")]
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert secret not in cookie
    assert client.get("/").status_code == 200


def test_login_refuses_unknown_and_program_tokens_saying_which_to_use(client: TestClient) -> None:
    wrong = login(client, "hwv_nonsense")
    assert wrong.status_code == 401
    assert "unknown, expired or revoked" in wrong.text
    program = login(client, token(client, "scrape"))
    assert program.status_code == 401
    assert "A scrape token is for programs" in program.text
    assert COOKIE not in client.cookies


def test_a_login_form_from_another_site_is_refused(client: TestClient) -> None:
    # a page elsewhere can post the form, but cannot read this browser's login CSRF token
    client.get("/login")
    forged = client.post("/login", data={"token": token(client), "csrf": "guess"})
    assert forged.status_code == 403
    assert "came from another site" in forged.text
    assert COOKIE not in client.cookies


def test_login_never_redirects_off_the_site(client: TestClient) -> None:
    secret = token(client)
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        client.cookies.clear()
        answer = login(client, secret, target)
        assert answer.headers["location"] == "/", target


def test_a_forged_or_tampered_cookie_is_no_session(client: TestClient) -> None:
    sign_in(client)
    value = client.cookies[COOKIE]
    payload, _, mac = value.partition(".")
    client.cookies.set(COOKIE, f"{payload}x.{mac}")
    assert client.get("/", follow_redirects=False).status_code == 303
    client.cookies.set(COOKIE, f"{payload}.{mac[:-2]}AA")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_revoking_the_token_ends_its_sessions(client: TestClient) -> None:
    sign_in(client)
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    [token] = [t for t in tokens.list() if t.name == "web-viewer"]
    assert client.get("/", follow_redirects=False).status_code == 200
    tokens.revoke(token.id, actor="test")
    assert client.get("/", follow_redirects=False).status_code == 303


def test_logout_needs_the_csrf_token_and_ends_the_session(client: TestClient) -> None:
    sign_in(client)
    refused = client.post("/logout", data={"csrf": "guess"}, follow_redirects=False)
    assert refused.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200
    csrf = csrf_of(client.get("/").text)
    done = client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert done.status_code == 303
    assert done.headers["location"] == "/login"
    assert client.get("/", follow_redirects=False).status_code == 303


def test_pages_carry_a_strict_content_security_policy(client: TestClient) -> None:
    sign_in(client)
    page = client.get("/")
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert page.headers["x-frame-options"] == "DENY"
    assert client.get("/favicon.ico").headers["content-type"] == "image/x-icon"
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/static/../session.py").status_code == 404
    assert client.get("/static/other.js").status_code == 404


def test_bad_query_parameters_are_4xx_pages_naming_the_parameter(client: TestClient) -> None:
    sign_in(client)
    cases = {
        "/?by=year": (400, "by must be week or month"),
        "/?levels=1999": (400, "levels must be one of 2023, 2024, 2025"),
        "/?since=yesterday": (400, "--since &#39;yesterday&#39; is not a date"),
        "/?team=nope": (404, "no team named &#39;nope&#39;"),
        "/?team=core&service=api": (400, "give only one of service, team, context"),
        "/?definition=nope": (404, "nope"),
        "/?since=2026-10-25&until=2026-10-01": (400, "must be before"),
        "/records/deployments?sort=nope": (400, "sort must be one of finished_at"),
        "/records/deployments?dir=up": (400, "dir must be asc or desc"),
        "/records/changes?only=nope": (400, "only must be one of shipped, unshipped, revert"),
        "/records/incidents?limit=0": (400, "limit must be a whole number from 1 to 200"),
        "/records/incidents?offset=-1": (400, "offset must be a whole number"),
        "/records/incidents?offset=²": (400, "offset must be a whole number"),
        f"/records/changes?q={'x' * 201}": (400, "q must be at most 200 characters"),
        "/records/nope": (404, "records are deployments, changes or incidents"),
        "/flags/nope": (404, "flag &#39;nope&#39; does not exist"),
    }
    for url, (status, words) in cases.items():
        answer = client.get(url)
        assert answer.status_code == status, (url, answer.status_code)
        assert words in answer.text, (url, answer.text[-600:])


def test_a_signed_in_browser_reads_the_json_twins_but_writes_need_a_token(
    client: TestClient,
) -> None:
    assert client.get("/api/metrics").status_code == 401
    sign_in(client, "editor")
    assert client.get("/api/metrics?since=2026-10-05&until=2026-10-25").status_code == 200
    assert client.get("/api/tokens").status_code == 403  # still the session's role
    note = {"scope": "organisation", "period": "2026-10", "text": "x", "author": "ana"}
    assert client.post("/api/notes", json=note).status_code == 401  # a cookie rides along anywhere
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    [token] = [t for t in tokens.list() if t.name == "web-editor"]
    tokens.revoke(token.id, actor="test")
    assert client.get("/api/metrics").status_code == 401
