"""Every answer Headway's OFREP routes give, from a running server, validated against the JSON
schemas of the OFREP OpenAPI document.

The schemas below are transcribed from open-feature/protocol `service/openapi.yaml` at commit
05d5b22c33bd51c6ec7820338598d5b734a3f04a (`info.version` 0.1.0, OpenAPI 3.1, so JSON Schema
2020-12), leaving out descriptions and examples. Three notes on the transcription:

- `evaluationSuccess` picks the value's type with `oneOf` of integerFlag (`integer`) and
  floatFlag (`number`), and every integer is also a number in JSON Schema, so no
  integer-valued number could pass that `oneOf`. The branch is checked here with `anyOf`, and
  the tests say which numbers Headway writes (a number flag's value is always a float).
- `reason` is `type: string` there, with STATIC, TARGETING_MATCH, SPLIT, DISABLED, UNKNOWN as
  examples and "An OpenFeature reason" as its description; it is held here to the OpenFeature
  specification's list of reasons, which the providers parse (`Reason[…]` in the PyPI one).
- The document gives 401, 403 (and 413, 405, which it does not list) no body. Headway answers
  them with the failure shape of the route (`evaluationFailure` on the one-flag route,
  `bulkEvaluationFailure` on the bulk one) with `errorCode` GENERAL, which is how the providers
  report them, and the test holds them to that.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from .conftest import Live

OPENFEATURE_REASONS = [
    "STATIC",
    "DEFAULT",
    "TARGETING_MATCH",
    "SPLIT",
    "CACHED",
    "DISABLED",
    "UNKNOWN",
    "STALE",
    "ERROR",
]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _typed(kind: str) -> dict[str, Any]:
    return {"properties": {"value": {"type": kind}}, "required": ["value"]}


SCHEMAS: dict[str, Any] = {
    "bulkEvaluationSuccess": {
        "type": "object",
        "required": ["flags"],
        "properties": {
            "flags": {
                "type": "array",
                "items": {"oneOf": [_ref("evaluationSuccess"), _ref("evaluationFailure")]},
            }
        },
    },
    "bulkEvaluationFailure": {
        "properties": {"errorCode": {"type": "string"}, "errorDetails": {"type": "string"}},
        "required": ["errorCode"],
    },
    "serverEvaluationSuccess": {
        "allOf": [
            _ref("evaluationSuccess"),
            {"properties": {"cacheable": {"type": "boolean"}}},
        ]
    },
    "evaluationSuccess": {
        "allOf": [
            {
                "properties": {
                    "key": _ref("key"),
                    "reason": {"type": "string", "enum": OPENFEATURE_REASONS},
                    "variant": {"type": "string"},
                    "metadata": {
                        "type": "object",
                        "additionalProperties": {
                            "oneOf": [
                                {"type": "boolean"},
                                {"type": "string"},
                                {"type": "number"},
                            ]
                        },
                    },
                }
            },
            {  # `oneOf` in the document: see the module's docstring
                "anyOf": [
                    _ref("booleanFlag"),
                    _ref("stringFlag"),
                    _ref("integerFlag"),
                    _ref("floatFlag"),
                    _ref("objectFlag"),
                ]
            },
        ]
    },
    "evaluationFailure": {
        "properties": {
            "key": _ref("key"),
            "errorCode": {
                "type": "string",
                "enum": ["PARSE_ERROR", "TARGETING_KEY_MISSING", "INVALID_CONTEXT", "GENERAL"],
            },
            "errorDetails": _ref("errorDetails"),
        },
        "required": ["key", "errorCode"],
    },
    "flagNotFound": {
        "properties": {
            "key": _ref("key"),
            "errorCode": {"type": "string", "enum": ["FLAG_NOT_FOUND"]},
            "errorDetails": _ref("errorDetails"),
        },
        "required": ["key", "errorCode"],
    },
    "generalErrorResponse": {"properties": {"errorDetails": _ref("errorDetails")}},
    "key": {"type": "string"},
    "booleanFlag": _typed("boolean"),
    "stringFlag": _typed("string"),
    "integerFlag": _typed("integer"),
    "floatFlag": _typed("number"),
    "objectFlag": _typed("object"),
    "errorDetails": {"type": "string"},
}

ONE = "/ofrep/v1/evaluate/flags/{key}"
BULK = "/ofrep/v1/evaluate/flags"
# The schema of each answer, by route and status, as the document's `responses` give them.
RESPONSES = {
    (ONE, 200): "serverEvaluationSuccess",
    (ONE, 400): "evaluationFailure",
    (ONE, 404): "flagNotFound",
    (ONE, 500): "generalErrorResponse",
    (BULK, 200): "bulkEvaluationSuccess",
    (BULK, 400): "bulkEvaluationFailure",
    (BULK, 500): "generalErrorResponse",
}
UNLISTED = {ONE: "evaluationFailure", BULK: "bulkEvaluationFailure"}


def check(route: str, answer: httpx.Response) -> dict[str, Any]:
    """`answer` against its schema (failing on any deviation); its body, parsed."""
    if answer.status_code == 304:
        assert answer.content == b""
        return {}
    assert answer.headers["content-type"].startswith("application/json"), answer.text
    # The standard library keeps `100` an int and `100.0` a float, as the providers read them.
    body = json.loads(answer.content)
    name = RESPONSES.get((route, answer.status_code), UNLISTED[route])
    validator = Draft202012Validator({"components": {"schemas": SCHEMAS}, **_ref(name)})
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert errors == [], (route, answer.status_code, body)
    if answer.status_code >= 400 and answer.status_code != 500:
        # Every refusal names its code and says why, whatever the document leaves optional.
        assert set(body) >= {"errorCode", "errorDetails"}, body
        assert body["errorDetails"], body
    return body  # type: ignore[no-any-return]


def _flag(key: str, kind: str, variants: dict[str, Any], **production: Any) -> dict[str, Any]:
    first, last = next(iter(variants)), list(variants)[-1]
    return {
        "key": key,
        "type": kind,
        "owner": "team-web",
        "lifecycle": {"kind": "permanent"},
        "variants": [{"key": k, "value": v} for k, v in variants.items()],
        "client_side": production.pop("client_side", True),
        "environments": {
            "production": {
                "enabled": True,
                "off_variant": last,
                "default": {"variant": first},
                **production,
            }
        },
    }


PLAN_RULE = {
    "id": "pro",
    "conditions": [{"attribute": "plan", "operator": "eq", "value": "pro"}],
    "serve": {"variant": "on"},
}
FLAGS = [
    _flag("dark-mode", "boolean", {"on": True, "off": False}, rules=[PLAN_RULE]),
    _flag("banner", "string", {"blue": "blue", "red": "red"}),
    _flag("limit", "number", {"high": 100, "low": 2}),
    _flag("ratio", "number", {"half": 0.5, "none": 0}),
    _flag("limits", "json", {"big": {"rps": 10}, "none": {}}),
    _flag("tags", "json", {"list": ["a", "b"], "none": {}}),
    _flag("off-flag", "boolean", {"on": True, "off": False}, enabled=False),
    _flag(
        "half",
        "boolean",
        {"on": True, "off": False},
        default={
            "split": {
                "weights": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]
            }
        },
    ),
    _flag("internal", "boolean", {"on": True, "off": False}, client_side=False),
]


@pytest.fixture
def served(live: Live) -> Live:
    for flag in FLAGS:
        httpx.post(f"{live.url}/api/flags", json=flag, headers=live.admin).raise_for_status()
    return live


def _post(live: Live, route: str, key: str = "", **kwargs: Any) -> httpx.Response:
    kwargs.setdefault("headers", {"Authorization": f"Bearer {live.server_key}"})
    return httpx.post(live.url + route.replace("{key}", key), **kwargs)


def test_one_flag_successes_match_the_document(served: Live) -> None:
    pro = {"context": {"targetingKey": "u1", "plan": "pro"}}
    got = {
        key: check(ONE, _post(served, ONE, key, json=pro))
        for key in ("dark-mode", "banner", "limit", "ratio", "limits", "off-flag", "half")
    }
    assert got["dark-mode"] == {
        "key": "dark-mode",
        "value": True,
        "reason": "TARGETING_MATCH",
        "variant": "on",
        "metadata": {"version": 1, "rule": "pro"},
    }
    free = check(ONE, _post(served, ONE, "dark-mode", json={"context": {"plan": "free"}}))
    assert (free["value"], free["reason"]) == (True, "DEFAULT")
    assert (got["banner"]["value"], got["banner"]["reason"]) == ("blue", "STATIC")
    # An integer-valued number is written as a float, the fraction as it is
    assert type(got["limit"]["value"]) is float
    assert got["limit"]["value"] == 100.0
    assert b'"value":100.0' in _post(served, ONE, "limit", json=pro).content
    assert got["ratio"]["value"] == 0.5
    assert got["limits"]["value"] == {"rps": 10}
    assert (got["off-flag"]["value"], got["off-flag"]["reason"]) == (False, "DISABLED")
    assert got["half"]["reason"] == "SPLIT"


def test_one_flag_refusals_match_the_document(served: Live) -> None:
    def code(key: str, **kwargs: Any) -> tuple[int, str, str | None]:
        answer = _post(served, ONE, key, **kwargs)
        body = check(ONE, answer)
        return answer.status_code, body["errorCode"], body.get("key")

    raw = {"headers": {"Authorization": f"Bearer {served.server_key}"}}
    assert code("banner", content=b"{nope", **raw) == (400, "PARSE_ERROR", "banner")
    assert code("banner", json={"context": [1]}) == (400, "INVALID_CONTEXT", "banner")
    assert code("half", json={"context": {}}) == (400, "TARGETING_KEY_MISSING", "half")
    # A JSON flag serving an array: OFREP's objectFlag carries objects only
    assert code("tags", json={"context": {}}) == (400, "GENERAL", "tags")
    assert code("nope", json={}) == (404, "FLAG_NOT_FOUND", "nope")
    client = {"Authorization": f"Bearer {served.client_key}"}
    assert code("internal", json={}, headers=client) == (404, "FLAG_NOT_FOUND", "internal")
    assert code("banner", json={}, headers={}) == (401, "GENERAL", "banner")
    admin = served.admin
    assert code("banner", json={}, headers=admin) == (403, "GENERAL", "banner")
    nul = {"context": {"plan": "a\x00b"}}
    assert code("banner", json=nul) == (400, "GENERAL", "banner")
    big = {"context": {"pad": "x" * 70_000}}
    assert code("banner", json=big) == (413, "GENERAL", "banner")
    got = httpx.get(f"{served.url}/ofrep/v1/evaluate/flags/banner")
    assert (got.status_code, check(ONE, got)["errorCode"]) == (405, "GENERAL")


def test_bulk_answers_match_the_document(served: Live) -> None:
    server = {"Authorization": f"Bearer {served.server_key}"}
    answer = _post(served, BULK, json={"context": {"plan": "pro"}}, headers=server)
    body = check(BULK, answer)
    by_key = {f["key"]: f for f in body["flags"]}
    assert sorted(by_key) == sorted(f["key"] for f in FLAGS)
    assert by_key["dark-mode"]["reason"] == "TARGETING_MATCH"
    assert by_key["limit"]["value"] == 100.0
    assert type(by_key["limit"]["value"]) is float
    # Failures among the flags are evaluationFailure entries: code and details, no value
    assert by_key["half"]["errorCode"] == "TARGETING_KEY_MISSING"
    assert by_key["tags"]["errorCode"] == "GENERAL"
    assert "value" not in by_key["tags"]
    again = _post(
        served,
        BULK,
        json={"context": {"plan": "pro"}},
        headers={**server, "If-None-Match": answer.headers["etag"]},
    )
    assert again.status_code == 304
    check(BULK, again)

    def refused(**kwargs: Any) -> tuple[int, str, bool]:
        answer = _post(served, BULK, **kwargs)
        body = check(BULK, answer)
        return answer.status_code, body["errorCode"], "key" in body

    assert refused(content=b"[", headers=server) == (400, "PARSE_ERROR", False)
    assert refused(json={"context": "x"}, headers=server) == (400, "INVALID_CONTEXT", False)
    assert refused(json={}, headers={}) == (401, "GENERAL", False)
    assert refused(json={}, headers=served.admin) == (403, "GENERAL", False)


def test_a_crash_answers_the_general_error_shape(
    served: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(environment: str) -> Any:
        raise RuntimeError("the snapshot is gone")

    monkeypatch.setattr(served.app.state.flag_hub, "snapshot", broken)
    one = _post(served, ONE, "banner", json={})
    assert one.status_code == 500
    assert check(ONE, one) == {
        "key": "banner",
        "errorCode": "GENERAL",
        "errorDetails": "the server failed; try again later",
    }
    bulk = _post(served, BULK, json={})
    assert (bulk.status_code, check(BULK, bulk)["errorCode"]) == (500, "GENERAL")
