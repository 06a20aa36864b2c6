"""Who may edit targeting in the web app, and how the form answers what it cannot do: viewers
and editors of other environments see but cannot change; a missing CSRF token, a flag changed
meanwhile, an unchanged form, a bad operation and unknown names each get their page."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.web.conftest import csrf_of, login, sign_in
from tests.web.forms import form_fields, submit
from tests.web.test_targeting import ACTION, NL_RULE, api_flag, edit_page, make_flag


def test_a_viewer_sees_the_targeting_and_cannot_change_it(client: TestClient) -> None:
    make_flag(client, [NL_RULE])
    sign_in(client, "viewer")
    page = client.get("/flags/new-checkout").text
    assert "<li>country in NL → on</li>" in page
    assert "/targeting/" not in page  # no edit link
    assert client.get(ACTION).status_code == 403
    refused = client.post(ACTION, data={"csrf": csrf_of(page), "op": "review"})
    assert refused.status_code == 403
    assert "This takes an editor token" in refused.text


def test_an_editor_of_staging_edits_staging_only(client: TestClient) -> None:
    make_flag(client)
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    _, secret = tokens.create("editor", name="stager", actor="test", environments=["staging"])
    assert login(client, secret).status_code == 303
    page = client.get("/flags/new-checkout").text
    assert re.findall(r'href="(/flags/new-checkout/targeting/[^"]+)"', page) == [
        "/flags/new-checkout/targeting/staging"
    ]
    assert client.get("/flags/new-checkout/targeting/staging").status_code == 200
    refused = client.get(ACTION)
    assert refused.status_code == 403
    assert "You may change environments staging only, not production." in refused.text
    posted = client.post(ACTION, data={"csrf": csrf_of(page), "op": "review"})
    assert posted.status_code == 403


def test_a_form_without_its_csrf_token_is_refused(client: TestClient) -> None:
    make_flag(client)
    sign_in(client, "editor")
    fields = form_fields(edit_page(client), ACTION)
    del fields["csrf"]
    refused = client.post(ACTION, data={**fields, "op": "save"})
    assert refused.status_code == 403
    assert "security token is missing" in refused.text
    assert api_flag(client)["version"] == 1


def test_a_flag_changed_meanwhile_is_reviewed_again(client: TestClient) -> None:
    make_flag(client)
    sign_in(client, "editor")
    page = edit_page(client)  # at version 1
    client.app.state.flags.set_enabled(  # type: ignore[attr-defined]
        "new-checkout", "staging", True, actor="token:other"
    )
    stale = submit(client, page, ACTION, "review", {"default.variant": "off"})
    assert stale.status_code == 409
    assert "Someone changed new-checkout since this form was opened (version 1 → 2)" in stale.text
    kept = form_fields(stale.text, ACTION)
    assert (kept["default.variant"], kept["version"]) == ("off", "2")
    review = submit(client, stale.text, ACTION, "review")
    assert review.status_code == 200
    assert submit(client, review.text, ACTION, "save").status_code == 303
    twin = api_flag(client)
    assert twin["version"] == 3
    assert twin["environments"]["staging"]["enabled"] is True  # the other change is kept


def test_nothing_changed_is_said_and_not_saved(client: TestClient) -> None:
    make_flag(client)
    sign_in(client, "editor")
    same = submit(client, edit_page(client), ACTION, "review")
    assert same.status_code == 200
    assert "Nothing to save: production serves this already." in same.text
    assert "Yes, save" not in same.text


def test_bad_operations_and_unknown_names_are_4xx_pages(client: TestClient) -> None:
    make_flag(client, [NL_RULE])
    sign_in(client, "editor")
    page = edit_page(client)
    for op, why in (
        ("up:7", "names no rule of the form"),
        ("explode", "names no rule of the form"),
        ("remove-condition:0:9", "unknown operation"),
        ("add-condition:x", "unknown operation"),
    ):
        answer = submit(client, page, ACTION, op)
        assert answer.status_code == 400, op
        assert why in answer.text, op
    moon = client.get("/flags/new-checkout/targeting/moon")
    assert moon.status_code == 404
    assert "has no environment &#39;moon&#39;" in moon.text
    assert (
        client.post(
            "/flags/new-checkout/targeting/moon", data=form_fields(page, ACTION)
        ).status_code
        == 404
    )
    assert client.get("/flags/nosuch/targeting/production").status_code == 404
