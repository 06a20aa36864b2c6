"""Editing an environment's targeting in the web app: rules, what they serve and the default
are saved through the flag service only after the diff is confirmed, and every refusal is
shown beside the field it names with what was typed kept (who may edit: test_targeting_access).
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.web.conftest import sign_in, token
from tests.web.forms import form_fields, submit
from tests.web.test_flags import FLAG

ACTION = "/flags/new-checkout/targeting/production"
NL_RULE = {
    "id": "nl",
    "conditions": [{"attribute": "country", "operator": "in", "value": ["NL"]}],
    "serve": {"variant": "on"},
}
STAFF_RULE = {
    "id": "staff",
    "conditions": [{"attribute": "email", "operator": "ends_with", "value": "@example.com"}],
    "serve": {"variant": "off"},
}


def make_flag(client: TestClient, rules: list[dict[str, Any]] | None = None) -> None:
    flags = client.app.state.flags  # type: ignore[attr-defined]
    flags.create_flag(FLAG, actor="test")
    if rules:
        flags.update_environment("new-checkout", "production", {"rules": rules}, actor="test")


def api_flag(client: TestClient) -> Any:
    """The flag as the API returns it (read with the browser's session)."""
    return client.get("/api/flags/new-checkout").json()


def _explain(client: TestClient, context: dict[str, Any]) -> tuple[str, str]:
    answer = client.post(
        "/api/flags/new-checkout/explain",
        json={"context": context},
        headers={"Authorization": f"Bearer {token(client, 'viewer', 'reader')}"},
    ).json()
    return answer["variant"], answer["reason"]


def edit_page(client: TestClient) -> str:
    page = client.get(ACTION)
    assert page.status_code == 200, page.text
    return page.text


def _diff(page: str) -> list[tuple[str, str, str]]:
    rows = re.findall(
        r'<tr class="diff"><th scope="row"><code>([^<]+)</code></th>'
        r"<td><del>([^<]*)</del></td><td><ins>([^<]*)</ins>",
        page,
    )
    return [(path, html.unescape(old), html.unescape(new)) for path, old, new in rows]


def _problem(page: str, anchor: str) -> str | None:
    """The message shown beside the field (or place) `anchor`."""
    found = re.search(f'<p class="problem" id="e-{re.escape(anchor)}">([^<]*)</p>', page)
    return html.unescape(found.group(1)) if found else None


def _rule_order(page: str) -> list[str]:
    return re.findall(r'<fieldset class="rule" id="f-rules\.\d+" data-rule="([^"]+)"', page)


def test_a_rule_is_saved_only_after_its_diff_is_confirmed(client: TestClient) -> None:
    make_flag(client)
    sign_in(client, "editor")
    # Given a new rule, which starts as `in` serving `on` (the boolean's true variant)
    added = submit(client, edit_page(client), ACTION, "add-rule")
    assert added.status_code == 200
    fields = form_fields(added.text, ACTION)
    assert fields["rules.0.conditions.0.operator"] == "in"
    assert fields["rules.0.serve.variant"] == "on"
    # When it targets country in NL, BE and the default becomes off, and it is reviewed
    typed = {
        "rules.0.conditions.0.attribute": "country",
        "rules.0.conditions.0.value": "NL, BE",
        "default.variant": "off",
    }
    review = submit(client, added.text, ACTION, "review", typed)
    assert review.status_code == 200, review.text
    # Then the confirmation lists what moves, leaf by leaf, and both sides in words
    (variant, rules) = _diff(review.text)
    assert variant == ("default.variant", '"on"', '"off"')
    assert rules[:2] == ("rules", "[]")
    assert rules[2].startswith('[{"conditions": [{"attribute": "country", "operator": "in"')
    before = review.text.split('class="before">')[1].split("</ul>")[0]
    after = review.text.split('class="after">')[1].split("</ul>")[0]
    assert before == "<li>Otherwise: on</li><li>When switched off: off</li>"
    assert after == (
        "<li>Rule 1: country in NL, BE → on</li><li>Otherwise: off</li>"
        "<li>When switched off: off</li>"
    )
    assert api_flag(client)["version"] == 1  # reviewing saved nothing
    # When it is confirmed
    done = submit(client, review.text, ACTION, "save", {"comment": "launch in Benelux"})
    assert done.status_code == 303
    assert done.headers["location"] == "/flags/new-checkout#targeting-production"
    # Then the JSON twin holds it, and SDKs serve it
    twin = api_flag(client)
    assert twin["version"] == 2
    assert twin["environments"]["production"] == {
        "enabled": True,
        "off_variant": "off",
        "rules": [
            {
                "id": "rule-1",
                "description": "",
                "conditions": [{"attribute": "country", "operator": "in", "value": ["NL", "BE"]}],
                "serve": {"variant": "on", "split": None},
            }
        ],
        "default": {"variant": "off", "split": None},
    }
    assert _explain(client, {"targetingKey": "u1", "country": "NL"}) == ("on", "TARGETING_MATCH")
    assert _explain(client, {"targetingKey": "u1", "country": "US"}) == ("off", "DEFAULT")
    # and the history says who did it, what moved and why
    page = client.get("/flags/new-checkout").text
    latest = page.split("Recent changes")[1].split("<tbody>")[1].split("</tr>")[0]
    assert "<td>token:web-editor</td><td>targeting</td>" in latest
    assert (
        "<code>environments.production.default.variant</code>: "
        "<del>&#34;on&#34;</del> → <ins>&#34;off&#34;</ins>"
    ) in latest
    versions = client.get("/api/flags/new-checkout/history").json()
    assert versions[-1]["comment"] == "launch in Benelux"
    section = page.split('id="targeting-production"')[1].split("</section>")[0]
    assert "<li>country in NL, BE → on</li>" in section


# (what is typed over a new rule, where the message is shown, the message, whether that place
# is a field marked invalid)
CASES = {
    "a split not making 100": (
        {
            "rules.0.serve.kind": "split",
            "rules.0.serve.weights.on": "10",
            "rules.0.serve.weights.off": "80",
        },
        "rules.0.serve.split",
        "weights sum to 90 %; they must sum to 100 %",  # 10 + 80
        False,
    ),
    "a weight that is no number": (
        {"rules.0.serve.kind": "split", "rules.0.serve.weights.on": "ten"},
        "rules.0.serve.weights.on",
        "write a percentage such as 12.5, not 'ten'",
        True,
    ),
    "an unknown variant": (
        {"rules.0.serve.variant": "maybe"},
        "rules.0.serve.variant",
        "unknown variant 'maybe'; the flag's variants are off, on",
        True,
    ),
    "an unknown variant in a split": (
        {
            "rules.0.serve.kind": "split",
            "rules.0.serve.weights.on": "50",
            "rules.0.serve.weights.maybe": "50",
        },
        "rules.0.serve.weights.maybe",
        "unknown variant 'maybe'; the flag's variants are off, on",
        True,
    ),
    "an unknown segment": (
        {
            "rules.0.conditions.0.attribute": "targetingKey",
            "rules.0.conditions.0.operator": "in_segment",
            "rules.0.conditions.0.value": "beta",
        },
        "rules.0.conditions.0.value",
        "unknown segment 'beta'; create it first",
        True,
    ),
    "a regular expression RE2 refuses": (
        {
            "rules.0.conditions.0.attribute": "email",
            "rules.0.conditions.0.operator": "matches",
            "rules.0.conditions.0.value": "(a)\\1",
        },
        "rules.0.conditions.0.value",
        "invalid regular expression '(a)\\\\1': RE2 cannot compile it: "
        "invalid escape sequence: \\1",
        True,
    ),
    "an unknown operator": (
        {"rules.0.conditions.0.attribute": "country", "rules.0.conditions.0.operator": "like"},
        "rules.0.conditions.0.operator",
        "unknown operator 'like'; choose one of the list",
        True,
    ),
    "a comparison with text": (
        {
            "rules.0.conditions.0.attribute": "age",
            "rules.0.conditions.0.operator": "gt",
            "rules.0.conditions.0.value": "abc",
        },
        "rules.0.conditions.0.value",
        "'gt' needs a number, got 'abc'",
        True,
    ),
    "a list operator without values": (
        {"rules.0.conditions.0.attribute": "country", "rules.0.conditions.0.value": " , "},
        "rules.0.conditions.0.value",
        "'in' needs a value",
        True,
    ),
    "a value without its attribute": (
        {"rules.0.conditions.0.value": "NL"},
        "rules.0.conditions.0.attribute",
        "name the context attribute, such as country (for flag_variant, a flag key)",
        True,
    ),
    "an unknown prerequisite flag": (
        {
            "rules.0.conditions.0.attribute": "nosuch",
            "rules.0.conditions.0.operator": "flag_variant",
            "rules.0.conditions.0.value": "on",
        },
        "rules.0.conditions.0.attribute",
        "unknown flag 'nosuch'; create it first (or unarchive it)",
        True,
    ),
    "a flag depending on itself": (
        {
            "rules.0.conditions.0.attribute": "new-checkout",
            "rules.0.conditions.0.operator": "flag_variant",
            "rules.0.conditions.0.value": "on",
        },
        "rules",
        "flags would depend on each other: new-checkout → new-checkout",
        False,
    ),
    "a split bucketed by nothing": (
        {"default.kind": "split", "default.weights.on": "100", "default.split.bucket_by": " "},
        "default.split.bucket_by",
        "name the attribute the split buckets by, such as targetingKey",
        True,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_refusal_is_shown_beside_its_field_keeping_what_was_typed(
    client: TestClient, case: str
) -> None:
    typed, anchor, message, marked = CASES[case]
    make_flag(client)
    sign_in(client, "editor")
    added = submit(client, edit_page(client), ACTION, "add-rule")
    refused = submit(client, added.text, ACTION, "review", typed)
    assert refused.status_code == 422, refused.text
    assert _problem(refused.text, anchor) == message
    assert ('aria-invalid="true" aria-describedby="e-' + anchor + '"' in refused.text) is marked
    assert "Nothing was saved: 1 problem</h2>" in refused.text
    kept = form_fields(refused.text, ACTION)
    assert {name: kept.get(name) for name in typed} == typed
    assert api_flag(client)["version"] == 1


def test_rules_move_and_go_and_conditions_too_until_saved(client: TestClient) -> None:
    make_flag(client, [NL_RULE, STAFF_RULE])
    sign_in(client, "editor")
    page = edit_page(client)
    assert _rule_order(page) == ["nl", "staff"]
    moved = submit(client, page, ACTION, "up:1").text
    assert _rule_order(moved) == ["staff", "nl"]
    back = submit(client, moved, ACTION, "down:0").text
    assert _rule_order(back) == ["nl", "staff"]
    moved = submit(client, back, ACTION, "up:1").text
    grown = submit(client, moved, ACTION, "add-condition:1").text
    assert form_fields(grown, ACTION)["rules.1.conditions.1.attribute"] == ""
    assert api_flag(client)["version"] == 2  # nothing saved by moving or adding
    typed = {
        "rules.1.conditions.1.attribute": "plan",
        "rules.1.conditions.1.operator": "eq",
        "rules.1.conditions.1.value": "pro",
    }
    review = submit(client, grown, ACTION, "review", typed)
    assert submit(client, review.text, ACTION, "save").status_code == 303
    rules = api_flag(client)["environments"]["production"]["rules"]
    assert [r["id"] for r in rules] == ["staff", "nl"]
    assert rules[1]["conditions"] == [
        {"attribute": "country", "operator": "in", "value": ["NL"]},
        {"attribute": "plan", "operator": "eq", "value": "pro"},
    ]
    # removing the staff rule and nl's first condition
    page = edit_page(client)
    gone = submit(client, page, ACTION, "remove-rule:0").text
    assert _rule_order(gone) == ["nl"]
    fewer = submit(client, gone, ACTION, "remove-condition:0:0").text
    review = submit(client, fewer, ACTION, "review")
    assert submit(client, review.text, ACTION, "save").status_code == 303
    twin = api_flag(client)
    assert twin["version"] == 4
    assert twin["environments"]["production"]["rules"] == [
        {
            "id": "nl",
            "description": "",
            "conditions": [{"attribute": "plan", "operator": "eq", "value": "pro"}],
            "serve": {"variant": "on", "split": None},
        }
    ]


def test_a_split_default_is_saved_with_its_weights(client: TestClient) -> None:
    make_flag(client)
    sign_in(client, "editor")
    typed = {"default.kind": "split", "default.weights.on": "25", "default.weights.off": "75%"}
    review = submit(client, edit_page(client), ACTION, "review", typed)
    assert review.status_code == 200, review.text
    # the allocation is derived from the weights: not listed
    assert [path for path, _, _ in _diff(review.text)] == ["default.split", "default.variant"]
    assert "<li>Otherwise: split on 25 %, off 75 % by targetingKey</li>" in review.text
    assert submit(client, review.text, ACTION, "save").status_code == 303
    split = api_flag(client)["environments"]["production"]["default"]["split"]
    assert split["weights"] == [
        {"variant": "on", "weight": 25.0},
        {"variant": "off", "weight": 75.0},
    ]
    assert split["bucket_by"] == "targetingKey"
    # Those who had `on` (everyone) keep it in the first quarter of the buckets.
    assert split["allocation"] == [[0, 25000, "on"], [25000, 100000, "off"]]
    reopened = form_fields(edit_page(client), ACTION)
    assert (reopened["default.kind"], reopened["default.weights.off"]) == ("split", "75")


def test_segments_and_other_flags_in_conditions(client: TestClient) -> None:
    flags = client.app.state.flags  # type: ignore[attr-defined]
    flags.put_segment({"key": "beta", "included": ["u1"]}, actor="test")
    flags.create_flag({**FLAG, "key": "dark-mode"}, actor="test")
    make_flag(client)
    sign_in(client, "editor")
    page = submit(client, edit_page(client), ACTION, "add-rule").text
    page = submit(client, page, ACTION, "add-condition:0").text
    typed = {
        "rules.0.conditions.0.attribute": "targetingKey",
        "rules.0.conditions.0.operator": "in_segment",
        "rules.0.conditions.0.value": "beta",
        "rules.0.conditions.1.attribute": "dark-mode",
        "rules.0.conditions.1.operator": "flag_variant",
        "rules.0.conditions.1.value": "on",
        "default.variant": "off",
    }
    review = submit(client, page, ACTION, "review", typed)
    assert "Rule 1: targetingKey in segment beta and flag dark-mode serves on → on" in review.text
    assert submit(client, review.text, ACTION, "save").status_code == 303
    rule = api_flag(client)["environments"]["production"]["rules"][0]
    assert rule["conditions"] == [
        {"attribute": "targetingKey", "operator": "in_segment", "value": ["beta"]},
        {"attribute": "dark-mode", "operator": "flag_variant", "value": ["on"]},
    ]
    assert _explain(client, {"targetingKey": "u1"}) == ("on", "TARGETING_MATCH")
    assert _explain(client, {"targetingKey": "u2"}) == ("off", "DEFAULT")  # not in beta
    reopened = form_fields(edit_page(client), ACTION)
    assert reopened["rules.0.conditions.0.value"] == "beta"
