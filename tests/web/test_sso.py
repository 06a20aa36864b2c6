"""Single sign-on, end to end, against an OpenID Connect provider the test runs.

The browser's part is played by hand, hop by hop: Headway's `/login/oidc` sends it to the
provider's authorization endpoint, the provider (Authlib's server, `oidc_provider.py`) sends
it back to `/login/oidc/callback` with a code, and Headway exchanges the code at the
provider's token endpoint over HTTP, with its PKCE verifier and client secret, and checks the
signed ID token. Each test says who is signed in at the provider and in which groups.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from headway import web
from headway.api.app import create_app
from headway.config import Settings
from headway.ratelimit import KeyRateLimit
from headway.web.session import COOKIE
from tests.web.oidc_provider import Provider

CALLBACK = "http://testserver/login/oidc/callback"
SECRET = "client-secret-0f9a8b7c6d5e4f3a2b1c"
ANN = {"sub": "u-ann", "email": "Ann@Example.com", "name": "Ann", "groups": ["platform-admins"]}


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    found = Provider("headway", SECRET, CALLBACK).start()
    yield found
    found.stop()


@pytest.fixture
def client(tmp_path: Path, provider: Provider) -> Iterator[TestClient]:
    provider.codes.clear()
    provider.token_requests = 0
    settings = Settings(
        database=str(tmp_path / "store.duckdb"),
        oidc_issuer=provider.issuer,
        oidc_client_id="headway",
        oidc_client_secret=SECRET,
        oidc_role_map="platform-admins=admin,eng=viewer,release-managers=editor",
    )
    with TestClient(web.install(create_app(settings))) as http:
        yield http


def _to_provider(client: TestClient, target: str = "/flags") -> str:
    """Start at the login page's link; the provider's authorization URL it sends us to."""
    page = client.get(f"/login?next={target}")
    link = re.search(r'href="(/login/oidc\?[^"]+)"', page.text)
    assert link, page.text
    leaving = client.get(link.group(1).replace("&amp;", "&"), follow_redirects=False)
    assert leaving.status_code == 303
    return leaving.headers["location"]


def _at_provider(url: str) -> str:
    """The provider's answer to the authorization request: the callback URL it sends back."""
    answer = httpx.get(url, follow_redirects=False)
    assert answer.status_code == 302, answer.text
    back: str = answer.headers["location"]
    assert back.startswith(CALLBACK), back
    return back


def _back_at_headway(client: TestClient, callback: str) -> Any:
    parts = urlsplit(callback)
    return client.get(f"{parts.path}?{parts.query}", follow_redirects=False)


def _sign_in(client: TestClient, provider: Provider, user: dict[str, Any]) -> Any:
    provider.user = user
    return _back_at_headway(client, _at_provider(_to_provider(client)))


def test_the_authorization_request_asks_for_a_code_with_pkce_state_and_nonce(
    client: TestClient, provider: Provider
) -> None:
    url = _to_provider(client)
    assert url.startswith(f"{provider.issuer}/authorize?")
    asked = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert asked["response_type"] == "code"
    assert asked["client_id"] == "headway"
    assert asked["redirect_uri"] == CALLBACK
    assert asked["scope"] == "openid email profile"
    assert asked["code_challenge_method"] == "S256"
    # an S256 challenge is 43 base64url characters; state and nonce are 43 as well (32 bytes)
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", asked["code_challenge"])
    assert len(asked["state"]) >= 43
    assert len(asked["nonce"]) >= 43
    assert "code_verifier" not in asked  # the verifier stays with Headway


def test_a_person_in_a_mapped_group_signs_in_with_its_role(
    client: TestClient, provider: Provider
) -> None:
    # Given Ann in platform-admins and eng (admin and viewer), When she signs in
    done = _sign_in(client, provider, {**ANN, "groups": ["eng", "platform-admins"]})
    # Then the strongest role is hers, the session cookie is set, and the page moves on to
    # where she was going with a same-site navigation (the cookie is SameSite=Strict).
    assert done.status_code == 200, done.text
    assert "Signed in as ann@example.com (admin)" in done.text
    assert '<meta http-equiv="refresh" content="0;url=/flags">' in done.text
    cookies = done.headers.get_list("set-cookie")
    assert any(c.startswith(f"{COOKIE}=") and "SameSite=strict" in c for c in cookies)
    assert provider.token_requests == 1
    # The session is an admin's: the users page and the API's users list answer it.
    assert client.get("/users").status_code == 200
    [ann] = client.get("/api/users").json()
    assert (ann["email"], ann["role"], ann["role_from"]) == ("ann@example.com", "admin", "groups")
    # The code was for one use: the same callback again is refused by the provider.
    again = client.get("/login/oidc/callback", params={"code": "x", "state": "y"})
    assert again.status_code == 403


def test_a_viewer_from_groups_reads_and_may_not_administer(
    client: TestClient, provider: Provider
) -> None:
    done = _sign_in(client, provider, {**ANN, "groups": ["eng"]})
    assert "(viewer)" in done.text
    assert client.get("/flags").status_code == 200
    assert client.get("/users").status_code == 403
    assert client.get("/api/users").status_code == 403


def test_a_person_in_no_mapped_group_is_refused(client: TestClient, provider: Provider) -> None:
    refused = _sign_in(client, provider, {**ANN, "groups": ["sales"]})
    assert refused.status_code == 403
    assert "none of ann@example.com&#39;s groups is given a role" in refused.text
    assert not any(c.startswith(f"{COOKIE}=") for c in refused.headers.get_list("set-cookie"))
    assert client.get("/flags", follow_redirects=False).status_code == 303  # to the login page


def test_an_admins_grant_outranks_groups_and_a_removed_user_is_refused(
    client: TestClient, provider: Provider
) -> None:
    users = client.app.state.users  # type: ignore[attr-defined]
    users.add("ann@example.com", "editor", actor="test", environments=["staging"])
    done = _sign_in(client, provider, {**ANN, "groups": ["sales"]})  # no mapped group
    assert "(editor)" in done.text
    # A change of role holds at the next request of the open session.
    users.set_role("ann@example.com", "viewer", actor="test")
    assert "(viewer)" in client.get("/flags").text
    users.remove("ann@example.com", actor="test")
    assert client.get("/flags", follow_redirects=False).status_code == 303
    client.cookies.clear()
    refused = _sign_in(client, provider, ANN)
    assert refused.status_code == 403
    assert "removed by an admin" in refused.text


def test_a_wrong_state_is_refused_before_the_code_is_used(
    client: TestClient, provider: Provider
) -> None:
    provider.user = ANN
    callback = _at_provider(_to_provider(client))
    parts = urlsplit(callback)
    given = {k: v[0] for k, v in parse_qs(parts.query).items()}
    forged = client.get(
        f"{parts.path}?{urlencode({**given, 'state': 'A' * 43})}", follow_redirects=False
    )
    assert forged.status_code == 403
    assert "state does not match" in forged.text
    assert provider.token_requests == 0  # the code never left Headway
    assert not any(c.startswith(f"{COOKIE}=") for c in forged.headers.get_list("set-cookie"))


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(
    client: TestClient, provider: Provider
) -> None:
    # Given an authorization request whose challenge was swapped on the way (as an attacker
    # who injects a code of their own making would have it): the code the provider gives is
    # bound to another verifier than the one Headway holds.
    provider.user = ANN
    url = _to_provider(client)
    other = "B" * 43  # the S256 challenge of some other verifier
    swapped = re.sub(r"code_challenge=[^&]+", f"code_challenge={other}", url)
    done = _back_at_headway(client, _at_provider(swapped))
    # Then the provider refuses the exchange, and so does Headway.
    assert provider.token_requests == 1
    assert done.status_code == 403
    assert "refused the sign-in" in done.text
    assert "invalid_grant" in done.text
    assert not any(c.startswith(f"{COOKIE}=") for c in done.headers.get_list("set-cookie"))


def test_the_provider_refuses_a_code_without_its_verifier(provider: Provider) -> None:
    # The provider itself enforces PKCE: a code sent without the verifier is refused.
    provider.user = ANN
    query = {
        "response_type": "code",
        "client_id": "headway",
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": "s" * 20,
        "nonce": "n" * 20,
        "code_challenge": "C" * 43,
        "code_challenge_method": "S256",
    }
    back = _at_provider(f"{provider.issuer}/authorize?{urlencode(query)}")
    code = parse_qs(urlsplit(back).query)["code"][0]
    refused = httpx.post(
        f"{provider.issuer}/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK},
        auth=("headway", SECRET),
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_request"
    # and an authorization request without a challenge gets no code at all
    plain = {k: v for k, v in query.items() if not k.startswith("code_challenge")}
    answer = httpx.get(f"{provider.issuer}/authorize?{urlencode(plain)}", follow_redirects=False)
    assert "error=invalid_request" in answer.headers["location"]


def test_refused_single_sign_ons_count_toward_the_addresss_limit(
    client: TestClient, provider: Provider
) -> None:
    # Given a limit of two failed sign-ins a minute (HEADWAY_LOGIN_RATE_LIMIT)
    client.app.state.login_limit = KeyRateLimit("2/minute")  # type: ignore[attr-defined]
    for _ in range(2):
        assert _sign_in(client, provider, {**ANN, "groups": ["sales"]}).status_code == 403
    # Then the address is held: the next single sign-on does not start
    held = client.get("/login/oidc", follow_redirects=False)
    assert held.status_code == 429
    assert 1 <= int(held.headers["retry-after"]) <= 60
    assert provider.token_requests == 2  # the held attempt never reached the provider
