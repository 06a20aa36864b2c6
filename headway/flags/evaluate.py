"""Flag evaluation: a pure function of (flag config, context) that never raises.

`compile_flag` turns one flag's environment config into one generated Python function, its
conditions written by `headway.flags.conditions`; evaluating is then a few dict lookups and
comparisons and, for splits, one xxh3 hash. Every outcome it can return is built ahead of time,
so the common paths allocate nothing.

Reasons and error codes use OpenFeature's vocabulary. A rule whose attribute is missing or of
the wrong type simply does not match, and evaluation moves on to the next rule; `explain`
says why each rule did or did not match.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Final

import xxhash

from headway.flags.bucketing import salt_seed
from headway.flags.codegen import Source
from headway.flags.conditions import (
    MISSING,
    PRELUDE,
    Context,
    Prerequisite,
    condition_source,
    cost,
    getter,
    why_not,
)
from headway.flags.model import (
    BUCKETS,
    TARGETING_KEY,
    EnvironmentConfig,
    Flag,
    Segment,
    Split,
)
from headway.flags.prerequisites import prerequisite_evaluators

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


Evaluator = Callable[[Context], Evaluation]


def error_result(flag: str, code: str, message: str) -> Evaluation:
    return Evaluation(flag, None, None, Reason.ERROR, code, message)


@dataclass(frozen=True, slots=True)
class CompiledFlag:
    key: str
    type: str
    version: int
    evaluate: Evaluator


# --- compilation ---------------------------------------------------------------------------------
#
# A flag's environment becomes one generated function (see `headway.flags.codegen`): its rules
# are one chain of `if` statements over the context, each testing its conditions as
# `headway.flags.conditions` writes them, so a rule costs a few dict lookups and comparisons
# rather than a call per condition.


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
    if value is MISSING or value is None or isinstance(value, dict | list):
        return None
    return str(value)


# Names every generated evaluator can use besides its own constants.
_PRELUDE: Final[Mapping[str, Any]] = {
    **PRELUDE,
    "hash64": xxhash.xxh3_64_intdigest,
    "bisect": bisect_right,
    "subject": _subject,
}
_CHAIN: Final = 8  # a split with more ranges than this picks its range by bisection


class _Source(Source):
    """The lines of one generated evaluator, which serves its results through a recorder."""

    def __init__(self, flag: str, recorder: Recorder | None, typed: bool) -> None:
        super().__init__(_PRELUDE)
        self.typed = typed  # return values (the caller's default on error), not Evaluations
        self.recorder = recorder
        if recorder is not None:
            self._served = self.const(recorder.served)
            self._admit = self.const(recorder.admit)
            self._flag = self.const(flag)

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


def _subject_source(src: _Source, bucket_by: str) -> str:
    """True when the context has something to bucket by, which it binds to `s` as text."""
    if bucket_by == TARGETING_KEY and src.recorder is not None:
        get = "tk"  # already read for the recorder
    elif "." in bucket_by:
        get = f"{src.const(getter(bucket_by))}(ctx)"
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


def _generate(
    flag: Flag,
    env: EnvironmentConfig,
    segments: Mapping[str, Segment],
    recorder: Recorder | None,
    typed: bool = False,
    flags: Mapping[str, Prerequisite] | None = None,
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
            conditions = sorted(rule.conditions, key=cost)
            test = " and ".join(condition_source(src, c, segments, flags) for c in conditions)
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
    return src.function("evaluate")


def _failure(key: str) -> Callable[[BaseException], Evaluation]:
    return lambda exc: error_result(key, ErrorCode.GENERAL, f"{type(exc).__name__}: {exc}")


def _prerequisites(
    flag: Flag,
    environment: str,
    segments: Mapping[str, Segment] | None,
    flags: Mapping[str, Flag] | None,
    chain: tuple[str, ...],
) -> dict[str, Prerequisite]:
    """The evaluators of the flags `flag`'s conditions name; they record nothing, as an
    application that reads one flag has not been served the flags it depends on."""
    if not flags:
        return {}

    def compile_one(other: Flag, path: tuple[str, ...]) -> Prerequisite:
        return compile_flag(other, environment, segments, None, flags, _chain=path).evaluate

    return prerequisite_evaluators(flag, environment, flags, chain, compile_one)


def compile_flag(
    flag: Flag,
    environment: str,
    segments: Mapping[str, Segment] | None = None,
    recorder: Recorder | None = None,
    flags: Mapping[str, Flag] | None = None,
    *,
    _chain: tuple[str, ...] = (),
) -> CompiledFlag:
    """Precompile `flag` for one environment into an evaluator that never raises.

    With a `recorder`, the evaluator also counts and remembers what it serves (see `Recorder`).
    `flags` (every flag of the configuration, by key) resolves `flag_variant` conditions.
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
    needs = _prerequisites(flag, environment, segments, flags, _chain or (key,))
    evaluator: Evaluator = _generate(flag, env, segments or {}, recorder, flags=needs)
    return CompiledFlag(key, flag.type, flag.version, evaluator)


ValueEvaluator = Callable[[Context, Any], Any]


def compile_value(
    flag: Flag,
    environment: str,
    segments: Mapping[str, Segment] | None = None,
    recorder: Recorder | None = None,
    flags: Mapping[str, Flag] | None = None,
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
    needs = _prerequisites(flag, environment, segments, flags, (flag.key,))
    return _generate(flag, env, segments or {}, recorder, typed=True, flags=needs)


def evaluate(
    flag: Flag,
    environment: str,
    context: Context,
    segments: Mapping[str, Segment] | None = None,
    flags: Mapping[str, Flag] | None = None,
) -> Evaluation:
    """One-off evaluation (compiles every call; use `compile_flag` on hot paths)."""
    try:
        compiled = compile_flag(flag, environment, segments, None, flags)
    except Exception as exc:  # a config that slipped past validation
        return error_result(flag.key, ErrorCode.PARSE_ERROR, f"{type(exc).__name__}: {exc}")
    if not isinstance(context, Mapping):
        return error_result(flag.key, ErrorCode.INVALID_CONTEXT, "the context must be an object")
    return compiled.evaluate(context)


def explain(
    flag: Flag,
    environment: str,
    context: Context,
    segments: Mapping[str, Segment] | None = None,
    flags: Mapping[str, Flag] | None = None,
) -> tuple[Evaluation, list[str]]:
    """The evaluation plus one line per rule saying whether and why it matched."""
    segments = segments or {}
    result = evaluate(flag, environment, context, segments, flags)
    needs = _prerequisites(flag, environment, segments, flags, (flag.key,))
    env = flag.environments.get(environment)
    lines: list[str] = []
    if env is None or not env.enabled:
        return result, lines
    for rule in env.rules:
        reasons = [
            r for c in rule.conditions if (r := why_not(c, context, segments, needs)) is not None
        ]
        label = rule.description or rule.id
        if reasons:
            lines.append(f"rule {label}: no match: " + "; ".join(reasons))
        elif result.rule == rule.id:
            lines.append(f"rule {label}: matched")
            break
        else:
            lines.append(f"rule {label}: matched, but the split had no subject to bucket by")
    return result, lines
