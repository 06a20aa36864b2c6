"""No secret reaches the server's logs: a full run, then a search of everything it wrote.

`headway serve` runs with its access log on and at debug level, its output kept. Every kind
of secret is then used against it the way its holder would: role tokens (as bearer and
`X-API-Key`, one mistyped), a token made through the API, server and client SDK keys, the
GitHub, GitLab and Opsgenie webhook secrets (Opsgenie's in the query), the key that encrypts
stored secrets, the session key and the session cookies of a token sign-in and of a single
sign-on, with the OIDC client secret, the code and the flow cookie of that sign-on. Then every secret, and the random part of each
token, is searched for in the log: none may be there.
"""

from __future__ import annotations

import base64
import json
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.api.conftest import github_headers
from tests.conftest import FIXTURES, free_port, make_token, wait_until_serving
from tests.web.oidc_provider import Provider

pytestmark = pytest.mark.slow


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def test_a_full_run_logs_no_secret(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    webhook = {
        "github": "gh-" + secrets.token_urlsafe(24),
        "gitlab": "gl-" + secrets.token_urlsafe(24),
        "opsgenie": "og-" + secrets.token_urlsafe(24),
    }
    client_secret = "oidc-" + secrets.token_urlsafe(24)
    session_key = "sk-" + secrets.token_urlsafe(32)
    secret_key = base64.b64encode(secrets.token_bytes(32)).decode()
    provider = Provider("headway", client_secret, f"{url}/login/oidc/callback").start()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env.update(
        HEADWAY_DATABASE=str(tmp_path / "store.duckdb"),
        HEADWAY_ACCESS_LOG="true",
        HEADWAY_SESSION_KEY=session_key,
        HEADWAY_SECRET_KEY=secret_key,
        HEADWAY_OIDC_ISSUER=provider.issuer,
        HEADWAY_OIDC_CLIENT_ID="headway",
        HEADWAY_OIDC_CLIENT_SECRET=client_secret,
        HEADWAY_OIDC_ROLE_MAP="eng=editor",
        HEADWAY_ROLLOUT_INTERVAL="0",
        **{f"HEADWAY_{source.upper()}_WEBHOOK_SECRET": s for source, s in webhook.items()},
    )
    admin = make_token(env, "admin")
    viewer = make_token(env, "viewer")
    server_key = make_token(env, "server", "production")
    client_key = make_token(env, "client", "production")
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        serve = subprocess.Popen(
            [sys.executable, "-m", "headway", "serve", "--port", str(port), "--log-level", "debug"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    used: dict[str, str] = {
        "admin": admin,
        "viewer": viewer,
        "server key": server_key,
        "client key": client_key,
        "client secret": client_secret,
        "session key": session_key,
        "secret key": secret_key,
        **{f"{source} webhook": s for source, s in webhook.items()},
    }
    try:
        wait_until_serving(url)
        with httpx.Client(base_url=url, timeout=30) as http:
            bearer = {"Authorization": f"Bearer {admin}"}
            # role tokens, as bearer and as X-API-Key, and one mistyped
            assert http.get("/api/flags", headers=bearer).status_code == 200
            assert http.get("/api/metrics", headers={"X-API-Key": viewer}).status_code == 200
            wrong = viewer[:-4] + "xxxx"
            used["mistyped token"] = wrong
            assert (
                http.get("/api/flags", headers={"Authorization": f"Bearer {wrong}"}).status_code
                == 401
            )
            # a token made through the API, then used
            made = http.post("/api/tokens", json={"kind": "editor", "name": "ci"}, headers=bearer)
            used["made token"] = made.json()["secret"]
            flag = {
                "key": "checkout",
                "type": "boolean",
                "owner": "web",
                "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
                "lifecycle": {"kind": "permanent"},
            }
            editor = {"Authorization": f"Bearer {used['made token']}"}
            assert http.post("/api/flags", json=flag, headers=editor).status_code == 201
            # SDK keys
            sdk = {"Authorization": f"Bearer {server_key}"}
            assert http.get("/sdk/config", headers=sdk).status_code == 200
            ofrep = http.post(
                "/ofrep/v1/evaluate/flags",
                json={"context": {"targetingKey": "u1"}},
                headers={"Authorization": f"Bearer {client_key}"},
            )
            assert ofrep.status_code == 200
            # webhooks: GitHub signs with its secret, GitLab sends it, Opsgenie in the query
            ping = (FIXTURES / "github" / "ping" / "payload.json").read_bytes()
            headers = github_headers(ping, "ping", secret=webhook["github"])
            assert http.post("/hooks/github", content=ping, headers=headers).status_code < 300
            gitlab = http.post(
                "/hooks/gitlab",
                json={"object_kind": "nothing"},
                headers={"X-Gitlab-Token": webhook["gitlab"], "X-Gitlab-Event": "Nothing Hook"},
            )
            assert gitlab.status_code != 401
            opsgenie = http.post(
                f"/hooks/opsgenie?token={webhook['opsgenie']}", json={"action": "x"}
            )
            assert opsgenie.status_code != 401
        # the web app, signed in with a token: its login form's CSRF token and session cookie
        with httpx.Client(base_url=url, timeout=30) as browser:
            form = browser.get("/login")
            used["login csrf"] = _csrf(form.text)
            assert (
                browser.post(
                    "/login", data={"token": "hwa_wrong", "csrf": used["login csrf"]}
                ).status_code
                == 401
            )
            signed = browser.post(
                "/login", data={"token": admin, "csrf": used["login csrf"]}, follow_redirects=False
            )
            assert signed.status_code == 303
            used["token session"] = browser.cookies["headway_session"]
            assert browser.get("/tokens").status_code == 200
        # the web app, signed in through the identity provider
        provider.user = {"sub": "u1", "email": "ann@example.com", "groups": ["eng"]}
        with httpx.Client(base_url=url, timeout=30) as browser:
            leaving = browser.get("/login/oidc?next=/flags", follow_redirects=False)
            used["oidc flow cookie"] = browser.cookies["headway_oidc"]
            back = httpx.get(leaving.headers["location"], follow_redirects=False)
            callback = urlsplit(back.headers["location"])
            used["authorization code"] = parse_qs(callback.query)["code"][0]
            done = browser.get(f"{callback.path}?{callback.query}")
            assert done.status_code == 200, done.text
            used["sso session"] = browser.cookies["headway_session"]
            assert browser.get("/flags").status_code == 200
            assert browser.get("/api/flags").status_code == 200  # a page's JSON twin
    finally:
        serve.terminate()
        serve.wait(30)
        provider.stop()
    text = log.read_text(errors="replace")
    # The run was logged: the access log names each request and who made it.
    assert "GET /api/flags 200" in text
    assert "token:ci" in text
    assert "POST /hooks/opsgenie" in text  # its path, without the query that holds the token
    assert "GET /login/oidc/callback 200" in text
    assert "POST /hooks/github 2" in text
    leaked = {
        name: secret for name, secret in used.items() for part in _parts(secret) if part in text
    }
    assert not leaked, f"these secrets are in the server's log: {json.dumps(sorted(leaked))}"


def _parts(secret: str) -> list[str]:
    """The secret, and for a token its random part alone (`hwa_ID_RANDOM`)."""
    parts = [secret]
    if re.fullmatch(r"hw[a-z]_[0-9a-f]{8}_.+", secret):
        parts.append(secret.split("_", 2)[2])
    return parts
