"""What each condition operator means, written once, as Python expressions over a context.

`condition_source` turns a condition into an expression that holds exactly when the condition
does; the flag evaluator (`headway.flags.evaluate`) compiles it into its chain of rules, and
`why_not` compiles the same expression alone, for `explain`, then says why a condition failed.
A value operator is a guard (can it use the attribute's value at all?) and a test: a value
failing the guard is what `explain` calls the wrong type, and a missing or null attribute fails
every value operator. Nothing here raises for a JSON context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from headway.flags.codegen import Source
from headway.flags.model import (
    DATE_OPERATORS,
    NEGATIVE_OPERATORS,
    NUMERIC_OPERATORS,
    PREREQUISITE_OPERATORS,
    SEGMENT_OPERATORS,
    SEMVER_OPERATORS,
    Condition,
    Segment,
    parse_instant,
)
from headway.flags.operands import (
    as_number,
    casefolded,
    contains_any,
    contains_operands,
    folded_members,
    in_folded,
    ip_address,
    ip_in,
    ip_networks,
    strings,
)
from headway.flags.patterns import compile_pattern
from headway.flags.semver import parse_semver

__all__ = [
    "MISSING",
    "PRELUDE",
    "Context",
    "Prerequisite",
    "condition_source",
    "cost",
    "getter",
    "read_source",
    "why_not",
]

Context = Mapping[str, Any]
# Another flag's evaluator: its result has the `variant` it served (None on error).
Prerequisite = Callable[[Context], Any]
MISSING: Final[Any] = object()  # what reading an attribute the context lacks gives


def getter(attribute: str) -> Callable[[Context], Any]:
    """Read `attribute` from a context; a dotted name reaches into nested objects.

    A literal top-level key wins over the nested path, so `{"app.version": ...}` also works.
    """
    if "." not in attribute:
        return lambda ctx: ctx.get(attribute, MISSING)
    parts = attribute.split(".")

    def get(ctx: Context) -> Any:
        value = ctx.get(attribute, MISSING)
        if value is not MISSING:
            return value
        value = ctx
        for part in parts:
            if not isinstance(value, Mapping):
                return MISSING
            value = value.get(part, MISSING)
        return value

    return get


def _is_in(members: frozenset[Any], v: Any) -> bool:
    """`in`: the value, or for a list any element of it, is one of `members`."""
    if isinstance(v, list | tuple):
        return any(_is_member(members, e) for e in v)
    return _is_member(members, v)


def _is_member(members: frozenset[Any], v: Any) -> bool:
    try:
        return v in members
    except TypeError:  # an unhashable value (object, set) is in no list of scalars
        return False


def _key_text(value: Any) -> str | None:
    """What a segment's listed keys are compared with: a string or integer key as text."""
    return str(value) if isinstance(value, str | int) else None


# Names every generated test can use besides its own constants.
PRELUDE: Final[Mapping[str, Any]] = {
    "MISSING": MISSING,
    "ABSENT": (MISSING, None),
    "num": as_number,
    "is_in": _is_in,
    "in_folded": in_folded,
    "contains": contains_any,
    "ip": ip_address,
    "ip_in": ip_in,
    "instant": parse_instant,
    "semver": lru_cache(maxsize=4096)(parse_semver),
    "key_text": _key_text,
}


@dataclass(frozen=True, slots=True)
class _Operator:
    """A value operator, as expressions on `v`, the attribute's value (present, not null)."""

    test: str  # true when the condition holds; `{x}` names the prepared operand
    guard: str = ""  # true when the operator can use `v` at all; tested before `test`
    operand: Callable[[Any], Any] = lambda x: x  # the configured value, prepared once


# A number, or one carried as text, bound to `n`: contexts from HTTP headers, query strings
# and other flag systems often hold "42" where JSON would hold 42.
_NUMBER: Final = "(n := v if type(v) is int or type(v) is float else num(v)) is not None"
_TEXT: Final = "isinstance(v, str)"
_INSTANT: Final = "(t := instant(v)) is not None"
_ADDRESS: Final = "isinstance(v, str) and (a := ip(v)) is not None"
_VERSION: Final = "isinstance(v, str) and (k := semver(v)) is not None"
_SYMBOLS: Final = {"eq": "==", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}

_OPERATORS: Final[Mapping[str, _Operator]] = {
    "eq": _Operator("v == {x}"),
    "neq": _Operator("v != {x}"),
    "in": _Operator("is_in({x}, v)", operand=frozenset),
    "not_in": _Operator("not is_in({x}, v)", operand=frozenset),
    "contains": _Operator("contains(v, {x})", operand=contains_operands),
    # Any other value does not satisfy `not_contains`; explain says so, not that it is mistyped.
    "not_contains": _Operator(
        "isinstance(v, (str, list, tuple)) and not contains(v, {x})", operand=contains_operands
    ),
    # str.startswith takes a tuple: any of its strings.
    "starts_with": _Operator("v.startswith({x})", _TEXT, strings),
    "ends_with": _Operator("v.endswith({x})", _TEXT, strings),
    # Without case: both sides casefolded ("Straße" and "STRASSE" are equal), the operand once.
    "eq_ci": _Operator("v.casefold() == {x}", _TEXT, str.casefold),
    "in_ci": _Operator("in_folded({x}, v)", operand=folded_members),
    "not_in_ci": _Operator("not in_folded({x}, v)", operand=folded_members),
    "contains_ci": _Operator("contains(v, {x}, True)", operand=casefolded),
    "not_contains_ci": _Operator(
        "isinstance(v, (str, list, tuple)) and not contains(v, {x}, True)", operand=casefolded
    ),
    "starts_with_ci": _Operator("v.casefold().startswith({x})", _TEXT, casefolded),
    "ends_with_ci": _Operator("v.casefold().endswith({x})", _TEXT, casefolded),
    # RE2, linear in the text; a text longer than MAX_TEXT does not match (see `patterns`).
    "matches": _Operator("{x}(v)", _TEXT, compile_pattern),
    "before": _Operator("t < {x}", _INSTANT, parse_instant),
    "after": _Operator("t > {x}", _INSTANT, parse_instant),
    **{op: _Operator(f"n {_SYMBOLS[op]} {{x}}", _NUMBER) for op in NUMERIC_OPERATORS},
    "ip_in": _Operator("ip_in({x}, a)", _ADDRESS, ip_networks),
    "ip_not_in": _Operator("not ip_in({x}, a)", _ADDRESS, ip_networks),
    **{
        op: _Operator(f"k {_SYMBOLS[op.removeprefix('semver_')]} {{x}}", _VERSION, parse_semver)
        for op in SEMVER_OPERATORS
    },
}


def read_source(src: Source, attribute: str) -> str:
    """An expression reading `attribute` from `ctx`, MISSING if the context lacks it."""
    if "." in attribute:
        return f"{src.const(getter(attribute))}(ctx)"
    return f"ctx.get({src.const(attribute)}, MISSING)"


def condition_source(
    src: Source,
    cond: Condition,
    segments: Mapping[str, Segment],
    flags: Mapping[str, Prerequisite] | None = None,
) -> str:
    """An expression on `ctx` that is true when `cond` holds.

    `flags` holds the evaluators of the flags a `flag_variant` condition names, for the same
    environment; one it lacks (unknown, or in a cycle) serves no variant, so matches nobody.
    """
    op, attribute = cond.operator, cond.attribute
    if op in SEGMENT_OPERATORS:
        member = " or ".join(_segment_source(src, segments.get(k), attribute) for k in cond.value)
        return f"({member})" if op == "in_segment" else f"not ({member})"
    if op in PREREQUISITE_OPERATORS:
        evaluator = (flags or {}).get(attribute)
        if evaluator is None:
            return "False"
        return f"{src.const(evaluator)}(ctx).variant in {src.const(frozenset(cond.value))}"
    if op == "exists":
        return f"{read_source(src, attribute)} not in ABSENT"
    if op == "not_exists":
        return f"{read_source(src, attribute)} in ABSENT"
    operator = _OPERATORS[op]
    operand = src.const(operator.operand(cond.value))
    # The two commonest operators on a flat attribute, written to read the context only once.
    if op == "eq" and "." not in attribute:  # a missing attribute reads as None, equal to none
        return f"ctx.get({src.const(attribute)}) == {operand}"
    if op == "in" and "." not in attribute:  # a string, the usual case, needs one set lookup
        return (
            f"(v in {operand} if type(v := ctx.get({src.const(attribute)})) is str "
            f"else v is not None and is_in({operand}, v))"
        )
    if op in NEGATIVE_OPERATORS:
        return (
            f"((v := {read_source(src, attribute)}) is MISSING or v is None or "
            f"{_value_source(operator, operand)})"
        )
    return (
        f"((v := {read_source(src, attribute)}) is not MISSING and v is not None and "
        f"{_value_source(operator, operand)})"
    )


def _value_source(operator: _Operator, operand: str) -> str:
    test = operator.test.format(x=operand)
    return f"{operator.guard} and {test}" if operator.guard else test


def _segment_source(src: Source, segment: Segment | None, attribute: str) -> str:
    """True when the context's `attribute` puts it in `segment`: its key listed as excluded
    never, as included always, otherwise when every one of the segment's conditions holds."""
    if segment is None:  # deleted after the flag referred to it: matches nobody
        return "False"
    key = f"(sk := key_text({read_source(src, attribute)}))"
    included = f"sk in {src.const(frozenset(segment.included))}"
    # A segment cannot refer to segments: any such condition finds none.
    conditions = " and ".join(condition_source(src, c, {}) for c in segment.conditions)
    member = f"{included} or ({conditions})" if conditions else included
    return f"({key} not in {src.const(frozenset(segment.excluded))} and ({member}))"


def cost(cond: Condition) -> int:
    """A rough rank of what testing `cond` costs. A rule's conditions are pure and never raise,
    so their `and` gives the same verdict in any order; the compiled rule tests the cheap ones
    first (an equality before a list, a regular expression or a segment last), keeping the
    written order among equals."""
    op = cond.operator
    if op in ("eq", "neq", "exists", "not_exists"):
        rank = 0
    elif op in ("in", "not_in") or op in NUMERIC_OPERATORS:
        rank = 1
    elif op in PREREQUISITE_OPERATORS:  # a whole other flag's evaluation
        rank = 5
    elif op in SEGMENT_OPERATORS:
        rank = 4
    elif op in ("matches", "ip_in", "ip_not_in", *DATE_OPERATORS, *SEMVER_OPERATORS):
        rank = 3
    else:  # contains, starts_with, ends_with, the case-insensitive ones
        rank = 2
    return 2 * rank + ("." in cond.attribute)  # a nested attribute takes a few lookups more


# --- explanation (slow path, for people) ------------------------------------------------------


def _compiled(parameter: str, expression: Callable[[Source], str]) -> Callable[[Any], bool]:
    """One generated function of `parameter` returning `expression`, built like an evaluator."""
    src = Source(PRELUDE)
    src.line(0, f"def test({parameter}):")
    src.line(1, f"return {expression(src)}")
    return src.function("test")


def why_not(
    cond: Condition,
    ctx: Context,
    segments: Mapping[str, Segment],
    flags: Mapping[str, Prerequisite] | None = None,
) -> str | None:
    """None if the condition holds, else a sentence saying why it does not."""
    if _compiled("ctx", lambda src: condition_source(src, cond, segments, flags))(ctx):
        return None
    if cond.operator in PREREQUISITE_OPERATORS:
        evaluator = (flags or {}).get(cond.attribute)
        if evaluator is None:
            return f"flag '{cond.attribute}' cannot be evaluated here (unknown, or in a cycle)"
        served = evaluator(ctx).variant
        return f"flag '{cond.attribute}' serves {served!r}, not one of {cond.value!r}"
    value = getter(cond.attribute)(ctx)
    if value is MISSING or value is None:
        if cond.operator in ("not_exists", "not_in_segment", "in_segment"):
            return f"{cond.attribute} {cond.operator} {cond.value!r} is false"
        return f"attribute '{cond.attribute}' is missing from the context"
    guard = getattr(_OPERATORS.get(cond.operator), "guard", "")
    if guard and not _compiled("v", lambda src: guard)(value):
        kind = type(value).__name__
        return (
            f"attribute '{cond.attribute}' is a {kind} ({value!r}); '{cond.operator}' cannot use it"
        )
    return f"{cond.attribute}={value!r} does not satisfy {cond.operator} {cond.value!r}"
