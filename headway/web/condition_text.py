"""A condition's value as a person types it in a form, and back; rules in words.

The value field reads as `headway flags rule add --when` reads its value: a list operator
(`in`, `not_in`) takes values separated by commas, each a number, `true`, `false` or `null`
when it reads as one and text otherwise (`"42"` keeps the text); the operators of keys,
variants, networks and case-free lists take comma-separated text; the comparisons (`eq`,
`gt` …) one such scalar; the text operators (`matches`, dates, versions) the text as typed.
A list may also be written as JSON (`["NL", "BE"]`), and `[NL, BE]` is read as `NL, BE`.
`text_of` writes a stored value so that reading it back gives the same value, falling back to
JSON where the short form would not (a comma inside a value, the text `"42"`).
"""

from __future__ import annotations

import json
from typing import Any, Final, get_args

from headway.flags.model import (
    DATE_OPERATORS,
    FOLDED_LIST_OPERATORS,
    IP_OPERATORS,
    LIST_OPERATORS,
    NUMERIC_OPERATORS,
    PREREQUISITE_OPERATORS,
    PRESENCE_OPERATORS,
    SEGMENT_OPERATORS,
    SEMVER_OPERATORS,
    Condition,
    Operator,
    Rule,
    Serve,
)

__all__ = [
    "OPERATORS",
    "SEGMENT_CONDITION_OPERATORS",
    "describe_condition",
    "describe_rule",
    "describe_serve",
    "text_of",
    "value_of",
]

OPERATORS: Final[dict[str, str]] = {
    "in": "is one of",
    "not_in": "is none of",
    "eq": "equals",
    "neq": "does not equal",
    "in_ci": "is one of, ignoring case",
    "not_in_ci": "is none of, ignoring case",
    "eq_ci": "equals, ignoring case",
    "contains": "contains",
    "not_contains": "does not contain",
    "contains_ci": "contains, ignoring case",
    "not_contains_ci": "does not contain, ignoring case",
    "starts_with": "starts with",
    "starts_with_ci": "starts with, ignoring case",
    "ends_with": "ends with",
    "ends_with_ci": "ends with, ignoring case",
    "matches": "matches the regular expression (RE2)",
    "gt": "is greater than",
    "gte": "is at least",
    "lt": "is less than",
    "lte": "is at most",
    "before": "is a time before",
    "after": "is a time after",
    "semver_eq": "is the version",
    "semver_gt": "is a version above",
    "semver_gte": "is a version at or above",
    "semver_lt": "is a version below",
    "semver_lte": "is a version at or below",
    "ip_in": "is an address in the network(s)",
    "ip_not_in": "is an address outside the network(s)",
    "exists": "is present (no value)",
    "not_exists": "is missing or null (no value)",
    "in_segment": "(the key) is in the segment(s)",
    "not_in_segment": "(the key) is in none of the segment(s)",
    "flag_variant": "(a flag key) serves one of the variants",
}
assert set(OPERATORS) == set(get_args(Operator)), "every operator has its words"
# What a segment's conditions may use: a segment refers to no segment and no flag.
SEGMENT_CONDITION_OPERATORS: Final = tuple(
    op for op in OPERATORS if op not in SEGMENT_OPERATORS | PREREQUISITE_OPERATORS
)
_TEXT_LISTS: Final = (
    SEGMENT_OPERATORS | FOLDED_LIST_OPERATORS | IP_OPERATORS | PREREQUISITE_OPERATORS
)
_SCALARS: Final = NUMERIC_OPERATORS | {"eq", "neq", "contains", "not_contains"}
_AS_TYPED: Final = DATE_OPERATORS | SEMVER_OPERATORS | {"matches", "eq_ci"}


def _scalar(text: str) -> Any:
    """`5` → 5, `true` → True, `"5"` → "5", `pro` → "pro" (as the CLI reads a value)."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return text


def _pieces(text: str) -> list[str]:
    inner = text.strip()
    if inner.startswith("[") and inner.endswith("]"):
        inner = inner[1:-1]
    return [p.strip() for p in inner.split(",") if p.strip()]


def value_of(operator: str, text: str) -> Any:
    """The value `text` means for `operator`; None when it is blank (the service then says
    whether the operator needs one). Never raises: what the service refuses, it names."""
    if not text.strip():
        return None
    if operator in PRESENCE_OPERATORS or operator in _AS_TYPED:
        return text
    listed = operator in LIST_OPERATORS or operator in _TEXT_LISTS
    if text.lstrip().startswith("[") and operator not in _SCALARS:
        try:
            value = json.loads(text)
        except (json.JSONDecodeError, RecursionError):
            value = None
        if isinstance(value, list):
            return value
        if not listed:
            return text
    if operator in LIST_OPERATORS:
        return [_scalar(p) for p in _pieces(text)] or None
    if operator in _TEXT_LISTS:
        return _pieces(text) or None
    if operator in _SCALARS:
        return _scalar(text.strip())
    return text  # the text operators: starts_with …, as typed


def text_of(operator: str, value: Any) -> str:
    """What to put in the value field so that `value_of` reads `value` back."""
    if value is None:
        return ""
    candidates = []
    if isinstance(value, list):
        candidates.append(", ".join(v if isinstance(v, str) else json.dumps(v) for v in value))
    elif isinstance(value, str):
        candidates.append(value)
    candidates.append(json.dumps(value))
    wanted = json.dumps(value, sort_keys=True)
    for text in candidates:
        if json.dumps(value_of(operator, text), sort_keys=True) == wanted:
            return text
    return candidates[-1]


def describe_condition(cond: Condition) -> str:
    op, value = cond.operator, text_of(cond.operator, cond.value)
    if op in SEGMENT_OPERATORS:
        where = "in" if op == "in_segment" else "in none of"
        return f"{cond.attribute} {where} segment {value}"
    if op in PREREQUISITE_OPERATORS:
        return f"flag {cond.attribute} serves {value}"
    if op in PRESENCE_OPERATORS:
        return f"{cond.attribute} {OPERATORS[op].split(' (')[0]}"
    return f"{cond.attribute} {op} {value}"


def describe_serve(serve: Serve) -> str:
    if serve.variant is not None:
        return serve.variant
    assert serve.split is not None
    weights = ", ".join(f"{w.variant} {w.weight:g} %" for w in serve.split.weights)
    return f"split {weights} by {serve.split.bucket_by}"


def describe_rule(rule: Rule) -> str:
    """`country in NL, BE and plan eq pro → on`."""
    when = " and ".join(describe_condition(c) for c in rule.conditions) or "every context"
    return f"{when} → {describe_serve(rule.serve)}"
