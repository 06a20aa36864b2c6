"""OpenFeature: Headway's provider (typed resolution, reasons, errors, events) and the
published OFREP provider from PyPI driving Headway's OFREP endpoints unchanged."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from openfeature import api
from openfeature.contrib.provider.ofrep import OFREPProvider
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import EventDetails, ProviderEvent
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import Reason

from headway.sdk import Client
from headway.sdk.openfeature import HeadwayProvider

from .conftest import BOOLEAN_FLAG, Live, eventually


def _flag(key: str, kind: str, variants: list[tuple[str, Any]], **env: Any) -> dict[str, Any]:
    production = {
        "enabled": True,
        "off_variant": variants[-1][0],
        "default": {"variant": variants[0][0]},
        **env,
    }
    return {
        "key": key,
        "type": kind,
        "owner": "o",
        "lifecycle": {"kind": "permanent"},
        "variants": [{"key": k, "value": v} for k, v in variants],
        "environments": {"production": production},
    }


DOCUMENT = {
    "format": 1,
    "environment": "production",
    "segments": [],
    "flags": [
        _flag(
            "dark-mode",
            "boolean",
            [("on", True), ("off", False)],
            rules=[
                {
                    "id": "staff",
                    "conditions": [
                        {"attribute": "email", "operator": "ends_with", "value": "@acme.com"}
                    ],
                    "serve": {"variant": "off"},
                }
            ],
        ),
        _flag("banner", "string", [("blue", "blue"), ("red", "red")]),
        _flag("limit", "number", [("high", 100), ("low", 2.5)]),
        _flag("ratio", "number", [("half", 0.5), ("none", 0)]),
        _flag("limits", "json", [("big", {"rps": 10}), ("none", {})]),
    ],
}


@pytest.fixture
def of_client() -> Iterator[Any]:
    provider = HeadwayProvider(Client(offline=True, bootstrap=DOCUMENT))
    api.set_provider_and_wait(provider, "headway-test")
    yield api.get_client("headway-test")
    api.shutdown()


def test_typed_resolution_and_reasons(of_client: Any) -> None:
    ctx = EvaluationContext("u1", {"email": "jo@acme.com"})
    details = of_client.get_boolean_details("dark-mode", True, ctx)
    # The staff rule matches: TARGETING_MATCH, variant off, rule id in the metadata
    assert (details.value, details.variant, details.reason) == (
        False,
        "off",
        Reason.TARGETING_MATCH,
    )
    assert details.flag_metadata == {"rule": "staff"}
    other = of_client.get_boolean_details("dark-mode", False, EvaluationContext("u2"))
    assert (other.value, other.reason) == (True, Reason.DEFAULT)
    assert of_client.get_string_value("banner", "x") == "blue"
    assert of_client.get_integer_value("limit", 0) == 100
    assert of_client.get_float_value("ratio", 1.0) == 0.5
    assert of_client.get_object_value("limits", {}) == {"rps": 10}
    assert of_client.get_string_details("banner", "x").reason == Reason.STATIC


def test_errors_return_the_default_with_a_code(of_client: Any) -> None:
    missing = of_client.get_boolean_details("nope", True)
    assert (missing.value, missing.error_code, missing.reason) == (
        True,
        ErrorCode.FLAG_NOT_FOUND,
        Reason.ERROR,
    )
    mismatch = of_client.get_string_details("dark-mode", "x")
    assert (mismatch.value, mismatch.error_code) == ("x", ErrorCode.TYPE_MISMATCH)
    fraction = of_client.get_integer_details("ratio", 7)  # 0.5 is not an integer
    assert (fraction.value, fraction.error_code) == (7, ErrorCode.TYPE_MISMATCH)


def test_configuration_change_emits_an_event_naming_the_flag() -> None:
    client = Client(offline=True, bootstrap=DOCUMENT)
    provider = HeadwayProvider(client)
    api.set_provider_and_wait(provider, "headway-events")
    seen: list[EventDetails] = []
    done = threading.Event()

    def handler(details: EventDetails) -> None:
        seen.append(details)
        done.set()

    of = api.get_client("headway-events")
    of.add_handler(ProviderEvent.PROVIDER_CONFIGURATION_CHANGED, handler)
    try:
        changed = {
            **DOCUMENT,
            "flags": [
                _flag(
                    "banner",
                    "string",
                    [("blue", "blue"), ("red", "red")],
                    default={"variant": "red"},
                ),
                *[f for f in DOCUMENT["flags"] if f["key"] != "banner"],  # type: ignore[union-attr, index]
            ],
        }
        client.load(changed)
        assert done.wait(5)
        assert seen[0].flags_changed == ["banner"]
        assert of.get_string_value("banner", "x") == "red"
    finally:
        api.shutdown()


def test_provider_against_a_live_server_follows_a_kill(live: Live) -> None:
    httpx.post(f"{live.url}/api/flags", json=BOOLEAN_FLAG, headers=live.admin).raise_for_status()
    httpx.patch(
        f"{live.url}/api/flags/new-checkout/environments/production",
        json={"enabled": True, "default": {"variant": "on"}},
        headers=live.admin,
    )
    provider = HeadwayProvider(url=live.url, sdk_key=live.server_key, flush_interval=0)
    api.set_provider_and_wait(provider, "headway-live")
    of = api.get_client("headway-live")
    try:
        assert of.get_boolean_value("new-checkout", False, EvaluationContext("u1")) is True
        httpx.post(f"{live.url}/api/flags/new-checkout/kill", json={}, headers=live.admin)
        assert eventually(
            lambda: of.get_boolean_details("new-checkout", True).reason == Reason.DISABLED
        )
    finally:
        api.shutdown()


def test_published_ofrep_provider_works_unchanged(live: Live) -> None:
    # A browser's client key evaluates only flags marked client-side
    flag = {**BOOLEAN_FLAG, "key": "beta", "client_side": True}
    httpx.post(f"{live.url}/api/flags", json=flag, headers=live.admin).raise_for_status()
    httpx.patch(
        f"{live.url}/api/flags/beta/environments/production",
        json={
            "enabled": True,
            "default": {"variant": "off"},
            "rules": [
                {
                    "id": "pro",
                    "conditions": [{"attribute": "plan", "operator": "eq", "value": "pro"}],
                    "serve": {"variant": "on"},
                }
            ],
        },
        headers=live.admin,
    ).raise_for_status()
    provider = OFREPProvider(
        live.url, headers_factory=lambda: {"Authorization": f"Bearer {live.client_key}"}
    )
    api.set_provider_and_wait(provider, "ofrep")
    of = api.get_client("ofrep")
    try:
        hit = of.get_boolean_details("beta", False, EvaluationContext("u1", {"plan": "pro"}))
        assert (hit.value, hit.variant, hit.reason) == (True, "on", Reason.TARGETING_MATCH)
        miss = of.get_boolean_details("beta", True, EvaluationContext("u1", {"plan": "free"}))
        assert (miss.value, miss.reason) == (False, Reason.DEFAULT)
        absent = of.get_boolean_details("nope", True, EvaluationContext("u1"))
        assert (absent.value, absent.error_code) == (True, ErrorCode.FLAG_NOT_FOUND)
        wrong = of.get_string_details("beta", "x", EvaluationContext("u1"))
        assert (wrong.value, wrong.error_code) == ("x", ErrorCode.TYPE_MISMATCH)
    finally:
        api.shutdown()


def test_published_ofrep_provider_reads_each_type_as_the_document_gives_it(live: Live) -> None:
    # Given number, JSON and server-only flags on a running server
    flags = [
        {**_flag("limit", "number", [("high", 100), ("low", 2)]), "client_side": True},
        {**_flag("limits", "json", [("big", {"rps": 10}), ("none", {})]), "client_side": True},
        _flag("internal", "boolean", [("on", True), ("off", False)]),  # server-only
    ]
    for flag in flags:
        httpx.post(f"{live.url}/api/flags", json=flag, headers=live.admin).raise_for_status()
    server = OFREPProvider(
        live.url, headers_factory=lambda: {"Authorization": f"Bearer {live.server_key}"}
    )
    client = OFREPProvider(
        live.url, headers_factory=lambda: {"Authorization": f"Bearer {live.client_key}"}
    )
    api.set_provider_and_wait(server, "ofrep-server")
    api.set_provider_and_wait(client, "ofrep-client")
    of, browser = api.get_client("ofrep-server"), api.get_client("ofrep-client")
    ctx = EvaluationContext("u1")
    try:
        # An integer-valued number reads as a float, and an object flag as a dict
        limit = of.get_float_details("limit", 0.5, ctx)
        assert (limit.value, type(limit.value), limit.error_code) == (100.0, float, None)
        assert (limit.variant, limit.reason) == ("high", Reason.STATIC)
        limits = of.get_object_details("limits", {}, ctx)
        assert (limits.value, limits.error_code) == ({"rps": 10}, None)
        assert isinstance(limits.value, dict)
        missing = of.get_float_details("nope", 1.5, ctx)
        assert (missing.value, missing.error_code, missing.reason) == (
            1.5,
            ErrorCode.FLAG_NOT_FOUND,
            Reason.ERROR,
        )
        assert of.get_boolean_value("internal", False, ctx) is True
        # A client key: the server-only flag does not exist for it
        hidden = browser.get_boolean_details("internal", False, ctx)
        assert (hidden.value, hidden.error_code) == (False, ErrorCode.FLAG_NOT_FOUND)
        assert browser.get_float_value("limit", 0.5, ctx) == 100.0
    finally:
        api.shutdown()
    # And its bulk evaluation lists the client-side flags only
    bulk = httpx.post(
        f"{live.url}/ofrep/v1/evaluate/flags",
        json={"context": {"targetingKey": "u1"}},
        headers={"Authorization": f"Bearer {live.client_key}"},
    )
    assert bulk.status_code == 200
    assert [(f["key"], f["value"]) for f in bulk.json()["flags"]] == [
        ("limit", 100.0),
        ("limits", {"rps": 10}),
    ]
    one = httpx.post(
        f"{live.url}/ofrep/v1/evaluate/flags/internal",
        json={},
        headers={"Authorization": f"Bearer {live.client_key}"},
    )
    assert (one.status_code, one.json()["errorCode"], one.json()["key"]) == (
        404,
        "FLAG_NOT_FOUND",
        "internal",
    )
