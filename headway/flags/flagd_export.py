"""Headway flags as a flagd flag-definition document (the reverse of `flagd.from_flagd`)."""

from __future__ import annotations

from typing import Any

from headway.flags.flagd import HEADWAY_META, SCHEMA, SEMVER, STRING_OPS, Refused
from headway.flags.model import TARGETING_KEY, Condition, ConfigError, Flag, Issue, Serve

__all__ = ["to_flagd"]

_BACK = {"lt": "<", "lte": "<=", "gt": ">", "gte": ">="}
_SEMVER_BACK = {v: k for k, v in SEMVER.items()}


def _condition_to_logic(cond: Condition, path: str) -> dict[str, Any]:
    var = {"var": cond.attribute}
    op, value = cond.operator, cond.value
    if op == "eq":
        return {"===": [var, value]}
    if op == "neq":
        return {"!==": [var, value]}
    if op == "in":
        return {"in": [var, value]}
    if op == "not_in":
        return {"!": {"in": [var, value]}}
    if op in ("contains", "not_contains") and isinstance(value, str):
        logic: dict[str, Any] = {"in": [value, var]}
        return logic if op == "contains" else {"!": logic}
    if op in STRING_OPS and isinstance(value, str):  # flagd's take one string, not any of a list
        return {op: [var, value]}
    if op in _BACK:
        return {_BACK[op]: [var, value]}
    if op in _SEMVER_BACK:
        return {"sem_ver": [var, _SEMVER_BACK[op], value]}
    raise Refused(f"{path}.operator", f"'{op}' has no flagd equivalent")


def _serve_to_logic(serve: Serve, path: str) -> Any:
    if serve.variant is not None:
        return serve.variant
    assert serve.split is not None
    split = serve.split
    shares = [[w.variant, w.weight] for w in split.weights]
    if split.bucket_by == TARGETING_KEY:
        return {"fractional": shares}
    return {"fractional": [{"var": split.bucket_by}, *shares]}


def _flag_to_flagd(flag: Flag, environment: str) -> tuple[dict[str, Any], list[Issue]]:
    path = f"flags.{flag.key}.environments.{environment}"
    env = flag.environments.get(environment)
    if env is None:
        raise Refused(path, "the flag has no configuration here")
    branches: list[Any] = []
    for r, rule in enumerate(env.rules):
        at = f"{path}.rules[{r}]"
        logic = [
            _condition_to_logic(c, f"{at}.conditions[{i}]") for i, c in enumerate(rule.conditions)
        ]
        test: Any = True if not logic else logic[0] if len(logic) == 1 else {"and": logic}
        branches += [test, _serve_to_logic(rule.serve, f"{at}.serve")]
    default = env.default.variant or env.off_variant
    fallback = _serve_to_logic(env.default, f"{path}.default")
    if env.default.variant is None:
        branches.append(fallback)
    out: dict[str, Any] = {
        "state": "ENABLED" if env.enabled else "DISABLED",
        "variants": {v.key: v.value for v in flag.variants},
        "defaultVariant": default,
    }
    if branches:
        out["targeting"] = branches[0] if not env.rules else {"if": branches}
    meta: dict[str, Any] = {
        f"{HEADWAY_META}Owner": flag.owner,
        f"{HEADWAY_META}OffVariant": env.off_variant,
        f"{HEADWAY_META}ClientSide": flag.client_side,
        f"{HEADWAY_META}Lifecycle": flag.lifecycle.kind,
    }
    if flag.description:
        meta[f"{HEADWAY_META}Description"] = flag.description
    if flag.service:
        meta[f"{HEADWAY_META}Service"] = flag.service
    if flag.lifecycle.expected_removal:
        meta[f"{HEADWAY_META}ExpectedRemoval"] = flag.lifecycle.expected_removal.isoformat()
    out["metadata"] = meta
    warnings = []
    if any(r.serve.split for r in env.rules) or env.default.split:
        warnings.append(
            Issue(
                path=path,
                message="splits keep their shares, but flagd buckets with murmur3 where "
                "Headway uses xxh3: users will get different variants than under Headway",
            )
        )
    if not env.enabled:
        warnings.append(
            Issue(
                path=f"{path}.enabled",
                message="flagd treats a DISABLED flag as missing: callers get their code "
                f"default, not the off variant {env.off_variant!r}",
            )
        )
    return out, warnings


def to_flagd(flags: list[Flag], environment: str) -> tuple[dict[str, Any], list[Issue]]:
    """The flagd document of `environment`'s flags, and warnings; ConfigError if unmappable."""
    out: dict[str, Any] = {}
    warnings: list[Issue] = []
    issues: list[Issue] = []
    for flag in sorted(flags, key=lambda f: f.key):
        try:
            out[flag.key], found = _flag_to_flagd(flag, environment)
        except Refused as refused:
            issues.append(refused.issue)
            continue
        warnings += found
    if issues:
        raise ConfigError(issues)
    return {"$schema": SCHEMA, "flags": out}, warnings
