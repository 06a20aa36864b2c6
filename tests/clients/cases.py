"""The conformance cases every OpenFeature client runs against Headway, with their answers.

Each case names a flag, the typed getter to call, the caller's default, the evaluation context
and what every client must report: value, variant, reason and error code. They are serialised
to JSON for the Node and browser runners (clients/node, clients/web), so one list drives all.
"""

from __future__ import annotations

from typing import Any

PERMANENT = {"kind": "permission"}


def _flag(
    key: str,
    kind: str,
    variants: dict[str, Any],
    serve: str,
    *,
    enabled: bool = True,
    client_side: bool = True,
    **env: Any,
) -> dict[str, Any]:
    return {
        "key": key,
        "type": kind,
        "owner": "conformance",
        "lifecycle": PERMANENT,
        "client_side": client_side,
        "variants": [{"key": k, "value": v} for k, v in variants.items()],
        "environments": {
            "production": {
                "enabled": enabled,
                "off_variant": list(variants)[-1],
                "default": {"variant": serve},
                **env,
            }
        },
    }


ON_OFF = {"on": True, "off": False}

FLAGS: list[dict[str, Any]] = [
    _flag("bool-flag", "boolean", ON_OFF, "on"),
    _flag("string-flag", "string", {"blue": "blue", "grey": "grey"}, "blue"),
    _flag("number-flag", "number", {"half": 2.5, "none": 0}, "half"),
    _flag("object-flag", "json", {"dark": {"theme": "dark", "limit": 5}, "plain": {}}, "dark"),
    _flag(
        "pro-only",
        "boolean",
        ON_OFF,
        "off",
        rules=[
            {
                "id": "pro",
                "conditions": [{"attribute": "plan", "operator": "eq", "value": "pro"}],
                "serve": {"variant": "on"},
            }
        ],
    ),
    _flag(
        "checkout-split",
        "string",
        {"blue": "blue", "green": "green"},
        "blue",
        default={
            "split": {
                "weights": [{"variant": "blue", "weight": 30}, {"variant": "green", "weight": 70}]
            }
        },
    ),
    _flag(
        "org-split",
        "boolean",
        ON_OFF,
        "on",
        default={
            "split": {
                "weights": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}],
                "bucket_by": "org.id",
            }
        },
    ),
    _flag("disabled-flag", "boolean", ON_OFF, "on", enabled=False),
    _flag("server-only", "boolean", ON_OFF, "on", client_side=False),
]


def _ok(value: Any, variant: str, reason: str) -> dict[str, Any]:
    return {"value": value, "variant": variant, "reason": reason, "errorCode": None}


def _error(default: Any, code: str) -> dict[str, Any]:
    return {"value": default, "variant": None, "reason": "ERROR", "errorCode": code}


# `checkout-split` serves blue to buckets 0-29,999 and green to 30,000-99,999 (weights in the
# order listed). A bucket is xxh3_64(targetingKey, seed=xxh64("checkout-split")) mod 100,000
# (docs/flags.md, "Splits and sticky bucketing"), worked out once with the xxhash package:
#   user-1 -> 76,176 -> green        user-2 -> 15,184 -> blue
CASES: list[dict[str, Any]] = [
    {
        "name": "boolean",
        "flag": "bool-flag",
        "type": "boolean",
        "default": False,
        "context": {"targetingKey": "user-1"},
        "expect": _ok(True, "on", "STATIC"),
    },
    {
        "name": "string",
        "flag": "string-flag",
        "type": "string",
        "default": "none",
        "context": {"targetingKey": "user-1"},
        "expect": _ok("blue", "blue", "STATIC"),
    },
    {
        "name": "number",
        "flag": "number-flag",
        "type": "number",
        "default": 1.5,
        "context": {"targetingKey": "user-1"},
        "expect": _ok(2.5, "half", "STATIC"),
    },
    {
        "name": "object",
        "flag": "object-flag",
        "type": "object",
        "default": {},
        "context": {"targetingKey": "user-1"},
        "expect": _ok({"theme": "dark", "limit": 5}, "dark", "STATIC"),
    },
    {
        "name": "targeting match",
        "flag": "pro-only",
        "type": "boolean",
        "default": False,
        "context": {"targetingKey": "user-1", "plan": "pro"},
        "expect": _ok(True, "on", "TARGETING_MATCH"),
    },
    {
        "name": "targeting no match",
        "flag": "pro-only",
        "type": "boolean",
        "default": True,
        "context": {"targetingKey": "user-1", "plan": "free"},
        "expect": _ok(False, "off", "DEFAULT"),
    },
    {
        "name": "split, bucket 76176",
        "flag": "checkout-split",
        "type": "string",
        "default": "none",
        "context": {"targetingKey": "user-1"},
        "expect": _ok("green", "green", "SPLIT"),
    },
    {
        "name": "split, bucket 15184",
        "flag": "checkout-split",
        "type": "string",
        "default": "none",
        "context": {"targetingKey": "user-2"},
        "expect": _ok("blue", "blue", "SPLIT"),
    },
    {
        "name": "disabled",
        "flag": "disabled-flag",
        "type": "boolean",
        "default": True,
        "context": {"targetingKey": "user-1"},
        "expect": _ok(False, "off", "DISABLED"),
    },
    {
        "name": "missing flag",
        "flag": "no-such-flag",
        "type": "boolean",
        "default": True,
        "context": {"targetingKey": "user-1"},
        "expect": _error(True, "FLAG_NOT_FOUND"),
    },
    {
        "name": "type mismatch",
        "flag": "string-flag",
        "type": "boolean",
        "default": True,
        "context": {"targetingKey": "user-1"},
        "expect": _error(True, "TYPE_MISMATCH"),
    },
    {
        "name": "invalid context: nothing to bucket by",
        "flag": "org-split",
        "type": "boolean",
        "default": True,
        "context": {"targetingKey": "user-1"},
        "expect": _error(True, "INVALID_CONTEXT"),
    },
    {
        "name": "targeting key missing",
        "flag": "checkout-split",
        "type": "string",
        "default": "none",
        "context": {},
        "expect": _error("none", "TARGETING_KEY_MISSING"),
    },
    {
        "name": "server-only flag",
        "flag": "server-only",
        "type": "boolean",
        "default": False,
        "context": {"targetingKey": "user-1"},
        "expect": _error(False, "FLAG_NOT_FOUND"),  # under a client key
        "expect_server_key": _ok(True, "on", "STATIC"),
    },
]


def expected(case: dict[str, Any], key_kind: str) -> dict[str, Any]:
    if key_kind == "server" and "expect_server_key" in case:
        return case["expect_server_key"]  # type: ignore[no-any-return]
    return case["expect"]  # type: ignore[no-any-return]
