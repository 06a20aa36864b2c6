"""Admins manage tokens in the app: make one (its secret shown once), revoke one after a
confirmation; other roles are refused."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from headway.flags.tokens import KINDS
from headway.web.tokens import OFFERED
from tests.web.conftest import csrf_of, login, sign_in


def test_the_form_offers_every_kind_the_weakest_first() -> None:
    assert sorted(OFFERED) == sorted(KINDS)
    assert OFFERED[0] == "viewer"


def test_only_an_admin_sees_the_tokens(client: TestClient) -> None:
    sign_in(client, "editor")
    assert 'href="/tokens"' not in client.get("/").text
    refused = client.get("/tokens")
    assert refused.status_code == 403
    assert "This takes an admin token; you signed in with an editor one." in refused.text


def test_an_admin_makes_a_viewer_token_that_signs_in(client: TestClient) -> None:
    sign_in(client, "admin")
    page = client.get("/tokens").text
    made = client.post(
        "/tokens", data={"csrf": csrf_of(page), "name": "ana", "kind": "viewer", "environment": ""}
    )
    assert made.status_code == 201
    [secret] = re.findall(r'<code class="secret">([^<]+)</code>', made.text)
    assert secret.startswith("hwv_")
    assert login(client, secret).status_code == 303
    assert "ana (viewer)" in client.get("/").text


def test_bad_token_forms_say_what_to_fix_next_to_the_field(client: TestClient) -> None:
    sign_in(client, "admin")
    csrf = csrf_of(client.get("/tokens").text)
    nameless = client.post("/tokens", data={"csrf": csrf, "name": " ", "kind": "viewer"})
    assert nameless.status_code == 422
    assert 'id="name-problem"' in nameless.text
    sdk = client.post("/tokens", data={"csrf": csrf, "name": "shop", "kind": "server"})
    assert sdk.status_code == 422
    assert "server keys need one of: development, staging, production" in sdk.text
    assert 'id="environment-problem"' in sdk.text


def test_revoking_asks_first_and_then_the_token_is_refused(client: TestClient) -> None:
    sign_in(client, "admin")
    _, secret = client.app.state.tokens.create("viewer", name="bo", actor="test")  # type: ignore[attr-defined]
    page = client.get("/tokens").text
    [ask] = re.findall(r'href="(/tokens/\w+/revoke)">Revoke bo<', page)
    confirm = client.get(ask)
    assert "Revoke viewer token bo?" in confirm.text
    done = client.post(ask, data={"csrf": csrf_of(confirm.text)}, follow_redirects=False)
    assert done.status_code == 303
    assert login(client, secret).status_code == 401


def test_the_tokens_page_lists_what_its_json_twin_lists(client: TestClient) -> None:
    sign_in(client, "admin")
    client.app.state.tokens.create("scrape", name="prometheus", actor="test")  # type: ignore[attr-defined]
    page = client.get("/tokens").text
    twin = client.get("/api/tokens").json()
    shown = re.findall(
        r'<tr data-token="(\w+)">\s*<th scope="row">([^<]*)</th><td>(\w+)</td>', page
    )
    assert sorted(shown) == sorted((t["id"], t["name"], t["kind"]) for t in twin)
