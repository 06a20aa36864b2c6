"""A configuration change costs what it changed: untouched flags are neither validated nor
compiled again, in the server's snapshots and in SDKs."""

from __future__ import annotations

from typing import Any

from headway.flags.model import Segment
from headway.flags.snapshot import build_snapshot, config_document
from headway.sdk import Client
from headway.sdk.tables import _FirstUse

from .conftest import boolean_flag, split


def _document(**flags: dict[str, Any]) -> dict[str, Any]:
    segment = Segment(key="beta", included=["u-1"])
    return config_document(
        "production", [boolean_flag(key, **env) for key, env in flags.items()], [segment]
    )


def _beta_rule() -> list[dict[str, Any]]:
    condition = {"attribute": "targetingKey", "operator": "in_segment", "value": ["beta"]}
    return [{"id": "beta", "conditions": [condition], "serve": {"variant": "off"}}]


def test_an_unchanged_flag_keeps_its_validated_object_and_a_changed_one_does_not() -> None:
    first = build_snapshot(_document(a={}, b={}))
    # When only flag b changes
    second = build_snapshot(_document(a={}, b={"enabled": False}), first)
    # Then a is the same object, b a new one that says what changed
    assert second.definitions["a"] is first.definitions["a"]
    assert second.definitions["b"] is not first.definitions["b"]
    assert not second.definitions["b"].environments["production"].enabled
    assert second.segments["beta"] is first.segments["beta"]


def test_a_document_changed_in_place_is_seen_as_changed() -> None:
    # Given a caller that edits its own document between two loads
    document = _document(a={})
    first = build_snapshot(document)
    document["flags"][0]["environments"]["production"]["enabled"] = False
    # Then the edit is validated and kept, not mistaken for the flag already known
    second = build_snapshot(document, first)
    assert not second.definitions["a"].environments["production"].enabled


def test_an_sdk_recompiles_only_what_a_change_touched() -> None:
    client = Client(offline=True, bootstrap=_document(a={}, b={"default": split(50)}))
    context = {"targetingKey": "u-1"}
    assert client.boolean("b", False, context) is (client.evaluate("b", context).value is True)
    a, b = client._table["a"][0], client._table["b"][0]
    typed_b = client._booleans["b"]
    # When flag a changes
    client.load(_document(a={"enabled": False}, b={"default": split(50)}))
    # Then a serves its new state from a new evaluator, and b keeps its evaluators
    assert client.evaluate("a").reason == "DISABLED"
    assert client._table["a"][0] is not a
    assert client._table["b"][0] is b
    assert client._booleans["b"] is typed_b
    # And a flag no typed getter had read yet is compiled once, on its first read, into the
    # table the getters now use
    client.load(_document(a={}, b={"default": split(50)}, c={}))
    client.load(_document(a={"enabled": False}, b={"default": split(50)}, c={}))
    assert client.boolean("c", False) is True
    assert not isinstance(client._booleans["c"], _FirstUse)
    # When a segment changes, every flag is compiled again (evaluators hold their segments)
    document = _document(a={"rules": _beta_rule()}, b={"default": split(50)})
    client.load(document)
    assert client.evaluate("a", context).rule == "beta"
    document["segments"][0]["included"] = ["u-2"]
    client.load(document)
    assert client.evaluate("a", context).rule is None
    assert client._table["b"][0] is not b
