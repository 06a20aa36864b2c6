"""Flag evaluation: a pure function of (flag config, context) that never raises.

`compile_flag` turns one flag's environment config into a closure once; evaluating is then a
few dict lookups and, for splits, one xxh3 hash. Every outcome the closure can return for a
fixed variant is built ahead of time, so the common paths allocate nothing.

Reasons and error codes use OpenFeature's vocabulary. A rule whose attribute is missing or of
the wrong type simply does not match, and evaluation moves on to the next rule; `explain`
says why each rule did or did not match.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import xxhash

from headway.flags.bucketing import salt_seed
from headway.flags.model import (
    BUCKETS,
    DATE_OPERATORS,
    NUMERIC_OPERATORS,
    SEMVER_OPERATORS,
    TARGETING_KEY,
    Condition,
    Flag,
    Segment,
    Serve,
    parse_instant,
)
from headway.flags.semver import parse_semver

__all__ = [
    "CompiledFlag",
    "ErrorCode",
    "Evaluation",
    "Reason",
    "compile_flag",
    "error_result",
    "evaluate",
    "explain",
]


class Reason:
    STATIC: Final = "STATIC"
    TARGETING_MATCH: Final = "TARGETING_MATCH"
    SPLIT: Final = "SPLIT"
    DISABLED: Final = "DISABLED"
    DEFAULT: Final = "DEFAULT"
    ERROR: Final = "ERROR"


class ErrorCode:
    FLAG_NOT_FOUND: Final = "FLAG_NOT_FOUND"
    TYPE_MISMATCH: Final = "TYPE_MISMATCH"
    PARSE_ERROR: Final = "PARSE_ERROR"
    TARGETING_KEY_MISSING: Final = "TARGETING_KEY_MISSING"
    INVALID_CONTEXT: Final = "INVALID_CONTEXT"
    GENERAL: Final = "GENERAL"


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The outcome of one evaluation. On error `value` and `variant` are None: the caller's
    default applies (the SDK substitutes it)."""

    flag: str
    value: Any
    variant: str | None
    reason: str
    error_code: str | None = None
    error_message: str | None = None
    rule: str | None = None  # id of the rule that matched, if any


Context = Mapping[str, Any]
Evaluator = Callable[[Context], Evaluation]
_Test = Callable[[Context], bool]
_MISSING: Any = object()


def error_result(flag: str, code: str, message: str) -> Evaluation:
    return Evaluation(flag, None, None, Reason.ERROR, code, message)


@dataclass(frozen=True, slots=True)
class CompiledFlag:
    key: str
    type: str
    version: int
    evaluate: Evaluator


# --- attribute access ---------------------------------------------------------------------------


def _getter(attribute: str) -> Callable[[Context], Any]:
    """Read `attribute` from a context; a dotted name reaches into nested objects.

    A literal top-level key wins over the nested path, so `{"app.version": ...}` also works.
    """
    if "." not in attribute:
        return lambda ctx: ctx.get(attribute, _MISSING)
    parts = attribute.split(".")

    def get(ctx: Context) -> Any:
        value = ctx.get(attribute, _MISSING)
        if value is not _MISSING:
            return value
        value = ctx
        for part in parts:
            if not isinstance(value, Mapping):
                return _MISSING
            value = value.get(part, _MISSING)
        return value

    return get


def _is_number(v: object) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


_semver = lru_cache(maxsize=4096)(parse_semver)


# --- conditions ---------------------------------------------------------------------------------


def _value_test(cond: Condition) -> Callable[[Any], bool]:
    """A predicate on the attribute's value (already known to be present)."""
    op, x = cond.operator, cond.value
    if op == "eq":
        return lambda v: v == x
    if op == "neq":
        return lambda v: v != x
    if op in ("in", "not_in"):
        members = frozenset(x)

        def member(v: Any) -> bool:
            try:
                return v in members
            except TypeError:  # an unhashable value (object, set) is in no list of scalars
                return False

        def is_in(v: Any) -> bool:
            if isinstance(v, list | tuple):
                return any(member(e) for e in v)
            return member(v)

        if op == "in":
            return is_in
        return lambda v: not is_in(v)
    if op in ("contains", "not_contains"):

        def contains(v: Any) -> bool:
            if isinstance(v, str):
                return isinstance(x, str) and x in v
            if isinstance(v, list | tuple):
                return x in v
            return False

        if op == "contains":
            return contains
        return lambda v: isinstance(v, str | list | tuple) and not contains(v)
    if op == "starts_with":
        return lambda v: isinstance(v, str) and v.startswith(x)
    if op == "ends_with":
        return lambda v: isinstance(v, str) and v.endswith(x)
    if op == "matches":
        search = re.compile(x).search
        return lambda v: isinstance(v, str) and search(v) is not None
    if op in NUMERIC_OPERATORS:
        cmp = _COMPARE[op]
        return lambda v: _is_number(v) and cmp(v, x)
    if op in DATE_OPERATORS:
        at = parse_instant(x)
        if op == "before":
            return lambda v: (t := parse_instant(v)) is not None and t < at  # type: ignore[operator]
        return lambda v: (t := parse_instant(v)) is not None and t > at  # type: ignore[operator]
    if op in SEMVER_OPERATORS:
        ref = parse_semver(x)
        cmp = _COMPARE[op.removeprefix("semver_")]
        return lambda v: (
            (k := _semver(v) if isinstance(v, str) else None) is not None and cmp(k, ref)
        )
    raise ValueError(f"unknown operator {op!r}")  # the model refuses these before compiling


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda a, b: a == b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


def _segment_test(segment: Segment | None, get: Callable[[Context], Any]) -> _Test:
    if segment is None:  # deleted after the flag referred to it: matches nobody
        return lambda ctx: False
    included, excluded = frozenset(segment.included), frozenset(segment.excluded)
    conditions = _all(tuple(_condition(c, {}) for c in segment.conditions))

    def member(ctx: Context) -> bool:
        key = get(ctx)
        if isinstance(key, str | int):
            key = str(key)
            if key in excluded:
                return False
            if key in included:
                return True
        return bool(segment.conditions) and conditions(ctx)

    return member


def _condition(cond: Condition, segments: Mapping[str, Segment]) -> _Test:
    get = _getter(cond.attribute)
    op = cond.operator
    if op == "exists":
        return lambda ctx: get(ctx) not in (_MISSING, None)
    if op == "not_exists":
        return lambda ctx: get(ctx) in (_MISSING, None)
    if op in ("in_segment", "not_in_segment"):
        members = tuple(_segment_test(segments.get(k), get) for k in cond.value)
        if op == "in_segment":
            return lambda ctx: any(m(ctx) for m in members)
        return lambda ctx: not any(m(ctx) for m in members)
    test = _value_test(cond)
    if "." not in cond.attribute:
        attribute = cond.attribute
        # The two most common conditions on top-level attributes skip a call: hot path.
        if op == "eq":
            expected = cond.value
            return lambda ctx: ctx.get(attribute) == expected
        if op == "in":
            allowed = frozenset(cond.value)

            def flat_in(ctx: Context) -> bool:
                v = ctx.get(attribute)
                if type(v) is str:
                    return v in allowed
                return v is not None and test(v)

            return flat_in

        def flat(ctx: Context) -> bool:
            v = ctx.get(attribute, _MISSING)
            return v is not _MISSING and v is not None and test(v)

        return flat

    def nested(ctx: Context) -> bool:
        v = get(ctx)
        return v is not _MISSING and v is not None and test(v)

    return nested


def _all(tests: Sequence[_Test]) -> _Test:
    # Unrolled for the common one- and two-condition rules: a generator costs more than the tests.
    if not tests:
        return lambda ctx: True
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        a, b = tests
        return lambda ctx: a(ctx) and b(ctx)

    return lambda ctx: all(t(ctx) for t in tests)


# --- serving ------------------------------------------------------------------------------------


def _server(
    flag: Flag,
    serve: Serve,
    reason: str,
    rule: str | None,
    seed: int,
    no_subject: Evaluation | None = None,
) -> Callable[[Context], Evaluation | None]:
    """What a rule or the default serves. A split returns `no_subject` if it has nothing to
    bucket by (None for a rule, so evaluation falls through to the next one)."""
    values = flag.variant_values()
    if serve.variant is not None:
        fixed = Evaluation(flag.key, values[serve.variant], serve.variant, reason, rule=rule)
        return lambda ctx: fixed
    split = serve.split
    assert split is not None
    starts = tuple(start for start, _, _ in split.allocation)
    results = tuple(
        Evaluation(flag.key, values[v], v, Reason.SPLIT, rule=rule) for _, _, v in split.allocation
    )
    get = _getter(split.bucket_by)
    nested = "." in split.bucket_by
    attribute = split.bucket_by
    hash64 = xxhash.xxh3_64_intdigest
    key = flag.key

    # One flat function: for a flag that is only a split this *is* the evaluator (hot path).
    def by_bucket(ctx: Context) -> Evaluation | None:
        try:
            subject = get(ctx) if nested else ctx.get(attribute)
            if type(subject) is not str:
                if subject is _MISSING or subject is None or isinstance(subject, dict | list):
                    return no_subject
                subject = str(subject)
            return results[bisect_right(starts, hash64(subject.encode(), seed) % BUCKETS) - 1]
        except Exception as exc:  # e.g. a context that is not a mapping
            return error_result(key, ErrorCode.GENERAL, f"{type(exc).__name__}: {exc}")

    return by_bucket


def compile_flag(
    flag: Flag, environment: str, segments: Mapping[str, Segment] | None = None
) -> CompiledFlag:
    """Precompile `flag` for one environment into an evaluator that never raises."""
    segments = segments or {}
    key = flag.key
    env = flag.environments.get(environment)
    if env is None:
        missing = error_result(
            key, ErrorCode.FLAG_NOT_FOUND, f"flag '{key}' has no configuration for '{environment}'"
        )
        return CompiledFlag(key, flag.type, flag.version, lambda ctx: missing)
    values = flag.variant_values()
    if not env.enabled:
        off = Evaluation(key, values[env.off_variant], env.off_variant, Reason.DISABLED)
        return CompiledFlag(key, flag.type, flag.version, lambda ctx: off)

    seed = salt_seed(flag.salt)
    rules = tuple(
        (
            _all(tuple(_condition(c, segments) for c in rule.conditions)),
            _server(flag, rule.serve, Reason.TARGETING_MATCH, rule.id, seed),
        )
        for rule in env.rules
    )
    bucket_by = env.default.split.bucket_by if env.default.split else TARGETING_KEY
    no_subject = error_result(
        key,
        ErrorCode.TARGETING_KEY_MISSING
        if bucket_by == TARGETING_KEY
        else ErrorCode.INVALID_CONTEXT,
        f"the context has no '{bucket_by}' to bucket by",
    )
    reason = Reason.DEFAULT if rules else Reason.STATIC
    default = _server(flag, env.default, reason, None, seed, no_subject)
    if not rules:  # a fixed variant or a split: the server is the whole evaluator
        return CompiledFlag(key, flag.type, flag.version, default)  # type: ignore[arg-type]

    def evaluate(ctx: Context) -> Evaluation:
        try:
            for matches, serve in rules:
                if matches(ctx):
                    result = serve(ctx)
                    if result is not None:
                        return result
        except Exception as exc:  # a context that defeats every guard must not break the caller
            return error_result(key, ErrorCode.GENERAL, f"{type(exc).__name__}: {exc}")
        return default(ctx)  # type: ignore[return-value]

    return CompiledFlag(key, flag.type, flag.version, evaluate)


def evaluate(
    flag: Flag, environment: str, context: Context, segments: Mapping[str, Segment] | None = None
) -> Evaluation:
    """One-off evaluation (compiles every call; use `compile_flag` on hot paths)."""
    try:
        compiled = compile_flag(flag, environment, segments)
    except Exception as exc:  # a config that slipped past validation
        return error_result(flag.key, ErrorCode.PARSE_ERROR, f"{type(exc).__name__}: {exc}")
    if not isinstance(context, Mapping):
        return error_result(flag.key, ErrorCode.INVALID_CONTEXT, "the context must be an object")
    return compiled.evaluate(context)


# --- explanation (slow path, for people) ------------------------------------------------------


def _why_not(cond: Condition, ctx: Context, segments: Mapping[str, Segment]) -> str | None:
    """None if the condition holds, else a sentence saying why it does not."""
    if _condition(cond, segments)(ctx):
        return None
    value = _getter(cond.attribute)(ctx)
    if value is _MISSING or value is None:
        if cond.operator in ("not_exists", "not_in_segment", "in_segment"):
            return f"{cond.attribute} {cond.operator} {cond.value!r} is false"
        return f"attribute '{cond.attribute}' is missing from the context"
    kind = type(value).__name__
    wrong_type = (
        (cond.operator in NUMERIC_OPERATORS and not _is_number(value))
        or (
            cond.operator in SEMVER_OPERATORS
            and not (isinstance(value, str) and _semver(value) is not None)
        )
        or (cond.operator in DATE_OPERATORS and parse_instant(value) is None)
        or (cond.operator in ("starts_with", "ends_with", "matches") and not isinstance(value, str))
    )
    if wrong_type:
        return (
            f"attribute '{cond.attribute}' is a {kind} ({value!r}); '{cond.operator}' cannot use it"
        )
    return f"{cond.attribute}={value!r} does not satisfy {cond.operator} {cond.value!r}"


def explain(
    flag: Flag, environment: str, context: Context, segments: Mapping[str, Segment] | None = None
) -> tuple[Evaluation, list[str]]:
    """The evaluation plus one line per rule saying whether and why it matched."""
    segments = segments or {}
    result = evaluate(flag, environment, context, segments)
    env = flag.environments.get(environment)
    lines: list[str] = []
    if env is None or not env.enabled:
        return result, lines
    for rule in env.rules:
        reasons = [r for c in rule.conditions if (r := _why_not(c, context, segments)) is not None]
        label = rule.description or rule.id
        if reasons:
            lines.append(f"rule {label}: no match: " + "; ".join(reasons))
        elif result.rule == rule.id:
            lines.append(f"rule {label}: matched")
            break
        else:
            lines.append(f"rule {label}: matched, but the split had no subject to bucket by")
    return result, lines
