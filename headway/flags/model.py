"""Feature-flag configuration: flags, variants, per-environment targeting, segments.

Everything here is a frozen pydantic model. `parse_flag` / `parse_segment` are the only way in
from untrusted input: they turn every problem into an `Issue` naming the offending field's path
(``environments.production.rules[0].conditions[1].value``) and what to do about it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from headway.flags.bucketing import BUCKETS
from headway.flags.kinds import LIFETIME_DAYS, Lifecycle, LifecycleKind, with_lifetime
from headway.flags.prerequisites import chain_problem, prerequisite_conditions
from headway.flags.targeting import (
    DATE_OPERATORS,
    FOLDED_LIST_OPERATORS,
    IP_OPERATORS,
    LIST_OPERATORS,
    NEGATIVE_OPERATORS,
    NUMERIC_OPERATORS,
    PREREQUISITE_OPERATORS,
    PRESENCE_OPERATORS,
    SEGMENT_OPERATORS,
    SEMVER_OPERATORS,
    STRING_OPERATORS,
    TARGETING_KEY,
    Condition,
    EnvironmentConfig,
    Frozen,
    Operator,
    Rule,
    Serve,
    Split,
    WeightedVariant,
    is_number,
    parse_instant,
)

__all__ = [
    "BUCKETS",
    "DATE_OPERATORS",
    "DEFAULT_ENVIRONMENTS",
    "FOLDED_LIST_OPERATORS",
    "IP_OPERATORS",
    "LIFETIME_DAYS",
    "LIST_OPERATORS",
    "NEGATIVE_OPERATORS",
    "NUMERIC_OPERATORS",
    "PREREQUISITE_OPERATORS",
    "PRESENCE_OPERATORS",
    "SEGMENT_OPERATORS",
    "SEMVER_OPERATORS",
    "STRING_OPERATORS",
    "TARGETING_KEY",
    "Condition",
    "ConfigError",
    "EnvironmentConfig",
    "Flag",
    "FlagType",
    "Issue",
    "Lifecycle",
    "LifecycleKind",
    "Operator",
    "Rule",
    "Segment",
    "Serve",
    "Split",
    "Variant",
    "WeightedVariant",
    "parse_flag",
    "parse_instant",
    "parse_segment",
    "with_lifetime",
]

DEFAULT_ENVIRONMENTS = ("development", "staging", "production")

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
_KEY_RE = re.compile(KEY_PATTERN)

FlagType = Literal["boolean", "string", "number", "json"]


class Issue(BaseModel):
    """One problem with a configuration: where it is and what is wrong."""

    model_config = ConfigDict(frozen=True)

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


class ConfigError(ValueError):
    """An invalid flag or segment; `issues` lists every offending field."""

    def __init__(self, issues: Iterable[Issue]) -> None:
        self.issues = list(issues)
        super().__init__("; ".join(str(i) for i in self.issues))


class Variant(Frozen):
    key: str = Field(pattern=KEY_PATTERN)
    value: Any
    description: str = ""


class Flag(Frozen):
    key: str = Field(pattern=KEY_PATTERN)
    type: FlagType
    description: str = ""
    owner: str = Field(min_length=1)
    # The service whose code reads the flag: a rollout's releases and rollbacks count toward
    # its delivery figures. Empty when nobody said; `headway rollout start` then asks.
    service: str = Field("", max_length=200)
    variants: list[Variant] = Field(min_length=1)
    lifecycle: Lifecycle
    tags: list[str] = Field(default_factory=list)
    salt: str = ""
    environments: dict[str, EnvironmentConfig] = Field(default_factory=dict)
    archived: bool = False
    # Client keys (browsers, mobile apps) evaluate only flags marked client-side: whoever holds
    # such a key sees the value, so a flag is server-only until someone says otherwise.
    client_side: bool = False
    version: int = 0

    @model_validator(mode="after")
    def _default_salt(self) -> Flag:
        if not self.salt:
            object.__setattr__(self, "salt", self.key)
        return self

    def variant_values(self) -> dict[str, Any]:
        return {v.key: v.value for v in self.variants}


class Segment(Frozen):
    """A reusable audience: listed keys, minus excluded keys, plus those matching all conditions."""

    key: str = Field(pattern=KEY_PATTERN)
    description: str = ""
    included: list[str] = Field(default_factory=list)
    excluded: list[str] = Field(default_factory=list)
    conditions: list[Condition] = Field(default_factory=list)
    version: int = 0


# --- parsing with paths -----------------------------------------------------------------------


def format_path(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def _pydantic_issues(exc: ValidationError) -> list[Issue]:
    issues = []
    for err in exc.errors(include_url=False):
        # Drop pydantic's union / function tags so the path is the user's document path.
        loc = [
            p
            for p in err["loc"]
            if not (isinstance(p, str) and p.startswith(("function-", "tagged-")))
        ]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "literal_error":
            msg = msg.replace("Input should be", "must be one of")
        issues.append(Issue(path=format_path(loc), message=msg))
    return issues


def _value_fits_type(flag_type: str, value: Any) -> bool:
    if flag_type == "boolean":
        return isinstance(value, bool)
    if flag_type == "string":
        return isinstance(value, str)
    if flag_type == "number":
        return is_number(value)
    return True  # json: any JSON value


def _condition_issues(
    conditions: list[Condition], path: str, segments: Collection[str] | None, in_segment: bool
) -> list[Issue]:
    issues = []
    for i, cond in enumerate(conditions):
        if cond.operator in PREREQUISITE_OPERATORS and in_segment:
            issues.append(
                Issue(
                    path=f"{path}[{i}].operator",
                    message="a segment cannot depend on a flag; put the condition in the rule",
                )
            )
        if cond.operator in SEGMENT_OPERATORS:
            if in_segment:
                issues.append(
                    Issue(
                        path=f"{path}[{i}].operator",
                        message="a segment cannot refer to another segment; copy its conditions",
                    )
                )
            elif segments is not None:
                for key in cond.value:
                    if key not in segments:
                        issues.append(
                            Issue(
                                path=f"{path}[{i}].value",
                                message=f"unknown segment '{key}'; create it first",
                            )
                        )
    return issues


def _serve_issues(serve: Serve, variants: set[str], path: str) -> list[Issue]:
    if serve.variant is not None and serve.variant not in variants:
        return [Issue(path=f"{path}.variant", message=_unknown_variant(serve.variant, variants))]
    issues = []
    if serve.split is not None:
        for i, w in enumerate(serve.split.weights):
            if w.variant not in variants:
                issues.append(
                    Issue(
                        path=f"{path}.split.weights[{i}].variant",
                        message=_unknown_variant(w.variant, variants),
                    )
                )
    return issues


def _unknown_variant(key: str, variants: set[str]) -> str:
    return f"unknown variant '{key}'; the flag's variants are {', '.join(sorted(variants))}"


def _prerequisite_issues(flag: Flag, flags: Mapping[str, Flag]) -> list[Issue]:
    """`flag_variant` conditions naming a flag or variant that does not exist, or making
    flags depend on each other (`flags`: the other live flags, by key)."""
    issues = []
    for env_key, env in flag.environments.items():
        for r, c, cond in prerequisite_conditions(env):
            path = f"environments.{env_key}.rules[{r}].conditions[{c}]"
            other = flag if cond.attribute == flag.key else flags.get(cond.attribute)
            if other is None:
                message = f"unknown flag '{cond.attribute}'; create it first (or unarchive it)"
                issues.append(Issue(path=f"{path}.attribute", message=message))
                continue
            variants = {v.key for v in other.variants}
            for key in cond.value:
                if key not in variants:
                    message = f"flag '{other.key}': " + _unknown_variant(key, variants)
                    issues.append(Issue(path=f"{path}.value", message=message))
        problem = chain_problem(flag, env_key, flags.get)
        if problem is not None:
            issues.append(Issue(path=f"environments.{env_key}.rules", message=problem))
    return issues


def check_flag(
    flag: Flag,
    segments: Collection[str] | None = None,
    flags: Callable[[], Mapping[str, Flag]] | None = None,
) -> list[Issue]:
    """Cross-field checks pydantic cannot do field by field: types, references, uniqueness.

    `flags` gives the other live flags by key, asked for only when a condition names a flag;
    None skips the prerequisite checks."""
    issues: list[Issue] = []
    keys = [v.key for v in flag.variants]
    for i, v in enumerate(flag.variants):
        if keys.index(v.key) != i:
            issues.append(Issue(path=f"variants[{i}].key", message=f"duplicate variant '{v.key}'"))
        if not _value_fits_type(flag.type, v.value):
            issues.append(
                Issue(
                    path=f"variants[{i}].value",
                    message=f"a {flag.type} flag cannot serve {v.value!r}",
                )
            )
    variants = set(keys)
    for env_key, env in flag.environments.items():
        if not _KEY_RE.fullmatch(env_key):
            issues.append(Issue(path=f"environments.{env_key}", message="invalid environment key"))
        base = f"environments.{env_key}"
        if env.off_variant not in variants:
            issues.append(
                Issue(
                    path=f"{base}.off_variant", message=_unknown_variant(env.off_variant, variants)
                )
            )
        for r, rule in enumerate(env.rules):
            issues += _condition_issues(
                rule.conditions, f"{base}.rules[{r}].conditions", segments, False
            )
            issues += _serve_issues(rule.serve, variants, f"{base}.rules[{r}].serve")
        issues += _serve_issues(env.default, variants, f"{base}.default")
    if flags is not None and any(
        True for env in flag.environments.values() for _ in prerequisite_conditions(env)
    ):
        issues += _prerequisite_issues(flag, flags())
    return issues


def parse_flag(
    data: Mapping[str, Any] | Flag,
    *,
    segments: Collection[str] | None = None,
    flags: Callable[[], Mapping[str, Flag]] | None = None,
) -> Flag:
    """Validate a flag document; raise `ConfigError` naming every offending field.

    `segments` is the set of known segment keys; None skips the segment-reference check.
    `flags` gives the other live flags by key; None skips the prerequisite checks.
    """
    try:
        flag = data if isinstance(data, Flag) else Flag.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_issues(exc)) from None
    issues = check_flag(flag, segments, flags)
    if issues:
        raise ConfigError(issues)
    return flag


def parse_segment(data: Mapping[str, Any] | Segment) -> Segment:
    try:
        segment = data if isinstance(data, Segment) else Segment.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_issues(exc)) from None
    issues = _condition_issues(segment.conditions, "conditions", None, True)
    if issues:
        raise ConfigError(issues)
    return segment
