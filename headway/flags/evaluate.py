"""Flag evaluation: a pure function of (flag config, context) that never raises.

`compile_flag` turns one flag's environment config into one generated Python function;
evaluating is then a few dict lookups and comparisons and, for splits, one xxh3 hash. Every
outcome it can return is built ahead of time, so the common paths allocate nothing.

Reasons and error codes use OpenFeature's vocabulary. A rule whose attribute is missing or of
the wrong type simply does not match, and evaluation moves on to the next rule; `explain`
says why each rule did or did not match.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import CodeType
from typing import Any, Final

import xxhash

from headway.flags.bucketing import salt_seed
from headway.flags.model import (
    BUCKETS,
    DATE_OPERATORS,
    NUMERIC_OPERATORS,
    SEGMENT_OPERATORS,
    SEMVER_OPERATORS,
    TARGETING_KEY,
    Condition,
    EnvironmentConfig,
    Flag,
    Segment,
    Split,
    parse_instant,
)
from headway.flags.semver import parse_semver

__all__ = [
    "CompiledFlag",
    "ErrorCode",
    "Evaluation",
    "Reason",
    "Recorder",
    "ValueEvaluator",
    "compile_flag",
    "compile_value",
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
    conditions = tuple(_condition(c, {}) for c in segment.conditions)

    def member(ctx: Context) -> bool:
        key = get(ctx)
        if isinstance(key, str | int):
            key = str(key)
            if key in excluded:
                return False
            if key in included:
                return True
        return bool(conditions) and all(c(ctx) for c in conditions)

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

    def holds(ctx: Context) -> bool:
        v = get(ctx)
        return v is not _MISSING and v is not None and test(v)

    return holds


# --- compilation ---------------------------------------------------------------------------------
#
# A flag's environment becomes one generated function: its rules are one `if`/`elif` chain over
# the context, so a rule costs a few dict lookups and comparisons rather than a call per
# condition. The source text holds only fixed templates and generated names (`c0`, `c1`, ...);
# every value taken from the configuration (attribute names, operands, results, seeds) is bound
# to one of those names in the function's namespace, so no configuration can change the code.
# The source therefore depends only on the flag's shape, and flags of the same shape share one
# compiled code object.


@dataclass(frozen=True, slots=True)
class Recorder:
    """Where an SDK records what each evaluation served, written into the compiled evaluator
    so that it costs no call of its own.

    An evaluation that serves variant `v` calls `next(counters[v])` once and, when the
    context's targeting key is a string, sets `served[key][flag] = v`, asking `admit(key)` for
    the entry of a key `served` lacks. Evaluations that end in an error record nothing.
    """

    counters: Mapping[str, Iterator[object]]
    served: Mapping[str, dict[str, str]]
    admit: Callable[[str], dict[str, str]]


def _subject(value: Any) -> str | None:
    """What a split buckets a non-string value by: its text, or None if it has none."""
    if value is _MISSING or value is None or isinstance(value, dict | list):
        return None
    return str(value)


# Names every generated evaluator can use besides its own constants.
_PRELUDE: Final[Mapping[str, Any]] = {
    "MISSING": _MISSING,
    "ABSENT": (_MISSING, None),
    "hash64": xxhash.xxh3_64_intdigest,
    "bisect": bisect_right,
    "number": _is_number,
    "subject": _subject,
}
_SYMBOLS: Final = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
_STRING_METHODS: Final = {"starts_with": "startswith", "ends_with": "endswith"}
_CHAIN: Final = 8  # a split with more ranges than this picks its range by bisection


class _Source:
    """The lines of one generated evaluator and the constants they name."""

    def __init__(self, flag: str, recorder: Recorder | None, typed: bool) -> None:
        self.typed = typed  # return values (the caller's default on error), not Evaluations
        self.lines: list[str] = []
        self.namespace: dict[str, Any] = dict(_PRELUDE)
        self._constants = 0
        self.recorder = recorder
        if recorder is not None:
            self._served = self.const(recorder.served)
            self._admit = self.const(recorder.admit)
            self._flag = self.const(flag)

    def const(self, value: Any) -> str:
        name = f"c{self._constants}"
        self._constants += 1
        self.namespace[name] = value
        return name

    def line(self, depth: int, text: str) -> None:
        self.lines.append("    " * depth + text)

    def serve(self, depth: int, result: Evaluation) -> None:
        """Return `result` (its value if typed), recorded first if there is a recorder."""
        if self.recorder is not None:
            counter = self.recorder.counters[result.variant]  # type: ignore[index]
            self.record(depth, self.const(counter), self.const(result.variant))
        self.line(depth, f"return {self.const(result.value if self.typed else result)}")

    def fail(self, depth: int, result: Evaluation) -> None:
        """Return the error `result`, or the caller's default if typed."""
        self.line(depth, "return default" if self.typed else f"return {self.const(result)}")

    def record(self, depth: int, counter: str, variant: str) -> None:
        """Count one exposure on `counter` and remember `variant` for the targeting key `tk`."""
        self.line(depth, f"next({counter})")
        self.line(depth, "if type(tk) is str:")
        self.line(depth + 1, f"f = {self._served}.get(tk)")
        self.line(depth + 1, "if f is None:")
        self.line(depth + 2, f"f = {self._admit}(tk)")
        self.line(depth + 1, f"f[{self._flag}] = {variant}")

    def function(self) -> Evaluator:
        exec(_code("\n".join(self.lines)), self.namespace)
        return self.namespace["evaluate"]  # type: ignore[no-any-return]


@lru_cache(maxsize=1024)
def _code(source: str) -> CodeType:
    return compile(source, "<headway flag evaluator>", "exec")


def _test_source(src: _Source, cond: Condition) -> str:
    """A test on `v`, the attribute's value, already known to be present and not None."""
    op = cond.operator
    if op in ("eq", "neq"):
        return f"v {'==' if op == 'eq' else '!='} {src.const(cond.value)}"
    if op in NUMERIC_OPERATORS:
        return (
            "(type(v) is int or type(v) is float or number(v)) "
            f"and v {_SYMBOLS[op]} {src.const(cond.value)}"
        )
    if op in _STRING_METHODS:
        return f"isinstance(v, str) and v.{_STRING_METHODS[op]}({src.const(cond.value)})"
    return f"{src.const(_value_test(cond))}(v)"


def _condition_source(src: _Source, cond: Condition, segments: Mapping[str, Segment]) -> str:
    """An expression on `ctx` that is true when `cond` holds; the same verdicts as `_condition`."""
    op, attribute = cond.operator, cond.attribute
    if op in SEGMENT_OPERATORS:
        return f"{src.const(_condition(cond, segments))}(ctx)"
    flat = "." not in attribute
    if flat:
        name = src.const(attribute)
        if op == "eq":  # a missing attribute reads as None, which equals no operand
            return f"ctx.get({name}) == {src.const(cond.value)}"
        if op == "in":  # a string, the usual case, needs only the set lookup
            return (
                f"(v in {src.const(frozenset(cond.value))} if type(v := ctx.get({name})) is str "
                f"else v is not None and {src.const(_value_test(cond))}(v))"
            )
        get = f"ctx.get({name}, MISSING)"
    else:
        get = f"{src.const(_getter(attribute))}(ctx)"
    if op == "exists":
        return f"{get} not in ABSENT"
    if op == "not_exists":
        return f"{get} in ABSENT"
    return f"((v := {get}) is not MISSING and v is not None and {_test_source(src, cond)})"


def _subject_source(src: _Source, bucket_by: str) -> str:
    """True when the context has something to bucket by, which it binds to `s` as text."""
    if bucket_by == TARGETING_KEY and src.recorder is not None:
        get = "tk"  # already read for the recorder
    elif "." in bucket_by:
        get = f"{src.const(_getter(bucket_by))}(ctx)"
    else:
        get = f"ctx.get({src.const(bucket_by)})"
    return f"(type(s := {get}) is str or (s := subject(s)) is not None)"


def _split_source(
    src: _Source, depth: int, flag: Flag, split: Split, rule: str | None, seed: int
) -> None:
    """Serve the variant owning the bucket of `s`."""
    values = flag.variant_values()
    ranges = split.allocation
    results = [Evaluation(flag.key, values[v], v, Reason.SPLIT, rule=rule) for _, _, v in ranges]
    # BUCKETS is a fixed int, not configuration: as a literal it costs no name lookup.
    bucket = f"hash64(s.encode(), {src.const(seed)}) % {int(BUCKETS)}"
    if len(ranges) == 2:  # the usual rollout: one comparison, nothing to name
        (_, end, _), _ = ranges
        src.line(depth, f"if {bucket} < {src.const(end)}:")
        src.serve(depth + 1, results[0])
        src.serve(depth, results[1])
        return
    src.line(depth, f"b = {bucket}")
    if len(ranges) > _CHAIN:
        src.line(depth, f"i = bisect({src.const(tuple(start for start, _, _ in ranges))}, b) - 1")
        src.line(depth, f"r = {src.const(tuple(results))}[i]")
        if src.recorder is not None:
            counters = tuple(src.recorder.counters[v] for _, _, v in ranges)
            src.record(depth, f"{src.const(counters)}[i]", "r.variant")
        src.line(depth, "return r.value" if src.typed else "return r")
        return
    for (_, end, _), result in zip(ranges[:-1], results[:-1], strict=True):
        src.line(depth, f"if b < {src.const(end)}:")
        src.serve(depth + 1, result)
    src.serve(depth, results[-1])


def _cost(cond: Condition) -> int:
    """A rough rank of what testing `cond` costs. A rule's conditions are pure and never raise,
    so their `and` gives the same verdict in any order; the compiled rule tests the cheap ones
    first (an equality before a list, a regular expression or a segment last), keeping the
    written order among equals."""
    op = cond.operator
    if op in ("eq", "neq", "exists", "not_exists"):
        rank = 0
    elif op in ("in", "not_in") or op in NUMERIC_OPERATORS:
        rank = 1
    elif op in SEGMENT_OPERATORS:
        rank = 4
    elif op in ("matches", *DATE_OPERATORS, *SEMVER_OPERATORS):
        rank = 3
    else:  # contains, starts_with, ends_with
        rank = 2
    return 2 * rank + ("." in cond.attribute)  # a nested attribute takes a few lookups more


def _generate(
    flag: Flag,
    env: EnvironmentConfig,
    segments: Mapping[str, Segment],
    recorder: Recorder | None,
    typed: bool = False,
) -> Callable[..., Any]:
    src = _Source(flag.key, recorder, typed)
    key, values = flag.key, flag.variant_values()
    seed = salt_seed(flag.salt)
    src.line(0, "def evaluate(ctx, default):" if typed else "def evaluate(ctx):")
    src.line(1, "try:")
    if recorder is not None:
        src.line(2, f"tk = ctx.get({src.const(TARGETING_KEY)})")
    # Every branch returns, so rules follow one another as flat `if` statements: an `elif` chain
    # nests, and a few thousand rules would exceed the compiler's recursion limit.
    if not env.enabled:
        src.serve(2, Evaluation(key, values[env.off_variant], env.off_variant, Reason.DISABLED))
    else:
        for rule in env.rules:
            conditions = sorted(rule.conditions, key=_cost)
            test = " and ".join(_condition_source(src, c, segments) for c in conditions)
            if rule.serve.variant is not None:
                src.line(2, f"if {test or 'True'}:")
                v = rule.serve.variant
                src.serve(3, Evaluation(key, values[v], v, Reason.TARGETING_MATCH, rule=rule.id))
            else:
                split = rule.serve.split
                assert split is not None
                # A split with nothing to bucket by does not match: the next rule decides.
                has_subject = _subject_source(src, split.bucket_by)
                src.line(2, f"if {f'{test} and ' if test else ''}{has_subject}:")
                _split_source(src, 3, flag, split, rule.id, seed)
        reason = Reason.DEFAULT if env.rules else Reason.STATIC
        if env.default.variant is not None:
            v = env.default.variant
            src.serve(2, Evaluation(key, values[v], v, reason))
        else:
            split = env.default.split
            assert split is not None
            src.line(2, f"if {_subject_source(src, split.bucket_by)}:")
            _split_source(src, 3, flag, split, None, seed)
            no_subject = error_result(
                key,
                ErrorCode.TARGETING_KEY_MISSING
                if split.bucket_by == TARGETING_KEY
                else ErrorCode.INVALID_CONTEXT,
                f"the context has no '{split.bucket_by}' to bucket by",
            )
            src.fail(2, no_subject)
    src.line(1, "except Exception as exc:  # a context that defeats every guard")
    src.line(2, "return default" if typed else f"return {src.const(_failure(key))}(exc)")
    return src.function()


def _failure(key: str) -> Callable[[BaseException], Evaluation]:
    return lambda exc: error_result(key, ErrorCode.GENERAL, f"{type(exc).__name__}: {exc}")


def compile_flag(
    flag: Flag,
    environment: str,
    segments: Mapping[str, Segment] | None = None,
    recorder: Recorder | None = None,
) -> CompiledFlag:
    """Precompile `flag` for one environment into an evaluator that never raises.

    With a `recorder`, the evaluator also counts and remembers what it serves (see `Recorder`).
    """
    key = flag.key
    env = flag.environments.get(environment)
    if env is None:
        missing = error_result(
            key, ErrorCode.FLAG_NOT_FOUND, f"flag '{key}' has no configuration for '{environment}'"
        )
        return CompiledFlag(key, flag.type, flag.version, lambda ctx: missing)
    if recorder is None and not env.enabled:
        off = Evaluation(
            key, flag.variant_values()[env.off_variant], env.off_variant, Reason.DISABLED
        )
        return CompiledFlag(key, flag.type, flag.version, lambda ctx: off)
    if recorder is None and not env.rules and env.default.variant is not None:
        v = env.default.variant
        static = Evaluation(key, flag.variant_values()[v], v, Reason.STATIC)
        return CompiledFlag(key, flag.type, flag.version, lambda ctx: static)
    evaluator: Evaluator = _generate(flag, env, segments or {}, recorder)
    return CompiledFlag(key, flag.type, flag.version, evaluator)


ValueEvaluator = Callable[[Context, Any], Any]


def compile_value(
    flag: Flag,
    environment: str,
    segments: Mapping[str, Segment] | None = None,
    recorder: Recorder | None = None,
) -> ValueEvaluator:
    """Like `compile_flag`, for the SDK's typed getters: `evaluator(context, default)` returns
    just the value served, or `default` wherever `compile_flag`'s evaluator returns an error.
    It records exactly what `compile_flag`'s would. Skipping the `Evaluation` saves a typed
    getter two attribute reads and a test on every call."""
    env = flag.environments.get(environment)
    if env is None:
        return lambda ctx, default: default
    if recorder is None and not env.enabled:
        off = flag.variant_values()[env.off_variant]
        return lambda ctx, default: off
    if recorder is None and not env.rules and env.default.variant is not None:
        static = flag.variant_values()[env.default.variant]
        return lambda ctx, default: static
    return _generate(flag, env, segments or {}, recorder, typed=True)


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
