"""flagd's flag-definition format (OpenFeature's JSON schema), to and from Headway flags.

`from_flagd` turns a flagd document into Headway flag documents for one environment, and
`flagd_export.to_flagd` does the reverse. What both can express maps without loss: variants, the default
variant, ENABLED/DISABLED, an `if` chain of conditions (`==`/`===`, `!=`/`!==`, `in`,
`starts_with`, `ends_with`, `<` `<=` `>` `>=`, `sem_ver`, `and`, `or`, `!` of `in`, `$ref` to
`$evaluators`) serving variants or `fractional` splits. What cannot is refused as a whole, each
problem an `Issue` naming its JSON path. Mappings that keep the document but change who gets
which variant come back as warnings for the caller to show before applying anything:
`fractional` hashes with murmur3 where Headway uses xxh3, and a DISABLED flag is absent in
flagd but serves its off variant in Headway.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from headway.flags.model import (
    BUCKETS,
    KEY_PATTERN,
    TARGETING_KEY,
    ConfigError,
    Issue,
)
from headway.flags.semver import parse_semver

__all__ = ["SCHEMA", "FlagdImport", "from_flagd"]

SCHEMA = "https://flagd.dev/schema/v0/flags.json"
_KEY = re.compile(KEY_PATTERN)
COMPARE = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
_FLIPPED = {"lt": "gt", "lte": "gte", "gt": "lt", "gte": "lte"}
SEMVER = {"=": "semver_eq", ">": "semver_gt", ">=": "semver_gte", "<": "semver_lt"}
SEMVER["<="] = "semver_lte"
STRING_OPS = {"starts_with": "starts_with", "ends_with": "ends_with"}
HEADWAY_META = "headway"  # prefix of the metadata keys that carry what flagd has no field for


@dataclass
class FlagdImport:
    """Headway flag documents, and what the caller must be told before applying them."""

    flags: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


class Refused(Exception):
    def __init__(self, path: str, message: str) -> None:
        self.issue = Issue(path=path, message=message)


# --- flagd -> Headway ------------------------------------------------------------------------


def _type_of(variants: Mapping[str, Any], path: str) -> str:
    values = list(variants.values())
    if all(isinstance(v, bool) for v in values):
        return "boolean"
    if all(isinstance(v, str) for v in values):
        return "string"
    if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "number"
    if all(isinstance(v, dict) for v in values):
        return "json"
    raise Refused(path, "variants mix types; flagd and Headway both need one type per flag")


class _Reader:
    def __init__(self, key: str, evaluators: Mapping[str, Any], variants: Mapping[str, Any]):
        self.key = key
        self.evaluators = evaluators
        self.variants = variants
        self.splits = False

    def resolve(self, node: Any, path: str, seen: tuple[str, ...] = ()) -> tuple[Any, str]:
        if isinstance(node, dict) and set(node) == {"$ref"}:
            name = node["$ref"]
            if not isinstance(name, str) or name not in self.evaluators:
                raise Refused(f"{path}.$ref", f"no evaluator {name!r} in $evaluators")
            if name in seen:
                raise Refused(f"{path}.$ref", f"evaluator {name!r} refers to itself")
            return self.resolve(self.evaluators[name], f"$evaluators.{name}", (*seen, name))
        return node, path

    def attribute(self, node: Any, path: str) -> str | None:
        """The context attribute a `{"var": …}` names, or None if `node` is not one."""
        if not (isinstance(node, dict) and set(node) == {"var"}):
            return None
        name = node["var"]
        if isinstance(name, list):
            if len(name) != 1:
                raise Refused(
                    f"{path}.var", "a var with a fallback value has no Headway equivalent"
                )
            name = name[0]
        if not isinstance(name, str) or not name or name.startswith("$flagd"):
            raise Refused(f"{path}.var", f"{name!r} is not a context attribute Headway reads")
        return name

    def conditions(self, node: Any, path: str) -> list[list[dict[str, Any]]]:
        """Alternatives (OR) of condition lists (AND) equivalent to the JsonLogic `node`."""
        node, path = self.resolve(node, path)
        if node is True:  # a rule for everyone
            return [[]]
        if not isinstance(node, dict) or len(node) != 1:
            raise Refused(path, 'expected one JsonLogic operation such as {"==": [...]}')
        ((op, args),) = node.items()
        args = args if isinstance(args, list) else [args]
        at = f"{path}.{op}"
        if op == "and":
            combined: list[list[dict[str, Any]]] = [[]]
            for i, part in enumerate(args):
                alternatives = self.conditions(part, f"{at}[{i}]")
                combined = [a + b for a in combined for b in alternatives]
            return combined
        if op == "or":
            return [
                alt for i, part in enumerate(args) for alt in self.conditions(part, f"{at}[{i}]")
            ]
        if op == "!" and len(args) == 1:
            inner, inner_path = self.resolve(args[0], f"{at}[0]")
            if isinstance(inner, dict) and set(inner) == {"in"}:
                (cond,) = self._comparison("in", inner["in"], f"{inner_path}.in")
                cond["operator"] = {"in": "not_in", "contains": "not_contains"}[cond["operator"]]
                return [[cond]]
            raise Refused(at, "'!' maps only onto 'in'; JsonLogic truthiness has no equivalent")
        return [self._comparison(op, args, at)]

    def _comparison(self, op: str, args: list[Any], at: str) -> list[dict[str, Any]]:
        names = [self.attribute(a, f"{at}[{i}]") for i, a in enumerate(args)]
        if op in ("==", "===", "!=", "!==", *STRING_OPS, *COMPARE) and len(args) == 2:
            left, right = names
            if (left is None) == (right is None):
                raise Refused(at, "compare one context attribute with one literal value")
            attribute, value = (left, args[1]) if left is not None else (right, args[0])
            if isinstance(value, dict | list) and op not in ("==", "==="):
                raise Refused(at, "the value must be a literal")
            if op in ("==", "==="):
                operator = "eq"
            elif op in ("!=", "!=="):
                operator = "neq"
            elif op in STRING_OPS:
                if left is None:
                    raise Refused(at, f"'{op}' takes the attribute first")
                operator = STRING_OPS[op]
            else:
                operator = COMPARE[op] if left is not None else _FLIPPED[COMPARE[op]]
            return [{"attribute": attribute, "operator": operator, "value": value}]
        if op == "in" and len(args) == 2:
            left, right = names
            if left is not None and isinstance(args[1], list) and right is None:
                return [{"attribute": left, "operator": "in", "value": args[1]}]
            if right is not None and isinstance(args[0], str) and left is None:
                return [{"attribute": right, "operator": "contains", "value": args[0]}]
            raise Refused(at, "'in' needs an attribute and a list, or a string and an attribute")
        if op == "sem_ver" and len(args) == 3 and names[0] is not None:
            version = args[2]
            if args[1] not in SEMVER or not isinstance(version, str) or not parse_semver(version):
                raise Refused(at, f"sem_ver {args[1]!r} {version!r} has no Headway equivalent")
            return [{"attribute": names[0], "operator": SEMVER[args[1]], "value": version}]
        raise Refused(at, f"the operation '{op}' with these arguments has no Headway equivalent")

    def serve(self, node: Any, path: str, default: str) -> dict[str, Any]:
        node, path = self.resolve(node, path)
        if node is None:  # flagd serves the default variant for a null result
            return {"variant": default}
        if isinstance(node, str):
            if node not in self.variants:
                raise Refused(path, f"unknown variant {node!r}")
            return {"variant": node}
        if isinstance(node, dict) and len(node) == 1:
            ((op, args),) = node.items()
            if op in ("fractional", "fractionalEvaluation") and isinstance(args, list):
                return self._fractional(args, f"{path}.{op}")
        raise Refused(path, "a result must be a variant name, null or a fractional split")

    def _fractional(self, args: list[Any], at: str) -> dict[str, Any]:
        bucket_by = TARGETING_KEY
        if args and not isinstance(args[0], list):
            named = self.attribute(args[0], f"{at}[0]")
            if named is None and isinstance(args[0], str):
                named = args[0]  # fractionalEvaluation names the attribute as a string
            if named is None:
                raise Refused(f"{at}[0]", 'bucket by a context attribute ({"var": ...})')
            bucket_by, args = named, args[1:]
        weights: list[tuple[str, float]] = []
        for i, pair in enumerate(args):
            ok = isinstance(pair, list) and len(pair) in (1, 2) and isinstance(pair[0], str)
            weight = pair[1] if ok and len(pair) == 2 else 1
            if not ok or not isinstance(weight, int | float) or weight < 0:
                raise Refused(f"{at}[{i}]", "write each share as [variant, weight]")
            if pair[0] not in self.variants:
                raise Refused(f"{at}[{i}][0]", f"unknown variant {pair[0]!r}")
            weights.append((pair[0], float(weight)))
        total = sum(w for _, w in weights)
        if not weights or total <= 0:
            raise Refused(at, "a fractional split needs at least one positive weight")
        buckets = [round(w * BUCKETS / total) for _, w in weights]
        buckets[-1] += BUCKETS - sum(buckets)  # rounding leftovers go to the last share
        self.splits = True
        return {
            "split": {
                "weights": [
                    {"variant": v, "weight": b / 1000}
                    for (v, _), b in zip(weights, buckets, strict=True)
                ],
                "bucket_by": bucket_by,
            }
        }


def _metadata(flag: Mapping[str, Any]) -> dict[str, Any]:
    meta = flag.get("metadata")
    return dict(meta) if isinstance(meta, Mapping) else {}


def _flag_from_flagd(
    key: str, flag: Any, evaluators: Mapping[str, Any], environment: str
) -> tuple[dict[str, Any], list[Issue]]:
    path = f"flags.{key}"
    if not _KEY.match(key):
        raise Refused(path, "a Headway flag key is letters, digits, '.', '_' or '-' (128 at most)")
    if not isinstance(flag, Mapping):
        raise Refused(path, "a flag is an object")
    state = flag.get("state")
    if state not in ("ENABLED", "DISABLED"):
        raise Refused(f"{path}.state", "must be ENABLED or DISABLED")
    variants = flag.get("variants")
    if not isinstance(variants, Mapping) or not variants:
        raise Refused(f"{path}.variants", "a flag needs at least one variant")
    for name in variants:
        if not _KEY.match(name):
            raise Refused(
                f"{path}.variants.{name}", "a variant name is letters, digits, '.', '_' or '-'"
            )
    kind = _type_of(variants, f"{path}.variants")
    default = flag.get("defaultVariant")
    if not isinstance(default, str) or default not in variants:
        raise Refused(f"{path}.defaultVariant", f"unknown variant {default!r}")
    reader = _Reader(key, evaluators, variants)
    rules: list[dict[str, Any]] = []
    fallback: dict[str, Any] = {"variant": default}
    targeting = flag.get("targeting")
    if targeting not in (None, {}):
        node, at = reader.resolve(targeting, f"{path}.targeting")
        if isinstance(node, dict) and set(node) == {"if"} and isinstance(node["if"], list):
            branches = node["if"]
            pairs, rest = branches[: len(branches) // 2 * 2], branches[len(branches) // 2 * 2 :]
            for i in range(0, len(pairs), 2):
                serve = reader.serve(pairs[i + 1], f"{at}.if[{i + 1}]", default)
                for alternative in reader.conditions(pairs[i], f"{at}.if[{i}]"):
                    rules.append(
                        {"id": f"r{len(rules)}", "conditions": alternative, "serve": serve}
                    )
            if rest:
                fallback = reader.serve(rest[0], f"{at}.if[{len(pairs)}]", default)
        else:
            fallback = reader.serve(node, at, default)
    meta = _metadata(flag)
    off = meta.get(f"{HEADWAY_META}OffVariant", default)
    if off not in variants:
        off = default
    document: dict[str, Any] = {
        "key": key,
        "type": kind,
        "owner": str(meta.get(f"{HEADWAY_META}Owner") or "flagd-import"),
        "service": str(meta.get(f"{HEADWAY_META}Service") or ""),
        "description": str(meta.get(f"{HEADWAY_META}Description") or ""),
        "client_side": meta.get(f"{HEADWAY_META}ClientSide") is True,
        "variants": [{"key": k, "value": v} for k, v in variants.items()],
        "environments": {
            environment: {
                "enabled": state == "ENABLED",
                "off_variant": off,
                "rules": rules,
                "default": fallback,
            }
        },
    }
    lifecycle = meta.get(f"{HEADWAY_META}Lifecycle")
    if isinstance(lifecycle, str):
        document["lifecycle"] = {"kind": lifecycle}
        removal = meta.get(f"{HEADWAY_META}ExpectedRemoval")
        if isinstance(removal, str):
            document["lifecycle"]["expected_removal"] = removal
    warnings = []
    if reader.splits:
        warnings.append(
            Issue(
                path=f"{path}.targeting",
                message="fractional splits keep their shares, but Headway buckets with xxh3 "
                "where flagd uses murmur3: users will get different variants than under flagd",
            )
        )
    if state == "DISABLED" and f"{HEADWAY_META}OffVariant" not in meta:
        warnings.append(
            Issue(
                path=f"{path}.state",
                message=f"flagd treats a DISABLED flag as missing (callers get their code "
                f"default); Headway serves its off variant {off!r} with reason DISABLED",
            )
        )
    return document, warnings


def from_flagd(document: Any, environment: str) -> FlagdImport:
    """Headway flag documents for `environment`; ConfigError naming every unmappable path."""
    if not isinstance(document, Mapping) or not isinstance(document.get("flags"), Mapping):
        raise ConfigError([Issue(path="flags", message="a flagd document has a 'flags' object")])
    evaluators = document.get("$evaluators") or {}
    if not isinstance(evaluators, Mapping):
        raise ConfigError([Issue(path="$evaluators", message="must be an object")])
    result = FlagdImport()
    issues: list[Issue] = []
    for key, flag in document["flags"].items():
        try:
            doc, warnings = _flag_from_flagd(str(key), flag, evaluators, environment)
        except Refused as refused:
            issues.append(refused.issue)
            continue
        result.flags.append(doc)
        result.warnings += warnings
    if issues:
        raise ConfigError(issues)
    return result
