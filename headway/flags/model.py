"""Feature-flag configuration: flags, variants, per-environment targeting, segments.

Everything here is a frozen pydantic model. `parse_flag` / `parse_segment` are the only way in
from untrusted input: they turn every problem into an `Issue` naming the offending field's path
(``environments.production.rules[0].conditions[1].value``) and what to do about it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from headway.flags.bucketing import BUCKETS, contiguous_allocation, owned_buckets
from headway.flags.patterns import PatternError, compile_pattern
from headway.flags.semver import parse_semver

__all__ = [
    "BUCKETS",
    "DEFAULT_ENVIRONMENTS",
    "LIFETIME_DAYS",
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
    "parse_segment",
    "with_lifetime",
]

TARGETING_KEY = "targetingKey"  # OpenFeature's name for the evaluation subject
DEFAULT_ENVIRONMENTS = ("development", "staging", "production")

KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"
_KEY_RE = re.compile(KEY_PATTERN)

FlagType = Literal["boolean", "string", "number", "json"]
Operator = Literal[
    "eq",
    "neq",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "starts_with",
    "ends_with",
    "matches",
    "gt",
    "gte",
    "lt",
    "lte",
    "before",
    "after",
    "semver_eq",
    "semver_gt",
    "semver_gte",
    "semver_lt",
    "semver_lte",
    "in_segment",
    "not_in_segment",
    "exists",
    "not_exists",
]
NUMERIC_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
DATE_OPERATORS = frozenset({"before", "after"})
SEMVER_OPERATORS = frozenset({"semver_eq", "semver_gt", "semver_gte", "semver_lt", "semver_lte"})
STRING_OPERATORS = frozenset({"starts_with", "ends_with"})
LIST_OPERATORS = frozenset({"in", "not_in"})
SEGMENT_OPERATORS = frozenset({"in_segment", "not_in_segment"})
PRESENCE_OPERATORS = frozenset({"exists", "not_exists"})


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


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def parse_instant(value: object) -> float | None:
    """Seconds since the epoch for a datetime, date, ISO 8601 string or number; else None.

    Naive datetimes are taken as UTC so that a rule means the same thing on every server.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.timestamp()
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC).timestamp()
    return None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Condition(_Frozen):
    """`attribute operator value`; `attribute` is a context key, dotted for nested objects."""

    attribute: str = Field(min_length=1)
    operator: Operator
    # Validated when absent too: a value operator without its value is refused, not stored.
    value: Any = Field(default=None, validate_default=True)

    @field_validator("value")
    @classmethod
    def _value_fits_operator(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("operator")
        if op is None:  # the operator itself was invalid; that error is reported instead
            return value
        if op in PRESENCE_OPERATORS:
            if value is not None:
                raise ValueError(f"'{op}' takes no value; remove it")
            return None
        if value is None:
            raise ValueError(f"'{op}' needs a value")
        if op in LIST_OPERATORS:
            if not isinstance(value, list) or not value:
                raise ValueError(f"'{op}' needs a non-empty list of values")
            if any(isinstance(v, dict | list) for v in value):
                raise ValueError(f"'{op}' compares scalars; the list holds an object or a list")
        elif op in SEGMENT_OPERATORS:
            keys = [value] if isinstance(value, str) else value
            if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
                raise ValueError(f"'{op}' needs a segment key or a list of segment keys")
            return keys
        elif op in NUMERIC_OPERATORS:
            if not _is_number(value):
                raise ValueError(f"'{op}' needs a number, got {value!r}")
        elif op in DATE_OPERATORS:
            if parse_instant(value) is None:
                raise ValueError(
                    f"'{op}' needs an ISO 8601 date-time such as 2025-01-31T00:00:00Z, "
                    f"got {value!r}"
                )
        elif op in SEMVER_OPERATORS:
            if not isinstance(value, str) or parse_semver(value) is None:
                raise ValueError(f"'{op}' needs a semantic version such as 1.4.0, got {value!r}")
        elif op == "matches":
            if not isinstance(value, str):
                raise ValueError("'matches' needs a regular expression string")
            try:
                compile_pattern(value)
            except PatternError as exc:
                raise ValueError(f"invalid regular expression {value[:80]!r}: {exc}") from None
        elif op in STRING_OPERATORS:
            if not isinstance(value, str):
                raise ValueError(f"'{op}' needs a string, got {value!r}")
        elif isinstance(value, dict):  # eq, neq, contains, not_contains
            raise ValueError(f"'{op}' compares scalars or lists, not objects")
        return value


class WeightedVariant(_Frozen):
    variant: str
    weight: float = Field(ge=0, le=100, description="percent of traffic, steps of 0.001")

    @property
    def buckets(self) -> int:
        return round(self.weight * BUCKETS / 100)


class Split(_Frozen):
    """A percentage split. `allocation` says which bucket ranges each variant owns.

    The allocation is derived: when weights change the service recomputes it from the
    previous one (see `bucketing.rebalance`) so that as few users as possible move.
    """

    weights: list[WeightedVariant] = Field(min_length=1)
    bucket_by: str = TARGETING_KEY
    allocation: list[tuple[int, int, str]] = Field(default_factory=list)

    @field_validator("weights")
    @classmethod
    def _weights_sum_to_100(cls, weights: list[WeightedVariant]) -> list[WeightedVariant]:
        for w in weights:
            if abs(w.weight * 1000 - round(w.weight * 1000)) > 1e-6:
                raise ValueError(f"weight {w.weight} of '{w.variant}' is finer than 0.001 %")
        total = sum(w.buckets for w in weights)
        if total != BUCKETS:
            raise ValueError(f"weights sum to {total / 1000:g} %; they must sum to 100 %")
        seen = [w.variant for w in weights]
        if len(set(seen)) != len(seen):
            raise ValueError("a variant appears twice in the split; merge its weights")
        return weights

    @model_validator(mode="after")
    def _allocation_matches_weights(self) -> Split:
        if "weights" not in self.__dict__:
            return self
        if not self.allocation:
            object.__setattr__(self, "allocation", contiguous_allocation(self.weights))
            return self
        expected = {w.variant: w.buckets for w in self.weights if w.buckets}
        cursor = 0
        for start, end, _variant in self.allocation:
            if start != cursor or end <= start:
                raise ValueError("allocation ranges must tile 0..100000 in order without gaps")
            cursor = end
        if cursor != BUCKETS or owned_buckets(self.allocation) != expected:
            raise ValueError("allocation does not match the weights; omit it to recompute")
        return self


class Serve(_Frozen):
    """What to serve: exactly one of a variant or a split."""

    variant: str | None = None
    split: Split | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Serve:
        if (self.variant is None) == (self.split is None):
            raise ValueError("give exactly one of 'variant' or 'split'")
        return self


class Rule(_Frozen):
    """All conditions must hold (AND); list several rules for OR. First matching rule wins."""

    id: str = Field(default="", max_length=64)
    description: str = ""
    conditions: list[Condition] = Field(default_factory=list)
    serve: Serve


class EnvironmentConfig(_Frozen):
    enabled: bool = False
    off_variant: str
    rules: list[Rule] = Field(default_factory=list)
    default: Serve

    @model_validator(mode="after")
    def _rule_ids(self) -> EnvironmentConfig:
        # Rule ids let a rule's split keep its allocation when rules are reordered or edited.
        rules = [
            r if r.id else r.model_copy(update={"id": f"r{i}"}) for i, r in enumerate(self.rules)
        ]
        ids = [r.id for r in rules]
        if len(set(ids)) != len(ids):
            raise ValueError("rule ids must be unique within an environment")
        object.__setattr__(self, "rules", rules)
        return self


class Variant(_Frozen):
    key: str = Field(pattern=KEY_PATTERN)
    value: Any
    description: str = ""


LifecycleKind = Literal[
    "release", "experiment", "operational", "kill-switch", "permission", "temporary", "permanent"
]
# How long a flag of each short-lived kind is expected to live, in days, when its creator gives
# no date (the lifetimes Unleash uses, which teams moving from it already plan around).
# `temporary` is the older, generic kind: it still needs an explicit date.
LIFETIME_DAYS: Mapping[str, int] = {"release": 40, "experiment": 40, "operational": 7}
TEMPORARY_KINDS = frozenset({"temporary", *LIFETIME_DAYS})


class Lifecycle(_Frozen):
    kind: LifecycleKind = "release"
    expected_removal: dt.date | None = None

    @model_validator(mode="after")
    def _temporary_has_date(self) -> Lifecycle:
        if self.kind in TEMPORARY_KINDS and self.expected_removal is None:
            raise ValueError(
                f"a {self.kind} flag needs 'expected_removal' (a date such as 2025-06-30)"
            )
        if self.kind not in TEMPORARY_KINDS and self.expected_removal is not None:
            raise ValueError(f"a {self.kind} flag has no 'expected_removal'; remove it")
        return self

    @property
    def temporary(self) -> bool:
        return self.kind in TEMPORARY_KINDS


def with_lifetime(document: Mapping[str, Any], today: dt.date) -> dict[str, Any]:
    """`document` with its lifecycle completed: a missing lifecycle is a release flag, and a
    short-lived kind without a date is expected to go its kind's lifetime after `today`."""
    doc = dict(document)
    lifecycle = doc.get("lifecycle")
    if lifecycle is None:
        lifecycle = {"kind": "release"}
    if isinstance(lifecycle, Mapping):
        lifecycle = dict(lifecycle)
        days = LIFETIME_DAYS.get(str(lifecycle.get("kind", "release")))
        if days is not None and lifecycle.get("expected_removal") is None:
            lifecycle["expected_removal"] = (today + dt.timedelta(days=days)).isoformat()
    doc["lifecycle"] = lifecycle
    return doc


class Flag(_Frozen):
    key: str = Field(pattern=KEY_PATTERN)
    type: FlagType
    description: str = ""
    owner: str = Field(min_length=1)
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


class Segment(_Frozen):
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
        return _is_number(value)
    return True  # json: any JSON value


def _condition_issues(
    conditions: list[Condition], path: str, segments: Collection[str] | None, in_segment: bool
) -> list[Issue]:
    issues = []
    for i, cond in enumerate(conditions):
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


def check_flag(flag: Flag, segments: Collection[str] | None = None) -> list[Issue]:
    """Cross-field checks pydantic cannot do field by field: types, references, uniqueness."""
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
    return issues


def parse_flag(data: Mapping[str, Any] | Flag, *, segments: Collection[str] | None = None) -> Flag:
    """Validate a flag document; raise `ConfigError` naming every offending field.

    `segments` is the set of known segment keys; None skips the segment-reference check.
    """
    try:
        flag = data if isinstance(data, Flag) else Flag.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_pydantic_issues(exc)) from None
    issues = check_flag(flag, segments)
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
