"""Targeting: conditions, splits, what to serve, rules and one environment's configuration.

Frozen pydantic models validated field by field; `headway.flags.model` checks what crosses
fields (variants a rule serves, segments a condition names) and parses whole flags.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from headway.flags.bucketing import BUCKETS, contiguous_allocation, owned_buckets
from headway.flags.operands import network_problem, strings
from headway.flags.patterns import PatternError, compile_pattern
from headway.flags.semver import parse_semver

__all__ = [
    "DATE_OPERATORS",
    "FOLDED_LIST_OPERATORS",
    "IP_OPERATORS",
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
    "EnvironmentConfig",
    "Frozen",
    "Operator",
    "Rule",
    "Serve",
    "Split",
    "WeightedVariant",
    "is_number",
    "parse_instant",
]

TARGETING_KEY = "targetingKey"  # OpenFeature's name for the evaluation subject

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
    "eq_ci",
    "in_ci",
    "not_in_ci",
    "contains_ci",
    "not_contains_ci",
    "starts_with_ci",
    "ends_with_ci",
    "ip_in",
    "ip_not_in",
    "flag_variant",
]
NUMERIC_OPERATORS = frozenset({"gt", "gte", "lt", "lte"})
DATE_OPERATORS = frozenset({"before", "after"})
SEMVER_OPERATORS = frozenset({"semver_eq", "semver_gt", "semver_gte", "semver_lt", "semver_lte"})
# A string, or a non-empty list of strings meaning any of them (none of them, for a `not_`).
STRING_OPERATORS = frozenset(
    {"starts_with", "ends_with", "starts_with_ci", "ends_with_ci", "contains_ci", "not_contains_ci"}
)
LIST_OPERATORS = frozenset({"in", "not_in"})
FOLDED_LIST_OPERATORS = frozenset({"in_ci", "not_in_ci"})
SEGMENT_OPERATORS = frozenset({"in_segment", "not_in_segment"})
PRESENCE_OPERATORS = frozenset({"exists", "not_exists"})
IP_OPERATORS = frozenset({"ip_in", "ip_not_in"})
PREREQUISITE_OPERATORS = frozenset({"flag_variant"})
# True when the attribute is missing or null, as in Unleash and flagd: nothing is not in a list.
NEGATIVE_OPERATORS = frozenset(
    {"neq", "not_in", "not_contains", "not_in_ci", "not_contains_ci", "ip_not_in"}
)


class Frozen(BaseModel):
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


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class Condition(Frozen):
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
        elif op in SEGMENT_OPERATORS or op in PREREQUISITE_OPERATORS:
            keys = [value] if isinstance(value, str) else value
            what = "segment key" if op in SEGMENT_OPERATORS else "variant key of the other flag"
            if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
                raise ValueError(f"'{op}' needs a {what} or a list of them")
            return keys
        elif op in FOLDED_LIST_OPERATORS or op == "eq_ci":
            kind = "a string" if op == "eq_ci" else "a non-empty list of strings"
            if (op == "eq_ci") != isinstance(value, str) or strings(value) is None:
                raise ValueError(f"'{op}' compares text without case and needs {kind}")
        elif op in IP_OPERATORS:
            if strings(value) is None:
                raise ValueError(f"'{op}' needs a CIDR network such as 10.0.0.0/8, or a list")
            problems = [p for text in strings(value) or () if (p := network_problem(text))]
            if problems:
                raise ValueError("; ".join(problems))
        elif op in NUMERIC_OPERATORS:
            if not is_number(value):
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
            if strings(value) is None:
                raise ValueError(f"'{op}' needs a string or a non-empty list of strings")
        elif op in ("contains", "not_contains"):
            if value == [] or isinstance(value, dict):
                raise ValueError(f"'{op}' needs a scalar or a non-empty list of them (any of)")
            if isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
                raise ValueError(f"'{op}' compares scalars; the list holds an object or a list")
        elif isinstance(value, dict):  # eq, neq
            raise ValueError(f"'{op}' compares scalars or lists, not objects")
        return value


class WeightedVariant(Frozen):
    variant: str
    weight: float = Field(ge=0, le=100, description="percent of traffic, steps of 0.001")

    @property
    def buckets(self) -> int:
        return round(self.weight * BUCKETS / 100)


class Split(Frozen):
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


class Serve(Frozen):
    """What to serve: exactly one of a variant or a split."""

    variant: str | None = None
    split: Split | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Serve:
        if (self.variant is None) == (self.split is None):
            raise ValueError("give exactly one of 'variant' or 'split'")
        return self


class Rule(Frozen):
    """All conditions must hold (AND); list several rules for OR. First matching rule wins."""

    id: str = Field(default="", max_length=64)
    description: str = ""
    conditions: list[Condition] = Field(default_factory=list)
    serve: Serve


class EnvironmentConfig(Frozen):
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
