"""Evaluation: reasons, operators, segments, fall-through, and never raising."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headway.flags.bucketing import rebalance
from headway.flags.evaluate import compile_flag, evaluate, explain
from headway.flags.model import Segment, WeightedVariant, parse_flag, parse_segment

from .conftest import boolean_flag, split


def _when(attribute: str, operator: str, value: Any = None) -> dict[str, Any]:
    cond: dict[str, Any] = {"attribute": attribute, "operator": operator}
    if value is not None:
        cond["value"] = value
    return {
        "rules": [{"id": "r", "conditions": [cond], "serve": {"variant": "on"}}],
        "default": {"variant": "off"},
    }


def test_reasons() -> None:
    ctx = {"targetingKey": "user-1", "plan": "pro"}
    # Given a flag on for all with no rules, Then STATIC
    assert evaluate(boolean_flag(), "production", ctx).reason == "STATIC"
    # Given it switched off, Then DISABLED and the off variant
    off = evaluate(boolean_flag(enabled=False), "production", ctx)
    assert (off.reason, off.value, off.variant) == ("DISABLED", False, "off")
    # Given a matching rule, Then TARGETING_MATCH with the rule id
    hit = evaluate(boolean_flag(**_when("plan", "eq", "pro")), "production", ctx)
    assert (hit.reason, hit.value, hit.rule) == ("TARGETING_MATCH", True, "r")
    # Given a rule that does not match, Then DEFAULT
    miss = evaluate(boolean_flag(**_when("plan", "eq", "free")), "production", ctx)
    assert (miss.reason, miss.value) == ("DEFAULT", False)
    # Given a split default, Then SPLIT
    assert evaluate(boolean_flag(default=split(50)), "production", ctx).reason == "SPLIT"


def test_unknown_environment_is_flag_not_found() -> None:
    result = evaluate(boolean_flag(), "staging", {})
    assert (result.reason, result.error_code, result.value) == ("ERROR", "FLAG_NOT_FOUND", None)


def test_split_without_targeting_key() -> None:
    result = evaluate(boolean_flag(default=split(50)), "production", {"plan": "pro"})
    assert (result.reason, result.error_code) == ("ERROR", "TARGETING_KEY_MISSING")
    other = evaluate(boolean_flag(default=split(50, bucket_by="org.id")), "production", {})
    assert other.error_code == "INVALID_CONTEXT"


def test_split_by_nested_attribute_buckets_an_organisation_together() -> None:
    flag = compile_flag(boolean_flag(default=split(50, bucket_by="org.id")), "production")
    # Given two users of the same organisation, Then they get the same variant
    first = flag.evaluate({"targetingKey": "u1", "org": {"id": "acme"}})
    second = flag.evaluate({"targetingKey": "u2", "org": {"id": "acme"}})
    assert first.variant == second.variant
    assert first.reason == "SPLIT"


NOW = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("attribute", "operator", "value", "context_value", "expected"),
    [
        ("plan", "eq", "pro", "pro", True),
        ("plan", "eq", "pro", "Pro", False),  # case-sensitive
        ("plan", "neq", "pro", "free", True),
        ("country", "in", ["FR", "DE"], "DE", True),
        ("country", "in", ["FR", "DE"], "US", False),
        ("groups", "in", ["beta"], ["staff", "beta"], True),  # a list attribute overlaps
        ("groups", "in", ["beta"], [{"odd": 1}, "beta"], True),  # odd elements are skipped
        ("groups", "in", ["beta"], {"beta"}, False),  # a set is not a JSON value: no match
        ("country", "not_in", ["FR"], "US", True),
        ("email", "contains", "@acme", "jo@acme.com", True),
        ("groups", "contains", "beta", ["beta"], True),
        ("email", "not_contains", "@acme", "jo@other.com", True),
        ("email", "starts_with", "jo", "jo@acme.com", True),
        ("email", "ends_with", ".com", "jo@acme.org", False),
        ("email", "matches", r"^[a-z]+@acme\.(com|org)$", "jo@acme.org", True),
        ("age", "gt", 17, 18, True),
        ("age", "gt", 17, 17, False),
        ("age", "gte", 17, 17, True),
        ("age", "lt", 17, 16.5, True),
        ("age", "lte", 17, 17.0, True),
        ("age", "gt", 17, "18", False),  # strings are not numbers
        ("age", "gt", 0, True, False),  # neither are booleans
        ("signup", "before", "2025-01-01T00:00:00Z", "2024-12-31T23:59:59Z", True),
        ("signup", "after", "2025-01-01T00:00:00Z", NOW, True),
        ("signup", "after", "2025-01-01T00:00:00Z", dt.date(2024, 6, 1), False),
        ("signup", "before", "2025-01-01", 1_700_000_000, True),  # epoch seconds, 2023-11-14
        ("app.version", "semver_gte", "2.1.0", "2.10.0", True),  # 10 > 1 numerically
        ("app.version", "semver_lt", "2.0.0", "2.0.0-rc.1", True),  # pre-release sorts first
        ("app.version", "semver_eq", "2.0.0", "v2", True),
        ("app.version", "semver_gt", "1.0.0-alpha.2", "1.0.0-alpha.10", True),
        ("app.version", "semver_gt", "1.0.0", "banana", False),
        ("plan", "exists", None, "pro", True),
        ("plan", "not_exists", None, None, True),
    ],
)
def test_operators(
    attribute: str, operator: str, value: Any, context_value: Any, expected: bool
) -> None:
    flag = boolean_flag(**_when(attribute, operator, value))
    if "." in attribute:
        outer, inner = attribute.split(".")
        context: dict[str, Any] = {outer: {inner: context_value}}
    else:
        context = {attribute: context_value}
    assert evaluate(flag, "production", context).value is expected


def test_literal_dotted_key_wins_over_nesting() -> None:
    flag = boolean_flag(**_when("app.version", "eq", "1"))
    assert evaluate(flag, "production", {"app.version": "1", "app": {"version": "2"}}).value is True


def test_missing_or_mistyped_attribute_falls_through_to_the_next_rule() -> None:
    # Given rule 1 on a numeric `age` and rule 2 on `plan`
    flag = boolean_flag(
        rules=[
            {
                "id": "adults",
                "conditions": [{"attribute": "age", "operator": "gte", "value": 18}],
                "serve": {"variant": "off"},
            },
            {
                "id": "pro",
                "conditions": [{"attribute": "plan", "operator": "eq", "value": "pro"}],
                "serve": {"variant": "on"},
            },
        ],
        default={"variant": "off"},
    )
    # When age is missing, or a string, Then rule 2 decides, and explain says why rule 1 did not
    for ctx in ({"plan": "pro"}, {"plan": "pro", "age": "forty"}):
        result, why = explain(flag, "production", ctx)
        assert (result.reason, result.rule, result.value) == ("TARGETING_MATCH", "pro", True)
        assert why[1] == "rule pro: matched"
    assert "missing" in explain(flag, "production", {"plan": "pro"})[1][0]
    assert (
        "is a str ('forty')" in explain(flag, "production", {"plan": "pro", "age": "forty"})[1][0]
    )


def test_rule_split_without_subject_falls_through() -> None:
    # Given a rule serving a split by org.id, When the context has no org, Then the default serves
    flag = boolean_flag(
        rules=[
            {
                "id": "eu",
                "conditions": [{"attribute": "region", "operator": "eq", "value": "eu"}],
                "serve": split(50, bucket_by="org.id"),
            }
        ],
        default={"variant": "off"},
    )
    result = evaluate(flag, "production", {"region": "eu"})
    assert (result.reason, result.variant) == ("DEFAULT", "off")


def test_segments() -> None:
    beta = parse_segment(
        {
            "key": "beta",
            "included": ["vip"],
            "excluded": ["banned"],
            "conditions": [{"attribute": "email", "operator": "ends_with", "value": "@acme.com"}],
        }
    )
    segments = {"beta": beta}
    flag = boolean_flag(**_when("targetingKey", "in_segment", "beta"))

    def value(ctx: dict[str, Any]) -> Any:
        return evaluate(flag, "production", ctx, segments).value

    assert value({"targetingKey": "vip"}) is True  # listed
    assert value({"targetingKey": "u1", "email": "a@acme.com"}) is True  # matches conditions
    assert value({"targetingKey": "banned", "email": "a@acme.com"}) is False  # excluded wins
    assert value({"targetingKey": "u2", "email": "a@other.com"}) is False
    # A deleted segment matches nobody rather than failing
    assert evaluate(flag, "production", {"targetingKey": "vip"}, {}).value is False
    negated = boolean_flag(**_when("targetingKey", "not_in_segment", ["beta"]))
    assert evaluate(negated, "production", {"targetingKey": "u2"}, segments).value is True


def test_segment_keyed_by_another_attribute() -> None:
    segments = {"big": Segment(key="big", included=["acme", "42"])}
    flag = boolean_flag(**_when("org.id", "in_segment", "big"))
    assert evaluate(flag, "production", {"org": {"id": "acme"}}, segments).value is True
    assert evaluate(flag, "production", {"org": {"id": 42}}, segments).value is True  # ids as text


def test_rebalanced_allocation_keeps_users_on_when_raising() -> None:
    # Given a 25 % rollout, When it is raised to 40 % via rebalance, Then nobody drops out
    before = boolean_flag(default=split(25))
    allocation = before.environments["production"].default.split.allocation  # type: ignore[union-attr]
    weights = [WeightedVariant(variant="on", weight=40), WeightedVariant(variant="off", weight=60)]
    after = boolean_flag(
        default={
            "split": {
                "weights": [w.model_dump() for w in weights],
                "allocation": rebalance(allocation, weights),
            }
        }
    )
    a, b = compile_flag(before, "production"), compile_flag(after, "production")
    users = [{"targetingKey": f"user-{i}"} for i in range(5_000)]
    was_on = [u for u in users if a.evaluate(u).value]
    assert was_on
    assert all(b.evaluate(u).value for u in was_on)
    # roughly 40 % now: binomial sd for 5,000 at 0.4 is 34.6; 5 sd = 173
    assert abs(sum(b.evaluate(u).value for u in users) - 2_000) <= 173


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)
_weird = _json | st.builds(object) | st.sets(st.integers(), max_size=2) | st.binary(max_size=4)
_ATTRS = ["targetingKey", "plan", "age", "email", "groups", "signup", "app", "org"]


def _every_operator_flag() -> Any:
    conds = [
        ("plan", "eq", "pro"),
        ("plan", "neq", "x"),
        ("groups", "in", ["a", 1]),
        ("groups", "not_in", ["a"]),
        ("email", "contains", "@"),
        ("email", "not_contains", "@"),
        ("email", "starts_with", "a"),
        ("email", "ends_with", "z"),
        ("email", "matches", "a+"),
        ("age", "gt", 1),
        ("age", "lte", 2.5),
        ("signup", "before", "2025-01-01T00:00:00Z"),
        ("signup", "after", "2020-01-01"),
        ("app.version", "semver_gte", "1.2.3"),
        ("targetingKey", "in_segment", "beta"),
        ("org.id", "not_in_segment", ["beta"]),
        ("plan", "exists", None),
    ]
    rules = [
        {
            "conditions": [
                {"attribute": a, "operator": o, **({"value": v} if v is not None else {})}
            ],
            "serve": split(30, bucket_by="org.id") if i % 3 == 0 else {"variant": "on"},
        }
        for i, (a, o, v) in enumerate(conds)
    ]
    return boolean_flag(rules=rules, default=split(10))


@settings(max_examples=300, deadline=None)
@given(context=st.dictionaries(st.sampled_from(_ATTRS), _weird, max_size=6))
def test_evaluation_never_raises(context: dict[str, Any]) -> None:
    segments = {
        "beta": Segment(
            key="beta",
            included=["x"],
            conditions=[{"attribute": "plan", "operator": "in", "value": ["a"]}],
        )
    }  # type: ignore[list-item]
    result = compile_flag(_every_operator_flag(), "production", segments).evaluate(context)
    assert result.reason in {"TARGETING_MATCH", "SPLIT", "DEFAULT", "ERROR"}
    # Odd attribute values make rules fall through; the only error left is the default
    # split finding no usable targeting key.
    assert result.error_code in (None, "TARGETING_KEY_MISSING")
    assert (result.error_code is None) == (result.reason != "ERROR")


def test_json_and_number_flags_serve_their_values() -> None:
    flag = parse_flag(
        {
            "key": "limits",
            "type": "json",
            "owner": "o",
            "lifecycle": {"kind": "permanent"},
            "variants": [
                {"key": "small", "value": {"rps": 10}},
                {"key": "big", "value": {"rps": 100}},
            ],
            "environments": {
                "production": {
                    "enabled": True,
                    "off_variant": "small",
                    "default": {"variant": "big"},
                }
            },
        }
    )
    assert evaluate(flag, "production", {}).value == {"rps": 100}
