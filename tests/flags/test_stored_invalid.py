"""Flags and segments stored without validation (an older version, a restored backup, a hand
edit) break neither the control plane nor any evaluator: the malformed flag answers the
caller's default with reason ERROR, every other flag is unaffected, and its kill switch works."""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest
from openfeature.contrib.provider.ofrep import OFREPProvider
from sqlalchemy import text

from headway.sdk.client import Client

from .conftest import BOOLEAN_FLAG, Live

PRODUCTION_ON = {"enabled": True, "off_variant": "off", "default": {"variant": "on"}}


def _rule(**condition: Any) -> dict[str, Any]:
    return {"id": "r0", "conditions": [condition], "serve": {"variant": "on"}}


# Each shape breaks one rule of validation; the stored production environment is switched on.
MALFORMED: dict[str, Any] = {
    "no-value": {"rules": [_rule(attribute="plan", operator="eq")]},
    "unknown-operator": {"rules": [_rule(attribute="plan", operator="like", value="x")]},
    "wrong-type": {"rules": [_rule(attribute="age", operator="gt", value="ten")]},
    "bad-regex": {"rules": [_rule(attribute="email", operator="matches", value="((")]},
    "split-99": {
        "default": {
            "split": {
                "weights": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 49}]
            }
        }
    },
    "unknown-variant": {"default": {"variant": "maybe"}},
    "missing-segment": {
        "rules": [_rule(attribute="targetingKey", operator="in_segment", value="ghost")]
    },
    "uses-bad-segment": {
        "rules": [_rule(attribute="targetingKey", operator="in_segment", value="broken")]
    },
    "not-an-object": "oops",
}


def _plant(live: Live, key: str, production: Any) -> None:
    """Store `key` with `production` as its production environment, bypassing validation."""
    store = live.app.state.flags.store
    rows = store.rows(text("SELECT document FROM flags WHERE key = :key"), key=key)
    doc = orjson.loads(rows[0][0])
    doc["environments"]["production"] = (
        {**PRODUCTION_ON, **production} if isinstance(production, dict) else production
    )
    with store.transaction() as tx:
        tx.run(
            text("UPDATE flags SET document = :doc WHERE key = :key"),
            doc=orjson.dumps(doc).decode(),
            key=key,
        )


@pytest.fixture
def planted(live: Live) -> Live:
    http = _http(live)
    # A segment stored with a condition lacking its value.
    http("PUT", "/api/segments/broken", {"key": "broken"}, 200)
    with live.app.state.flags.store.transaction() as tx:
        bad = {"key": "broken", "conditions": [{"attribute": "plan", "operator": "eq"}]}
        tx.run(
            text("UPDATE segments SET document = :doc WHERE key = 'broken'"),
            doc=orjson.dumps(bad).decode(),
        )
    http("POST", "/api/flags", {**BOOLEAN_FLAG, "key": "good", "client_side": True}, 201)
    http("PATCH", "/api/flags/good/environments/production", PRODUCTION_ON, 200)
    for key, production in MALFORMED.items():
        http("POST", "/api/flags", {**BOOLEAN_FLAG, "key": key, "client_side": True}, 201)
        _plant(live, key, production)
    # And one whose whole document is unreadable.
    http("POST", "/api/flags", {**BOOLEAN_FLAG, "key": "garbage"}, 201)
    with live.app.state.flags.store.transaction() as tx:
        tx.execute("UPDATE flags SET document = '[1, 2' WHERE key = 'garbage'")
    live.app.state.flag_hub.refresh()
    return live


def _http(live: Live) -> Any:
    import httpx

    def call(method: str, path: str, body: Any = None, status: int = 200) -> Any:
        response = httpx.request(method, live.url + path, json=body, headers=live.admin, timeout=10)
        assert response.status_code == status, (path, response.text)
        return response.json() if response.content else None

    return call


def test_admin_routes_answer_for_every_stored_shape(planted: Live) -> None:
    http = _http(planted)
    # Given the malformed flags, When listing, Then every flag is listed and says what is wrong
    listed = {f["key"]: f for f in http("GET", "/api/flags")}
    assert set(listed) >= {"good", "garbage", *MALFORMED}
    assert listed["no-value"]["description"].startswith("[invalid stored document]")
    assert "environments.production" in listed["no-value"]["description"]
    assert not listed["good"]["description"].startswith("[invalid")
    http("GET", "/api/segments")
    assert http("GET", "/api/segments/broken")["description"].startswith("[invalid")
    for key in [*MALFORMED, "garbage"]:
        http("GET", f"/api/flags/{key}")
        http("GET", f"/api/flags/{key}/history")
        http("GET", f"/api/flags/{key}/audit")
        http("POST", f"/api/flags/{key}/explain", {"environment": "production", "context": {}})
        # A partial change is refused with what is wrong, never a 5xx (the flag that refers to
        # a broken segment is itself sound)
        status = 200 if key == "uses-bad-segment" else 422
        refused = http("PATCH", f"/api/flags/{key}", {"description": "x"}, status)
        if status == 422:
            assert refused["problems"][0]["problem"], refused
    http("GET", "/sdk/config", status=403)  # an admin token is not an SDK key
    # a new environment reaches every flag, malformed or not
    http("POST", "/api/environments", {"key": "qa"}, 201)
    # creating another flag is unaffected
    http("POST", "/api/flags", {**BOOLEAN_FLAG, "key": "later"}, 201)


def test_kill_switch_and_repair_work_on_a_malformed_flag(planted: Live) -> None:
    http = _http(planted)
    for key in MALFORMED:
        # When the malformed flag is killed, Then it serves its off variant in production
        killed = http("POST", f"/api/flags/{key}/kill", {"reason": "broken"})
        if key == "not-an-object":
            continue  # no environment document to switch off: it keeps answering ERROR
        assert killed["environments"]["production"]["enabled"] is False
    with Client(planted.url, planted.server_key, flush_interval=0) as client:
        assert client.wait_until_ready(10)
        assert client.details("no-value", True).variant == "off"
        assert client.details("not-an-object", True).reason == "ERROR"
    # When the whole document is replaced, Then the flag is valid again
    doc = {**BOOLEAN_FLAG, "key": "no-value", "description": "fixed"}
    repaired = http("PUT", "/api/flags/no-value", doc)
    assert repaired["description"] == "fixed"
    http("PATCH", "/api/flags/no-value", {"description": "fine"})


def test_every_sdk_answers_default_with_error_for_the_malformed_flags(planted: Live) -> None:
    with Client(planted.url, planted.server_key, flush_interval=0) as client:
        assert client.wait_until_ready(10)
        assert client.boolean("good", False) is True
        for key in MALFORMED:
            # default True and default False each come back unchanged
            assert client.boolean(key, True) is True, key
            assert client.boolean(key, False) is False, key
            details = client.details(key, "dflt")
            assert (details.value, details.reason) == ("dflt", "ERROR"), key
    # OFREP, single and bulk, for a server key and a client key
    import httpx

    for sdk_key in (planted.server_key, planted.client_key):
        headers = {"Authorization": f"Bearer {sdk_key}"}
        url = planted.url + "/ofrep/v1/evaluate/flags"
        good = httpx.post(url + "/good", json={"context": {}}, headers=headers)
        assert good.json()["value"] is True
        for key in MALFORMED:
            answer = httpx.post(f"{url}/{key}", json={"context": {}}, headers=headers)
            assert answer.status_code == 400, (key, answer.text)
            assert answer.json()["errorCode"] == "PARSE_ERROR"
            assert answer.json()["key"] == key
        bulk = httpx.post(url, json={"context": {}}, headers=headers)
        assert bulk.status_code == 200
        answers = {f["key"]: f for f in bulk.json()["flags"]}
        assert answers["good"]["value"] is True
        assert all(answers[k]["errorCode"] == "PARSE_ERROR" for k in MALFORMED)
    # The PyPI OFREP provider gives the caller's default
    from openfeature import api as openfeature

    provider = OFREPProvider(
        planted.url, headers_factory=lambda: {"Authorization": f"Bearer {planted.server_key}"}
    )
    openfeature.set_provider(provider, "stored-invalid")
    of = openfeature.get_client("stored-invalid")
    assert of.get_boolean_value("good", False) is True
    details = of.get_boolean_details("no-value", True)
    assert (details.value, details.reason) == (True, "ERROR")
    assert copy.copy(details.error_code) is not None


@pytest.mark.parametrize(
    ("key", "path"),
    [
        ("no-value", "environments.production.rules[0].conditions[0].value"),
        ("unknown-operator", "environments.production.rules[0].conditions[0].operator"),
        ("wrong-type", "environments.production.rules[0].conditions[0].value"),
        ("bad-regex", "environments.production.rules[0].conditions[0].value"),
        ("split-99", "environments.production.default.split.weights"),
        ("unknown-variant", "environments.production.default.variant"),
        ("missing-segment", "environments.production.rules[0].conditions[0].value"),
    ],
)
def test_each_shape_is_refused_at_write_naming_its_path(live: Live, key: str, path: str) -> None:
    http = _http(live)
    production = {**PRODUCTION_ON, **MALFORMED[key]}
    doc = {**BOOLEAN_FLAG, "key": key, "environments": {"production": production}}
    refused = http("POST", "/api/flags", doc, 422)
    assert path in [p["field"] for p in refused["problems"]], refused
    # and the same through the file import
    refused = http("POST", "/api/flags/import", {"flags": [doc]}, 422)
    assert f"flags.{key}.{path}" in [p["field"] for p in refused["problems"]], refused
