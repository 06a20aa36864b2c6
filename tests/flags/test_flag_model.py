"""Validation of flag and segment documents: every refusal names the offending field."""

from __future__ import annotations

from typing import Any

import pytest

from headway.flags.model import ConfigError, parse_flag, parse_segment


def _doc(**production: Any) -> dict[str, Any]:
    env = {"enabled": True, "off_variant": "off", "default": {"variant": "on"}, **production}
    return {
        "key": "new-checkout",
        "type": "boolean",
        "owner": "team-payments",
        "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "lifecycle": {"kind": "permanent"},
        "environments": {"production": env},
    }


def _paths(doc: dict[str, Any], segments: set[str] | None = None) -> dict[str, str]:
    with pytest.raises(ConfigError) as caught:
        parse_flag(doc, segments=segments)
    return {i.path: i.message for i in caught.value.issues}


def _rule(*conditions: dict[str, Any]) -> dict[str, Any]:
    return {"conditions": list(conditions), "serve": {"variant": "on"}}


def test_a_valid_flag_gets_defaults_filled_in() -> None:
    # Given a flag with one unnamed rule and no salt
    flag = parse_flag(_doc(rules=[_rule({"attribute": "plan", "operator": "eq", "value": "pro"})]))
    # Then the salt defaults to the key and the rule gets a positional id
    assert flag.salt == "new-checkout"
    assert flag.environments["production"].rules[0].id == "r0"


def test_unknown_operator_is_refused_at_its_path() -> None:
    issues = _paths(_doc(rules=[_rule({"attribute": "plan", "operator": "like", "value": "p"})]))
    assert list(issues) == ["environments.production.rules[0].conditions[0].operator"]
    assert "must be one of" in issues["environments.production.rules[0].conditions[0].operator"]


def test_bad_regex_is_refused_at_the_value() -> None:
    issues = _paths(
        _doc(rules=[_rule({"attribute": "email", "operator": "matches", "value": "(a"})])
    )
    assert (
        "invalid regular expression"
        in issues["environments.production.rules[0].conditions[0].value"]
    )


@pytest.mark.parametrize(
    ("operator", "value", "fragment"),
    [
        ("gt", "ten", "needs a number"),
        ("before", "yesterday", "ISO 8601"),
        ("semver_gte", "1.x", "semantic version"),
        ("in", [], "non-empty list"),
        ("exists", 3, "takes no value"),
        ("starts_with", 3, "needs a string"),
    ],
)
def test_value_must_suit_the_operator(operator: str, value: Any, fragment: str) -> None:
    issues = _paths(_doc(rules=[_rule({"attribute": "a", "operator": operator, "value": value})]))
    assert fragment in issues["environments.production.rules[0].conditions[0].value"]


def test_weights_not_summing_to_100_are_refused() -> None:
    # Given a 30 % + 60 % split (90 %)
    weights = [{"variant": "on", "weight": 30}, {"variant": "off", "weight": 60}]
    issues = _paths(_doc(default={"split": {"weights": weights}}))
    path = "environments.production.default.split.weights"
    assert issues == {path: "weights sum to 90 %; they must sum to 100 %"}


def test_unknown_segment_is_refused_when_segments_are_known() -> None:
    doc = _doc(
        rules=[_rule({"attribute": "targetingKey", "operator": "in_segment", "value": "beta"})]
    )
    issues = _paths(doc, segments={"staff"})
    path = "environments.production.rules[0].conditions[0].value"
    assert issues == {path: "unknown segment 'beta'; create it first"}
    # and accepted once the segment exists
    assert parse_flag(doc, segments={"beta"}).key == "new-checkout"


def test_references_to_unknown_variants_and_wrong_value_types() -> None:
    doc = _doc(off_variant="dark", rules=[{"conditions": [], "serve": {"variant": "blue"}}])
    doc["variants"][1]["value"] = "no"
    issues = _paths(doc)
    assert set(issues) == {
        "variants[1].value",
        "environments.production.off_variant",
        "environments.production.rules[0].serve.variant",
    }
    assert issues["variants[1].value"] == "a boolean flag cannot serve 'no'"


def test_serve_needs_exactly_one_of_variant_or_split() -> None:
    issues = _paths(_doc(default={}))
    assert issues == {"environments.production.default": "give exactly one of 'variant' or 'split'"}


def test_typo_in_a_field_name_is_refused() -> None:
    doc = _doc()
    doc["environments"]["production"]["enbled"] = True
    assert "environments.production.enbled" in _paths(doc)


def test_temporary_flag_needs_a_removal_date() -> None:
    doc = _doc()
    doc["lifecycle"] = {"kind": "temporary"}
    assert "expected_removal" in _paths(doc)["lifecycle"]


def test_allocation_inconsistent_with_weights_is_refused() -> None:
    weights = [{"variant": "on", "weight": 25}, {"variant": "off", "weight": 75}]
    bad = [[0, 20000, "on"], [20000, 100000, "off"]]
    issues = _paths(_doc(default={"split": {"weights": weights, "allocation": bad}}))
    assert "does not match the weights" in issues["environments.production.default.split"]


def test_segment_cannot_nest_segments() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_segment(
            {
                "key": "beta",
                "conditions": [{"attribute": "x", "operator": "in_segment", "value": "y"}],
            }
        )
    assert caught.value.issues[0].path == "conditions[0].operator"
