"""Segments in the web app: listed with the flags naming them; made, changed and deleted by
editors through the flag service's segment commands, each change confirmed after its diff;
refusals shown beside their field."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import csrf_of, login, sign_in
from tests.web.forms import form_fields, submit
from tests.web.test_flags import FLAG

NEW = "/segments/new"
EDIT = "/segments/beta/edit"


def _segment(client: TestClient) -> None:
    flags = client.app.state.flags  # type: ignore[attr-defined]
    flags.put_segment(
        {
            "key": "beta",
            "description": "early adopters",
            "included": ["u1", "u2"],
            "conditions": [{"attribute": "plan", "operator": "eq", "value": "pro"}],
        },
        actor="test",
    )


def _problem(page: str, anchor: str) -> str | None:
    found = re.search(f'<p class="problem" id="e-{re.escape(anchor)}">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def test_a_segment_is_made_after_its_diff_and_listed(client: TestClient) -> None:
    sign_in(client, "editor")
    page = client.get(NEW).text
    grown = submit(client, page, NEW, "add-condition").text
    typed = {
        "key": "staff",
        "description": "our own people",
        "included": "ana\r\nbo, cy",
        "conditions.0.attribute": "email",
        "conditions.0.operator": "ends_with",
        "conditions.0.value": "@example.com",
    }
    review = submit(client, grown, NEW, "review", typed)
    assert review.status_code == 200, review.text
    assert "<li>Always in: ana, bo, cy</li>" in review.text
    assert "<li>Otherwise in when: email ends_with @example.com</li>" in review.text
    assert client.get("/api/segments").json() == []  # reviewing saved nothing
    done = submit(client, review.text, NEW, "save")
    assert done.status_code == 303
    assert done.headers["location"] == "/segments#segment-staff"
    assert client.get("/api/segments/staff").json() == {
        "key": "staff",
        "description": "our own people",
        "included": ["ana", "bo", "cy"],
        "excluded": [],
        "conditions": [{"attribute": "email", "operator": "ends_with", "value": "@example.com"}],
        "version": 1,
    }
    listed = client.get("/segments").text
    row = listed.split('data-segment="staff"')[1].split("</tr>")[0]
    assert "<td>ana, bo, cy</td>" in row
    assert "<td>no flag</td>" in row


def test_a_segment_change_shows_what_moves(client: TestClient) -> None:
    _segment(client)
    sign_in(client, "editor")
    page = client.get(EDIT).text
    assert form_fields(page, EDIT)["included"] == "u1\nu2"
    review = submit(client, page, EDIT, "review", {"included": "u1\nu3", "excluded": "u9"})
    rows = re.findall(
        r"<code>([^<]+)</code></th><td><del>([^<]*)</del></td><td><ins>([^<]*)", review.text
    )
    assert [(p, html.unescape(a), html.unescape(b)) for p, a, b in rows] == [
        ("excluded", "[]", '["u9"]'),
        ("included.1", '"u2"', '"u3"'),
    ]
    assert submit(client, review.text, EDIT, "save").status_code == 303
    saved = client.get("/api/segments/beta").json()
    assert (saved["included"], saved["excluded"], saved["version"]) == (["u1", "u3"], ["u9"], 2)
    assert saved["conditions"] == [{"attribute": "plan", "operator": "eq", "value": "pro"}]


CASES = {
    "a key that is no key": ({"key": "no spaces"}, "key", "write a key of letters"),
    "a key taken": ({"key": "beta"}, "key", "a segment 'beta' exists already"),
    "a segment in a segment": (
        {
            "conditions.0.attribute": "targetingKey",
            "conditions.0.operator": "in_segment",
            "conditions.0.value": "beta",
        },
        "conditions.0.operator",
        "a segment cannot refer to another segment; copy its conditions",
    ),
    "a regular expression RE2 refuses": (
        {
            "conditions.0.attribute": "email",
            "conditions.0.operator": "matches",
            "conditions.0.value": "(?=x)",
        },
        "conditions.0.value",
        "invalid regular expression '(?=x)': RE2 cannot compile it:",
    ),
    "an unknown operator": (
        {"conditions.0.attribute": "email", "conditions.0.operator": "like"},
        "conditions.0.operator",
        "unknown operator 'like'; choose one of the list",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_refusal_is_shown_beside_its_field(client: TestClient, case: str) -> None:
    typed, anchor, message = CASES[case]
    _segment(client)
    sign_in(client, "editor")
    page = submit(client, client.get(NEW).text, NEW, "add-condition").text
    refused = submit(client, page, NEW, "review", {"key": "gamma", "included": "u1", **typed})
    assert refused.status_code == 422, refused.text
    assert (_problem(refused.text, anchor) or "").startswith(message)
    kept = form_fields(refused.text, NEW)
    assert {name: kept.get(name) for name in typed} == typed
    assert [s["key"] for s in client.get("/api/segments").json()] == ["beta"]


def test_a_segment_a_flag_names_is_not_deleted(client: TestClient) -> None:
    _segment(client)
    rule = {
        "conditions": [{"attribute": "targetingKey", "operator": "in_segment", "value": "beta"}],
        "serve": {"variant": "on"},
    }
    flags = client.app.state.flags  # type: ignore[attr-defined]
    flags.create_flag(FLAG, actor="test")
    flags.update_environment("new-checkout", "production", {"rules": [rule]}, actor="test")
    sign_in(client, "editor")
    listed = client.get("/segments").text
    assert "<td>new-checkout (production)</td>" in listed
    ask = client.get("/segments/beta/delete")
    assert "Flags name it: new-checkout (production)." in ask.text
    refused = client.post("/segments/beta/delete", data={"csrf": csrf_of(listed)})
    assert refused.status_code == 409
    assert "segment &#39;beta&#39; is used by flag(s) new-checkout" in refused.text
    flags.update_environment("new-checkout", "production", {"rules": []}, actor="test")
    ask = client.get("/segments/beta/delete").text
    done = client.post("/segments/beta/delete", data={"csrf": csrf_of(ask)}, follow_redirects=False)
    assert done.status_code == 303
    assert client.get("/api/segments/beta").status_code == 404


def test_viewers_and_editors_of_some_environments_only_read_segments(
    client: TestClient,
) -> None:
    _segment(client)
    sign_in(client, "viewer")
    listed = client.get("/segments")
    assert listed.status_code == 200
    assert "<td>plan eq pro</td>" in listed.text
    assert "/segments/new" not in listed.text
    assert "/edit" not in listed.text
    assert client.get(NEW).status_code == 403
    refused = client.post(EDIT, data={"csrf": csrf_of(listed.text), "op": "save", "key": "beta"})
    assert refused.status_code == 403
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    _, secret = tokens.create("editor", name="stager", actor="test", environments=["staging"])
    login(client, secret)
    assert "/segments/new" not in client.get("/segments").text
    scoped = client.get(EDIT)
    assert scoped.status_code == 403
    assert "You may change environments staging only, not every environment." in scoped.text
    assert client.get("/api/segments/beta").json()["version"] == 1


def test_unknown_segments_and_operations_are_4xx(client: TestClient) -> None:
    _segment(client)
    sign_in(client, "editor")
    assert client.get("/segments/nosuch/edit").status_code == 404
    assert client.get("/segments/nosuch/delete").status_code == 404
    page = client.get(EDIT).text
    assert submit(client, page, EDIT, "remove-condition:5").status_code == 400
    same = submit(client, page, EDIT, "review")
    assert "Nothing to save: the segment is this already." in same.text
