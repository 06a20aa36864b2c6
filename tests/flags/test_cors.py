"""CORS: browsers on allowed origins may call the client endpoints, and nothing else."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from tests.flags.conftest import BOOLEAN_FLAG, Api

APP = "https://app.example.com"
EVIL = "https://evil.example.net"
PREFLIGHT = {
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type, if-none-match",
}


def _allow(api: Api, env: str, origins: list[str]) -> Any:
    return api.http.put(
        f"/api/environments/{env}/cors-origins", json={"origins": origins}, headers=api.admin
    )


def _client_side_flag(api: Api) -> None:
    doc = {**BOOLEAN_FLAG, "client_side": True}
    assert api.http.post("/api/flags", json=doc, headers=api.admin).status_code == 201
    api.http.patch(
        "/api/flags/new-checkout/environments/production", json={"enabled": True}, headers=api.admin
    )


def test_no_origin_is_allowed_by_default(api: Api) -> None:
    # Given a fresh server: no environment lists an origin
    envs = api.http.get("/api/environments", headers=api.admin).json()
    assert {e["key"]: e["cors_origins"] for e in envs} == {
        "development": [],
        "staging": [],
        "production": [],
    }
    # When a page on any origin sends a preflight, it is refused, without CORS headers
    r = api.http.options("/ofrep/v1/evaluate/flags", headers={"Origin": APP, **PREFLIGHT})
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers
    assert "headway flags origins" in r.json()["error"]


def test_an_allowed_origin_gets_a_preflight_without_credentials_and_reads_answers(api: Api) -> None:
    _client_side_flag(api)
    # Given production allows the page's origin, written as people paste it
    r = _allow(api, "production", ["HTTPS://App.Example.com:443/"])
    assert r.status_code == 200, r.text
    assert r.json()["cors_origins"] == [APP]
    # When the browser sends its preflight (no Authorization: preflights carry no credentials)
    pre = api.http.options("/ofrep/v1/evaluate/flags", headers={"Origin": APP, **PREFLIGHT})
    # Then it is answered, not refused by authentication
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == APP
    assert "POST" in pre.headers["access-control-allow-methods"]
    assert (
        pre.headers["access-control-allow-headers"] == "authorization, content-type, if-none-match"
    )
    assert "access-control-allow-credentials" not in pre.headers  # keys, never cookies
    # And the request itself carries the origin back, exposing the ETag the provider reuses
    key = {"Authorization": f"Bearer {api.client_key}", "Origin": APP}
    r = api.http.post("/ofrep/v1/evaluate/flags", json={"context": {}}, headers=key)
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == APP
    assert "ETag" in r.headers["access-control-expose-headers"]
    assert "Origin" in r.headers["vary"]
    # An unknown key's 401 is readable too, so the page can say why
    bad = api.http.post(
        "/ofrep/v1/evaluate/flags/x",
        json={},
        headers={"Authorization": "Bearer nope", "Origin": APP},
    )
    assert bad.status_code == 401
    assert bad.headers["access-control-allow-origin"] == APP


def test_an_origin_is_allowed_only_for_its_own_environment(api: Api) -> None:
    _client_side_flag(api)
    # Given the origin is allowed in staging only, and the key is production's
    _allow(api, "staging", [APP])
    key = {"Authorization": f"Bearer {api.client_key}", "Origin": APP}
    # The preflight passes (it cannot say which environment it is for) but the answer to the
    # production key carries no Access-Control-Allow-Origin, so the browser withholds it
    assert (
        api.http.options(
            "/ofrep/v1/evaluate/flags", headers={"Origin": APP, **PREFLIGHT}
        ).status_code
        == 204
    )
    r = api.http.post("/ofrep/v1/evaluate/flags", json={}, headers=key)
    assert "access-control-allow-origin" not in r.headers
    # And another origin is refused outright
    r = api.http.options("/ofrep/v1/evaluate/flags", headers={"Origin": EVIL, **PREFLIGHT})
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("OPTIONS", "/api/flags"),
        ("GET", "/api/flags"),
        ("GET", "/api/environments"),
        ("OPTIONS", "/sdk/config"),
        ("GET", "/sdk/config"),
        ("OPTIONS", "/hooks/github"),
        ("GET", "/healthz"),
    ],
)
def test_admin_and_delivery_routes_never_send_cors_headers(
    api: Api, method: str, path: str
) -> None:
    # Given every environment allows the origin
    for env in ("development", "staging", "production"):
        _allow(api, env, [APP])
    headers = {"Origin": APP, **PREFLIGHT, **api.admin}
    r = api.http.request(method, path, headers=headers)
    assert not [h for h in r.headers if h.lower().startswith("access-control-")]


def test_the_exposure_route_of_client_keys_answers_preflights(api: Api) -> None:
    _allow(api, "production", [APP])
    r = api.http.options("/sdk/exposures", headers={"Origin": APP, **PREFLIGHT})
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == APP


@pytest.mark.parametrize(
    ("origin", "problem"),
    [
        ("*", "wildcards are not allowed"),
        ("https://*.example.com", "wildcards are not allowed"),
        ("https://app.example.com/path", "remove the path"),
        ("ftp://app.example.com", "write scheme and host"),
        ("app.example.com", "write scheme and host"),
        ("https://user:pw@app.example.com", "credentials"),
    ],
)
def test_origins_that_are_not_one_exact_origin_are_refused(
    api: Api, origin: str, problem: str
) -> None:
    r = _allow(api, "production", [APP, origin])
    assert r.status_code == 422
    (found,) = r.json()["problems"]
    assert found["field"] == "origins[1]"
    assert problem in found["problem"]


def test_managing_origins_needs_an_admin_token_and_a_known_environment(api: Api) -> None:
    r = api.http.put(
        "/api/environments/production/cors-origins",
        json={"origins": [APP]},
        headers={"Authorization": f"Bearer {api.server_key}"},
    )
    assert r.status_code == 403
    assert _allow(api, "nowhere", [APP]).status_code == 404


def test_the_cli_adds_removes_and_clears_origins(tmp_path: Any, monkeypatch: Any) -> None:
    from headway.cli import app
    from headway.config import get_settings

    monkeypatch.setenv("HEADWAY_DATABASE", str(tmp_path / "cli.duckdb"))
    get_settings.cache_clear()
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(app, ["flags", "origins", *args])

    try:
        assert "allows no browser origin" in run("production").output
        out = run("production", "--allow", APP, "--allow", "http://localhost:5173").output
        assert f"allows browsers on: {APP}, http://localhost:5173" in out
        assert "on: http://localhost:5173" in run("production", "--remove", APP + "/").output
        assert "allows no browser origin" in run("production", "--clear").output
        bad = run("production", "--allow", "*")
        assert bad.exit_code == 2
        assert "wildcards are not allowed" in bad.output
    finally:
        get_settings.cache_clear()


# --- what a client key can learn -----------------------------------------------------------


def test_a_server_only_change_leaves_a_client_keys_etag_and_304_alone(api: Api) -> None:
    # Given a client-side flag and a server-only one
    _client_side_flag(api)
    server_only = {**BOOLEAN_FLAG, "key": "internal-pricing"}
    assert api.http.post("/api/flags", json=server_only, headers=api.admin).status_code == 201
    client = {"Authorization": f"Bearer {api.client_key}"}
    server = {"Authorization": f"Bearer {api.server_key}"}
    body = {"context": {"targetingKey": "u1"}}

    def bulk(key: dict[str, str], etag: str | None = None) -> Any:
        extra = {"If-None-Match": etag} if etag else {}
        return api.http.post("/ofrep/v1/evaluate/flags", json=body, headers={**key, **extra})

    client_tag, server_tag = bulk(client).headers["etag"], bulk(server).headers["etag"]
    # When the server-only flag is switched on, changed and killed
    for change in ({"enabled": True}, {"default": {"variant": "off"}}):
        api.http.patch(
            "/api/flags/internal-pricing/environments/production", json=change, headers=api.admin
        )
        # Then the client key's ETag stays and its If-None-Match still answers 304
        again = bulk(client, client_tag)
        assert again.status_code == 304
        assert again.headers["etag"] == client_tag
    api.http.post("/api/flags/internal-pricing/kill", json={}, headers=api.admin)
    assert bulk(client, client_tag).status_code == 304
    # While the server key, which sees the flag, gets a new answer
    assert bulk(server, server_tag).status_code == 200
    # And a change to the client-side flag reaches the client key
    api.http.patch(
        "/api/flags/new-checkout/environments/production",
        json={"enabled": False},
        headers=api.admin,
    )
    changed = bulk(client, client_tag)
    assert changed.status_code == 200
    assert changed.headers["etag"] != client_tag


def test_a_client_key_opens_no_configuration_stream(api: Api) -> None:
    # A client key's only way to learn of changes is asking OFREP (polling), whose answers
    # hold only what it may see: the stream and configuration carry every flag, so they refuse it
    client = {"Authorization": f"Bearer {api.client_key}"}
    assert api.http.get("/sdk/stream", headers=client).status_code == 403
    assert api.http.get("/sdk/config", headers=client).status_code == 403
