"""Evaluation: reasons, operators, segments, fall-through, and never raising."""

from __future__ import annotations

import datetime as dt
import itertools
import re
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headway.flags.bucketing import bucket_of, rebalance, salt_seed, variant_at
from headway.flags.codegen import _code
from headway.flags.evaluate import (
    Recorder,
    compile_flag,
    compile_value,
    evaluate,
    explain,
)
from headway.flags.model import (
    Condition,
    Flag,
    Segment,
    Split,
    WeightedVariant,
    parse_flag,
    parse_segment,
)

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
        ("age", "gt", 17, "18", True),  # a number carried as text is that number
        ("age", "lte", 17, "16.5", True),
        ("age", "gt", 17, "1e2", True),  # 100
        ("age", "gt", 17, "forty", False),  # other text is no number
        ("age", "gt", 17, "1e999", False),  # nor is text that would be infinite
        ("age", "gt", 17, "0x20", False),  # nor hexadecimal, nor "inf", as JSON has none
        ("age", "gt", 17, "inf", False),
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


# --- the generated evaluator against a table of what each condition means ----------------------
#
# The reference below is written from docs/flags.md, condition by condition, for the few
# operands the flags draw: it shares no code with headway.flags.conditions, so a change of
# meaning there makes the property test fail.

_ABSENT: Any = object()  # what the reference reads for an attribute the context lacks


def _read(context: dict[str, Any], attribute: str) -> Any:
    """A context key, dotted for nested objects; a literal dotted key wins over nesting."""
    if attribute in context:
        return context[attribute]
    value: Any = context
    for part in attribute.split("."):
        if not isinstance(value, dict) or part not in value:
            return _ABSENT
        value = value[part]
    return value


def _given(test: Any) -> Any:
    """A value condition: false for a missing or null attribute, else `test` of its value."""
    return lambda v, ctx: v is not _ABSENT and v is not None and test(v)


def _unless_given(test: Any) -> Any:
    """A negative condition: true for a missing or null attribute, else `test` of its value."""
    return lambda v, ctx: v is _ABSENT or v is None or test(v)


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _numeric(v: Any) -> float | None:
    """A number, or a decimal one written as text of at most 64 characters, finite."""
    if _number(v):
        return float(v)
    if not isinstance(v, str) or not v or len(v) > 64 or set(v) - set("0123456789+-.eE"):
        return None
    try:
        number = float(v)
    except ValueError:
        return None
    return number if abs(number) != float("inf") else None


def _one_of(*options: Any) -> Any:
    """`in`: the value, or for a list any element of it, equals one of the options."""
    return _given(
        lambda v: any(e == o for e in (v if isinstance(v, list) else [v]) for o in options)
    )


def _after_2024(v: Any) -> bool:
    """After 2024-01-01T00:00:00Z, 1,704,067,200 s after the epoch; a naive time is UTC."""
    if _number(v):
        return float(v) > 1_704_067_200
    if not isinstance(v, str):
        return False
    try:
        at = dt.datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return False
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC)) > dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def _in_beta(key: Any, ctx: dict[str, Any]) -> bool:
    """Segment `beta` of _SEGMENTS by a string or integer key as text: u2 never, u1, gold and
    7 always, anyone else on the pro plan."""
    text = str(key) if isinstance(key, str | int) else None
    return text != "u2" and (text in ("u1", "gold", "7") or _read(ctx, "plan") == "pro")


# (attribute, operator, value, holds(attribute's value or _ABSENT, context))
_POOL: list[tuple[str, str, Any, Any]] = [
    ("plan", "eq", "pro", _given(lambda v: v == "pro")),
    ("plan", "neq", "pro", _unless_given(lambda v: v != "pro")),
    ("country", "in", ["FR", "DE", 3], _one_of("FR", "DE", 3)),
    ("country", "not_in", ["FR"], _unless_given(lambda v: not _one_of("FR")(v, {}))),
    ("org.tier", "eq", "gold", _given(lambda v: v == "gold")),
    ("org.tier", "in", ["gold", "silver"], _one_of("gold", "silver")),
    ("email", "contains", "@acme", _given(lambda v: isinstance(v, str | list) and "@acme" in v)),
    ("email", "starts_with", "jo", _given(lambda v: isinstance(v, str) and v[:2] == "jo")),
    ("email", "ends_with", ".org", _given(lambda v: isinstance(v, str) and v[-4:] == ".org")),
    (
        "email",
        "matches",
        "^[a-z]+@",
        _given(lambda v: isinstance(v, str) and bool(re.match("[a-z]+@", v))),
    ),
    ("age", "gt", 17, _given(lambda v: (n := _numeric(v)) is not None and n > 17)),
    ("age", "lte", 65.5, _given(lambda v: (n := _numeric(v)) is not None and n <= 65.5)),
    ("org.size", "gte", 10, _given(lambda v: (n := _numeric(v)) is not None and n >= 10)),
    ("signup", "after", "2024-01-01T00:00:00Z", _given(_after_2024)),
    # The contexts draw only these versions: 1.9.0 < 2.0.0, and "x" is no version.
    (
        "app.version",
        "semver_lt",
        "2.0.0",
        _given(lambda v: {"1.9.0": True, "2.0.0": False, "x": False}[v]),
    ),
    ("plan", "exists", None, lambda v, ctx: v is not _ABSENT and v is not None),
    ("org.tier", "not_exists", None, lambda v, ctx: v is _ABSENT or v is None),
    ("targetingKey", "in_segment", "beta", _in_beta),
    ("org.tier", "not_in_segment", ["beta"], lambda v, ctx: not _in_beta(v, ctx)),
]
_MEANING = {(a, o): holds for a, o, _, holds in _POOL}
assert len(_MEANING) == len(_POOL)  # one condition per attribute and operator
_BUCKET_BY = ["targetingKey", "org.id", "plan", "age"]
_SEGMENTS = {
    "beta": Segment(
        key="beta",
        included=["u1", "gold", "7"],
        excluded=["u2"],
        conditions=[{"attribute": "plan", "operator": "eq", "value": "pro"}],  # type: ignore[list-item]
    )
}


@st.composite
def _serves(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        return {"variant": draw(st.sampled_from(["on", "off"]))}
    # Cut 0..100,000 into up to 12 ranges, alternately on and off, to reach the bisection path.
    cuts = sorted(set(draw(st.lists(st.integers(1, 99_999), max_size=11))))
    edges = [0, *cuts, 100_000]
    allocation = [(a, b, "on" if i % 2 else "off") for i, (a, b) in enumerate(pairwise(edges))]
    owned = {"on": 0, "off": 0}
    for a, b, v in allocation:
        owned[v] += b - a
    weights = [{"variant": v, "weight": n / 1000} for v, n in owned.items()]
    return {
        "split": {
            "weights": weights,
            "allocation": allocation,
            "bucket_by": draw(st.sampled_from(_BUCKET_BY)),
        }
    }


@st.composite
def _flags(draw: st.DrawFn) -> Flag:
    rules = [
        {
            "conditions": [
                {"attribute": a, "operator": o, **({"value": v} if v is not None else {})}
                for a, o, v, _ in draw(st.lists(st.sampled_from(_POOL), max_size=2))
            ],
            "serve": draw(_serves()),
        }
        for _ in range(draw(st.integers(0, 4)))
    ]
    enabled = draw(st.sampled_from([True] * 9 + [False]))  # a disabled flag ignores the rest
    return boolean_flag(rules=rules, default=draw(_serves()), enabled=enabled)


_plausible = st.fixed_dictionaries(
    {
        "targetingKey": st.sampled_from(["u1", "u2", "u3", "", 7]) | st.integers(),
        "plan": st.sampled_from(["pro", "free"]),
        "country": st.sampled_from(["FR", "US"]) | st.just(3) | st.just(["DE"]),
        "age": st.integers(0, 99)
        | st.floats(0, 99)
        | st.sampled_from([True, 17, 65.5, "18", "17", "65.5", "1e1", "x", "inf"]),
    },
    optional={
        "email": st.sampled_from(["jo@acme.org", "al@b.com"]),
        "signup": st.sampled_from(["2025-02-01", "2020-01-01T00:00:00Z"]),
        "app": st.fixed_dictionaries({"version": st.sampled_from(["1.9.0", "2.0.0", "x"])}),
        "org": st.fixed_dictionaries(
            {},
            optional={
                "id": st.sampled_from(["acme", "globex"]) | st.integers(),
                "tier": st.sampled_from(["gold", "silver", "bronze"]),
                "size": st.integers(0, 20),
            },
        ),
    },
)


def _interpret(flag: Flag, context: Any) -> tuple[Any, ...]:
    """Evaluation as docs/flags.md states it, rule by rule, each condition's verdict taken
    from the table above: the oracle."""
    env = flag.environments["production"]
    seed = salt_seed(flag.salt)

    def holds(c: Condition) -> bool:
        return bool(_MEANING[c.attribute, c.operator](_read(context, c.attribute), context))

    def bucketed(split: Split) -> str | None:
        subject = _read(context, split.bucket_by)
        if subject is _ABSENT or subject is None or isinstance(subject, dict | list):
            return None
        return variant_at(split.allocation, bucket_of(seed, str(subject)))

    if not env.enabled:
        return ("DISABLED", env.off_variant, None, None)
    for rule in env.rules:
        if all(holds(c) for c in rule.conditions):
            if rule.serve.variant is not None:
                return ("TARGETING_MATCH", rule.serve.variant, rule.id, None)
            assert rule.serve.split is not None
            if (variant := bucketed(rule.serve.split)) is not None:
                return ("SPLIT", variant, rule.id, None)
    reason = "DEFAULT" if env.rules else "STATIC"
    if env.default.variant is not None:
        return (reason, env.default.variant, None, None)
    assert env.default.split is not None
    if (variant := bucketed(env.default.split)) is not None:
        return ("SPLIT", variant, None, None)
    missing = env.default.split.bucket_by == "targetingKey"
    return ("ERROR", None, None, "TARGETING_KEY_MISSING" if missing else "INVALID_CONTEXT")


@settings(max_examples=1000, deadline=None)
@given(
    flag=_flags(),
    context=st.one_of(_plausible, _plausible, st.dictionaries(st.sampled_from(_ATTRS), _weird)),
)
def test_compiled_evaluation_agrees_with_the_table_of_meanings(flag: Flag, context: Any) -> None:
    # Given any flag built from every kind of condition and serve, and any context
    expected = _interpret(flag, context)
    # When it is compiled, with and without an SDK recorder
    counters = {"on": itertools.count(), "off": itertools.count()}
    served: dict[str, dict[str, str]] = {}
    recorder = Recorder(counters, served, lambda key: served.setdefault(key, {}))
    for compiled in (
        compile_flag(flag, "production", _SEGMENTS),
        compile_flag(flag, "production", _SEGMENTS, recorder),
    ):
        # Then both serve what the table says, with the same reason and rule
        result = compiled.evaluate(context)
        assert (result.reason, result.variant, result.rule, result.error_code) == expected
        assert result.value == (None if result.variant is None else result.variant == "on")
    # And the recorder counted that one evaluation and remembered it for a string key
    assert {v: next(c) for v, c in counters.items()} == {
        v: int(v == expected[1]) for v in ("on", "off")
    }
    key = context.get("targetingKey")
    remembered = served.get(key, {}) if isinstance(key, str) else {}
    assert remembered == ({flag.key: expected[1]} if expected[1] and isinstance(key, str) else {})
    # And the typed getters' evaluators return that variant's value, or the caller's default
    # (a value no variant has) on error, and record the same
    default = object()
    want = default if expected[1] is None else expected[1] == "on"
    assert compile_value(flag, "production", _SEGMENTS)(context, default) is want
    served.clear()
    assert compile_value(flag, "production", _SEGMENTS, recorder)(context, default) is want
    assert {v: next(c) for v, c in counters.items()} == {
        v: 1 + 2 * int(v == expected[1]) for v in ("on", "off")
    }
    assert (served.get(key, {}) if isinstance(key, str) else {}) == remembered


def test_an_unencodable_subject_is_an_error_not_an_exception() -> None:
    # A lone surrogate cannot be UTF-8 encoded for hashing: the evaluator reports it
    result = compile_flag(boolean_flag(default=split(50)), "production").evaluate(
        {"targetingKey": "\udc80"}
    )
    assert (result.reason, result.error_code) == ("ERROR", "GENERAL")
    assert result.error_message is not None
    assert result.error_message.startswith("UnicodeEncodeError")


def test_configuration_values_never_become_code() -> None:
    # Given operands, attribute names and a variant value that look like Python
    sneaky = "x') or __import__('os').system('exit 1') or ('"
    attribute = "x') or exit(1) or ('"  # no dot, so a top-level attribute like `plan` below
    flag = boolean_flag(
        rules=[
            {
                "id": "r",
                "conditions": [{"attribute": attribute, "operator": "eq", "value": sneaky}],
                "serve": {"variant": "on"},
            }
        ]
    )
    compiled = compile_flag(flag, "production")
    # Then the generated source is the same as for any other value: the code depends on shape
    plain = boolean_flag(
        rules=[
            {
                "id": "other",
                "conditions": [{"attribute": "plan", "operator": "eq", "value": "pro"}],
                "serve": {"variant": "off"},
            }
        ]
    )
    shapes = _code.cache_info().currsize
    compile_flag(plain, "production")
    assert _code.cache_info().currsize == shapes
    # And the values are compared as data: equal text matches, anything else does not
    assert compiled.evaluate({attribute: sneaky}).rule == "r"
    other = compiled.evaluate({"x": "1"})
    assert (other.reason, other.rule) == ("DEFAULT", None)


def _every_operand(text: str, attribute: str) -> tuple[Flag, dict[str, Segment]]:
    """A rule per operator that takes text, each on `attribute` and `text`, and a segment
    listing `text` whose own condition is on `attribute` too."""
    operands = [
        ("eq", text),
        ("in", [text]),
        ("contains", text),
        ("starts_with", text),
        ("ends_with", text),
        ("matches", re.escape(text)),
        ("in_segment", "s"),
        ("not_in_segment", "s"),
        # Last: these hold for a missing attribute, so an empty context stops at the first
        ("neq", text),
        ("not_in", [text]),
        ("not_contains", text),
        ("eq_ci", text),
        ("in_ci", [text]),
        ("starts_with_ci", [text]),
    ]
    conditions = [
        {"attribute": name, "operator": op, "value": value}
        for op, value in operands
        for name in (attribute, f"{attribute}.x")
    ]
    rules = [
        {"id": f"r{i}", "conditions": [condition], "serve": {"variant": "on"}}
        for i, condition in enumerate(conditions)
    ]
    segment = Segment(
        key="s",
        included=[text],
        excluded=[text + "!"],
        conditions=[{"attribute": attribute, "operator": "eq", "value": text}],  # type: ignore[list-item]
    )
    return boolean_flag(rules=rules, default={"variant": "off"}), {"s": segment}


def test_no_operand_segment_or_attribute_becomes_code() -> None:
    # Given every operator that takes text, and a segment, fed text that looks like Python
    sneaky, attribute = "x') or __import__('os').system('exit 1') or ('", "y') or exit(1) or ('"
    flag, segments = _every_operand(sneaky, attribute)
    # Then the text is compared as data: it equals itself (r0) and nothing else, so "x" is
    # out of the segment, whose condition is that equality (r14, not_in_segment)
    compiled = compile_flag(flag, "production", segments)
    assert compiled.evaluate({attribute: sneaky}).rule == "r0"
    assert compiled.evaluate({attribute: "x"}).rule == "r14"
    # And an empty context, explained, reaches the segment: in it by no key (r12, in_segment)
    # only if its own condition held, which needs the attribute, so out of it (r14)
    result, why = explain(flag, "production", {}, segments)
    assert (result.rule, len(why)) == ("r14", 15)
    # And the evaluators and explanations generated are those of any other text
    compile_value(flag, "production", segments)
    shapes = _code.cache_info().currsize
    plain, plain_segments = _every_operand("pro", "plan")
    assert explain(plain, "production", {}, plain_segments)[0].rule == "r14"
    compile_value(plain, "production", plain_segments)
    assert _code.cache_info().currsize == shapes


def test_a_flag_with_thousands_of_rules_compiles() -> None:
    # Given 3,000 rules (the generated function must not nest one block per rule)
    rules = [
        {
            "id": f"r{i}",
            "conditions": [{"attribute": "plan", "operator": "eq", "value": f"p{i}"}],
            "serve": {"variant": "on"},
        }
        for i in range(3_000)
    ]
    flag = compile_flag(boolean_flag(rules=rules, default={"variant": "off"}), "production")
    # Then the last rule still matches, and a context matching none gets the default
    assert flag.evaluate({"plan": "p2999"}).rule == "r2999"
    assert flag.evaluate({"plan": "other"}).reason == "DEFAULT"


_BETA = {"beta": Segment(key="beta", included=["u1"], excluded=["u2"])}


@pytest.mark.parametrize(
    ("condition", "context", "why"),
    [
        # Absent or null: missing, except where absence can be the answer
        (("age", "gte", 18), {}, "attribute 'age' is missing from the context"),
        (("age", "gte", 18), {"age": None}, "attribute 'age' is missing from the context"),
        (("plan", "exists", None), {}, "attribute 'plan' is missing from the context"),
        (("targetingKey", "in_segment", "beta"), {}, "targetingKey in_segment ['beta'] is false"),
        # A value the operator cannot use: its type, and the operator
        (
            ("age", "gte", 18),
            {"age": "forty"},
            "attribute 'age' is a str ('forty'); 'gte' cannot use it",
        ),
        (("age", "lt", 18), {"age": True}, "attribute 'age' is a bool (True); 'lt' cannot use it"),
        (
            ("app.version", "semver_gte", "2.0.0"),
            {"app": {"version": "banana"}},
            "attribute 'app.version' is a str ('banana'); 'semver_gte' cannot use it",
        ),
        (
            ("signup", "before", "2025-01-01T00:00:00Z"),
            {"signup": "soon"},
            "attribute 'signup' is a str ('soon'); 'before' cannot use it",
        ),
        (
            ("email", "matches", "^a"),
            {"email": 5},
            "attribute 'email' is a int (5); 'matches' cannot use it",
        ),
        (
            ("email", "starts_with", "a"),
            {"email": ["a"]},
            "attribute 'email' is a list (['a']); 'starts_with' cannot use it",
        ),
        # A usable value that does not satisfy the operator
        (("age", "gte", 18), {"age": 17}, "age=17 does not satisfy gte 18"),
        (
            ("app.version", "semver_gte", "2.0.0"),
            {"app": {"version": "1.0.0"}},
            "app.version='1.0.0' does not satisfy semver_gte '2.0.0'",
        ),
        (
            ("signup", "before", "2025-01-01T00:00:00Z"),
            {"signup": "2026-01-01"},
            "signup='2026-01-01' does not satisfy before '2025-01-01T00:00:00Z'",
        ),
        (("email", "not_contains", "@"), {"email": 5}, "email=5 does not satisfy not_contains '@'"),
        (
            ("plan", "not_exists", None),
            {"plan": "pro"},
            "plan='pro' does not satisfy not_exists None",
        ),
        (("country", "in", ["FR"]), {"country": "US"}, "country='US' does not satisfy in ['FR']"),
        (
            ("targetingKey", "in_segment", "beta"),
            {"targetingKey": "u2"},
            "targetingKey='u2' does not satisfy in_segment ['beta']",
        ),
        (
            ("targetingKey", "not_in_segment", "beta"),
            {"targetingKey": "u1"},
            "targetingKey='u1' does not satisfy not_in_segment ['beta']",
        ),
    ],
)
def test_explain_says_why_a_condition_fails(
    condition: tuple[str, str, Any], context: dict[str, Any], why: str
) -> None:
    # Given a rule of one condition, When the context fails it, Then explain says why
    flag = boolean_flag(**_when(*condition))
    result, lines = explain(flag, "production", context, _BETA)
    assert (result.reason, lines) == ("DEFAULT", [f"rule r: no match: {why}"])


def test_explain_lists_every_failed_condition_and_stops_at_the_match() -> None:
    # Given three rules: two failing conditions, a split by org.id, a plain match
    flag = boolean_flag(
        rules=[
            {
                "id": "adults-pro",
                "description": "adult pros",
                "conditions": [
                    {"attribute": "age", "operator": "gte", "value": 18},
                    {"attribute": "plan", "operator": "eq", "value": "pro"},
                    {"attribute": "country", "operator": "in", "value": ["FR"]},
                ],
                "serve": {"variant": "on"},
            },
            {"id": "orgs", "conditions": [], "serve": split(50, bucket_by="org.id")},
            {
                "id": "fr",
                "conditions": [{"attribute": "country", "operator": "eq", "value": "FR"}],
                "serve": {"variant": "on"},
            },
            {"id": "never-reached", "conditions": [], "serve": {"variant": "off"}},
        ],
        default={"variant": "off"},
    )
    # When the context fails two of the first rule's three conditions and has no org
    result, lines = explain(flag, "production", {"age": 12, "plan": "free", "country": "FR"})
    # Then each failure is named, the split is said to lack a subject, and the match ends it
    assert result.rule == "fr"
    assert lines == [
        "rule adult pros: no match: age=12 does not satisfy gte 18; "
        "plan='free' does not satisfy eq 'pro'",
        "rule orgs: matched, but the split had no subject to bucket by",
        "rule fr: matched",
    ]
    # And a disabled flag has nothing to explain
    off = boolean_flag(enabled=False, rules=flag.environments["production"].rules)
    assert explain(off, "production", {})[1] == []
