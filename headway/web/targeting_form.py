"""The targeting forms: an environment's rules, default and off variant, and a segment, as the
fields of plain HTML forms, and back to the documents the flag service takes.

A field is named by its place in the document (`rules.0.conditions.1.value`,
`rules.0.serve.weights.on`, `default.split.bucket_by`), so a problem the service reports at
`environments.production.rules[0].conditions[1].value` is shown beside the field it names
(`headway.web.problems`), and a form posted again reads back exactly as it was typed. Buttons that add, move
or remove a rule or a condition post the form too and get it back changed (`edit`): it works
without JavaScript and keeps everything typed so far.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from headway.flags.model import (
    KEY_PATTERN,
    TARGETING_KEY,
    Condition,
    EnvironmentConfig,
    Issue,
    Segment,
    Serve,
)
from headway.web.condition_text import OPERATORS, text_of, value_of

__all__ = [
    "ConditionRow",
    "RuleRow",
    "SegmentForm",
    "ServeRow",
    "TargetingForm",
]

_PERCENT: Final = re.compile(r"(?:[0-9]{1,3}(?:\.[0-9]*)?|\.[0-9]+)")
_INDEX: Final = r"\.([0-9]{1,4})\."


@dataclass
class ConditionRow:
    attribute: str = ""
    operator: str = "in"
    value: str = ""

    def blank(self) -> bool:
        return not self.attribute.strip() and not self.value.strip()


@dataclass
class ServeRow:
    kind: str = "variant"  # or "split"
    variant: str = ""
    weights: dict[str, str] = field(default_factory=dict)  # variant → percent, as typed
    bucket_by: str = TARGETING_KEY

    @classmethod
    def of(cls, serve: Serve) -> ServeRow:
        if serve.split is None:
            return cls("variant", serve.variant or "")
        weights = {w.variant: f"{w.weight:g}" for w in serve.split.weights}
        return cls("split", "", weights, serve.split.bucket_by)

    @classmethod
    def read(cls, fields: Mapping[str, str], at: str) -> ServeRow:
        weights = f"{at}.weights."
        return cls(
            fields.get(f"{at}.kind", "variant"),
            fields.get(f"{at}.variant", ""),
            {k.removeprefix(weights): v for k, v in fields.items() if k.startswith(weights)},
            fields.get(f"{at}.split.bucket_by", TARGETING_KEY),
        )

    def fields(self, at: str) -> list[tuple[str, str]]:
        out = [(f"{at}.kind", self.kind), (f"{at}.variant", self.variant)]
        out += [(f"{at}.weights.{k}", v) for k, v in self.weights.items()]
        return [*out, (f"{at}.split.bucket_by", self.bucket_by)]

    def document(self, at: str, issues: list[Issue]) -> dict[str, Any]:
        if self.kind == "variant":
            if not self.variant:
                issues.append(Issue(path=f"{at}.variant", message="choose the variant to serve"))
            return {"variant": self.variant}
        if self.kind != "split":
            issues.append(Issue(path=at, message="choose to serve a variant or a split"))
            return {}
        weights = []
        for variant, typed in self.weights.items():
            text = typed.strip().removesuffix("%").strip()
            if not text:
                continue
            if not _PERCENT.fullmatch(text):
                message = f"write a percentage such as 12.5, not {typed!r}"
                issues.append(Issue(path=f"{at}.weights.{variant}", message=message))
                continue
            weights.append({"variant": variant, "weight": float(text)})
        if not weights and not any(i.path.startswith(f"{at}.weights.") for i in issues):
            message = "give one variant or more a percentage; together they make 100"
            issues.append(Issue(path=f"{at}.split", message=message))
        if not self.bucket_by.strip():
            message = f"name the attribute the split buckets by, such as {TARGETING_KEY}"
            issues.append(Issue(path=f"{at}.split.bucket_by", message=message))
        return {"split": {"weights": weights, "bucket_by": self.bucket_by.strip()}}


def _indices(fields: Mapping[str, str], prefix: str) -> list[int]:
    pattern = re.compile(re.escape(prefix) + _INDEX)
    return sorted({int(m.group(1)) for name in fields if (m := pattern.match(name))})


def _conditions(rows: Iterable[Condition]) -> list[ConditionRow]:
    return [ConditionRow(c.attribute, c.operator, text_of(c.operator, c.value)) for c in rows]


def _read_conditions(fields: Mapping[str, str], at: str) -> list[ConditionRow]:
    return [
        ConditionRow(
            fields.get(f"{at}.{i}.attribute", ""),
            fields.get(f"{at}.{i}.operator", ""),
            fields.get(f"{at}.{i}.value", ""),
        )
        for i in _indices(fields, at)
    ]


def _condition_fields(rows: list[ConditionRow], at: str) -> list[tuple[str, str]]:
    return [
        (f"{at}.{j}.{name}", getattr(row, name))
        for j, row in enumerate(rows)
        for name in ("attribute", "operator", "value")
    ]


def _conditions_document(
    rows: list[ConditionRow], at: str, issues: list[Issue]
) -> list[dict[str, Any]]:
    out = []
    for j, row in enumerate(rows):
        if row.operator not in OPERATORS:
            message = f"unknown operator {row.operator!r}; choose one of the list"
            issues.append(Issue(path=f"{at}.{j}.operator", message=message))
        if not row.attribute.strip():
            message = "name the context attribute, such as country (for flag_variant, a flag key)"
            issues.append(Issue(path=f"{at}.{j}.attribute", message=message))
        condition: dict[str, Any] = {"attribute": row.attribute.strip(), "operator": row.operator}
        value = value_of(row.operator, row.value)
        if value is not None:
            condition["value"] = value
        out.append(condition)
    return out


def _fresh_id(taken: set[str]) -> str:
    n = 1
    while f"rule-{n}" in taken:
        n += 1
    taken.add(f"rule-{n}")
    return f"rule-{n}"


@dataclass
class RuleRow:
    id: str
    description: str = ""
    conditions: list[ConditionRow] = field(default_factory=list)
    serve: ServeRow = field(default_factory=ServeRow)


@dataclass
class TargetingForm:
    """One environment's targeting as its form holds it, and the flag version it started from."""

    rules: list[RuleRow]
    default: ServeRow
    off_variant: str
    version: str

    @classmethod
    def of(cls, env: EnvironmentConfig, version: int) -> TargetingForm:
        rules = [
            RuleRow(r.id, r.description, _conditions(r.conditions), ServeRow.of(r.serve))
            for r in env.rules
        ]
        return cls(rules, ServeRow.of(env.default), env.off_variant, str(version))

    @classmethod
    def read(cls, fields: Mapping[str, str]) -> TargetingForm:
        rules = [
            RuleRow(
                fields.get(f"rules.{i}.id", ""),
                fields.get(f"rules.{i}.description", ""),
                _read_conditions(fields, f"rules.{i}.conditions"),
                ServeRow.read(fields, f"rules.{i}.serve"),
            )
            for i in _indices(fields, "rules")
        ]
        default = ServeRow.read(fields, "default")
        return cls(rules, default, fields.get("off_variant", ""), fields.get("version", ""))

    def fields(self) -> list[tuple[str, str]]:
        """The form's fields, as the edit page names them (the confirmation page's hidden
        fields, so that confirming posts exactly what was reviewed)."""
        out = [("version", self.version), ("off_variant", self.off_variant)]
        for i, rule in enumerate(self.rules):
            out += [(f"rules.{i}.id", rule.id), (f"rules.{i}.description", rule.description)]
            out += _condition_fields(rule.conditions, f"rules.{i}.conditions")
            out += rule.serve.fields(f"rules.{i}.serve")
        return out + self.default.fields("default")

    def compact(self) -> None:
        """Drop the condition rows left blank (added and not filled in)."""
        for rule in self.rules:
            rule.conditions = [c for c in rule.conditions if not c.blank()]

    def document(self) -> tuple[dict[str, Any], list[Issue]]:
        """The fields `update_environment` takes, and what is wrong before it is asked."""
        issues: list[Issue] = []
        taken = {r.id.strip() for r in self.rules if r.id.strip()}
        rules = [
            {
                "id": rule.id.strip() or _fresh_id(taken),
                "description": rule.description.strip(),
                "conditions": _conditions_document(
                    rule.conditions, f"rules.{i}.conditions", issues
                ),
                "serve": rule.serve.document(f"rules.{i}.serve", issues),
            }
            for i, rule in enumerate(self.rules)
        ]
        default = self.default.document("default", issues)
        return {"rules": rules, "default": default, "off_variant": self.off_variant}, issues

    def edit(self, op: str, variant: str) -> None:
        """Add, move or remove a rule or a condition (`add-rule`, `add-condition:0`,
        `remove-condition:0:1`, `remove-rule:0`, `up:1`, `down:0`); a new rule serves
        `variant`. Raises ValueError for an operation that names nothing on the form."""
        name, *places = op.split(":")
        if not all(p.isdigit() and len(p) <= 4 for p in places):
            raise ValueError(f"unknown operation {op!r}")
        at = [int(p) for p in places]
        if name == "add-rule" and not at:
            taken = {r.id for r in self.rules}
            self.rules.append(
                RuleRow(_fresh_id(taken), "", [ConditionRow()], ServeRow(variant=variant))
            )
            return
        if not at or at[0] >= len(self.rules):
            raise ValueError(f"operation {op!r} names no rule of the form")
        rule, i = self.rules[at[0]], at[0]
        if name == "add-condition" and len(at) == 1:
            rule.conditions.append(ConditionRow())
        elif name == "remove-condition" and len(at) == 2 and at[1] < len(rule.conditions):
            del rule.conditions[at[1]]
        elif name == "remove-rule" and len(at) == 1:
            del self.rules[i]
        elif name in ("up", "down") and len(at) == 1:
            j = i - 1 if name == "up" else i + 1
            if 0 <= j < len(self.rules):
                self.rules[i], self.rules[j] = self.rules[j], self.rules[i]
        else:
            raise ValueError(f"unknown operation {op!r}")

    def anchors(self, variants: Iterable[str]) -> set[str]:
        """Every place on the page a problem can be shown."""
        known = list(variants)
        out = {"rules", "off_variant", "version"}
        out |= _serve_anchors("default", self.default, known)
        for i, rule in enumerate(self.rules):
            out |= {f"rules.{i}", f"rules.{i}.description"}
            out |= _condition_anchors(f"rules.{i}.conditions", rule.conditions)
            out |= _serve_anchors(f"rules.{i}.serve", rule.serve, known)
        return out


def _serve_anchors(at: str, row: ServeRow, variants: list[str]) -> set[str]:
    weights = {f"{at}.weights.{v}" for v in [*variants, *row.weights]}
    return {at, f"{at}.variant", f"{at}.split", f"{at}.split.bucket_by", *weights}


def _condition_anchors(at: str, rows: list[ConditionRow]) -> set[str]:
    cells = {f"{at}.{j}.{n}" for j in range(len(rows)) for n in ("attribute", "operator", "value")}
    return {at, *cells}


def _keys(text: str) -> list[str]:
    return [k.strip() for k in re.split(r"[,\n]", text) if k.strip()]


@dataclass
class SegmentForm:
    key: str = ""
    description: str = ""
    included: str = ""  # keys, one a line or separated by commas
    excluded: str = ""
    conditions: list[ConditionRow] = field(default_factory=list)

    @classmethod
    def of(cls, segment: Segment) -> SegmentForm:
        included, excluded = "\n".join(segment.included), "\n".join(segment.excluded)
        conditions = _conditions(segment.conditions)
        return cls(segment.key, segment.description, included, excluded, conditions)

    @classmethod
    def read(cls, fields: Mapping[str, str]) -> SegmentForm:
        return cls(
            fields.get("key", ""),
            fields.get("description", ""),
            fields.get("included", ""),
            fields.get("excluded", ""),
            _read_conditions(fields, "conditions"),
        )

    def fields(self) -> list[tuple[str, str]]:
        out = [("key", self.key), ("description", self.description)]
        out += [("included", self.included), ("excluded", self.excluded)]
        return out + _condition_fields(self.conditions, "conditions")

    def compact(self) -> None:
        self.conditions = [c for c in self.conditions if not c.blank()]

    def document(self) -> tuple[dict[str, Any], list[Issue]]:
        issues: list[Issue] = []
        if not re.fullmatch(KEY_PATTERN, self.key.strip()):
            message = "write a key of letters, digits, '.', '_' or '-' (at most 128), such as beta-testers"
            issues.append(Issue(path="key", message=message))
        conditions = _conditions_document(self.conditions, "conditions", issues)
        return {
            "key": self.key.strip(),
            "description": self.description.strip(),
            "included": _keys(self.included),
            "excluded": _keys(self.excluded),
            "conditions": conditions,
        }, issues

    def edit(self, op: str) -> None:
        name, *places = op.split(":")
        if name == "add-condition" and not places:
            self.conditions.append(ConditionRow())
        elif (
            name == "remove-condition"
            and len(places) == 1
            and places[0].isdigit()
            and int(places[0]) < len(self.conditions)
        ):
            del self.conditions[int(places[0])]
        else:
            raise ValueError(f"unknown operation {op!r}")

    def anchors(self) -> set[str]:
        return {"key", "description", "included", "excluded"} | _condition_anchors(
            "conditions", self.conditions
        )
