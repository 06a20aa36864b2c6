"""`matches` is RE2: linear time, capped pattern and attribute, one meaning everywhere."""

from __future__ import annotations

import time

import httpx
import pytest

from headway.flags.evaluate import evaluate
from headway.flags.model import ConfigError, parse_flag
from headway.flags.patterns import MAX_PATTERN, MAX_TEXT
from headway.sdk.client import Client

from .conftest import BOOLEAN_FLAG, Live, boolean_flag

EVIL = "^(a+)+$"


def _rule(pattern: str) -> dict[str, object]:
    condition = {"attribute": "name", "operator": "matches", "value": pattern}
    return {"rules": [{"conditions": [condition], "serve": {"variant": "off"}}]}


def test_catastrophic_pattern_runs_in_linear_time() -> None:
    # Given ^(a+)+$, which backtracks exponentially in Python's re
    flag = boolean_flag(**_rule(EVIL))
    # When evaluated against 10,000 a's and a b (no match) and against 10,000 a's (a match)
    started = time.perf_counter()
    miss = evaluate(flag, "production", {"name": "a" * 9_999 + "b"})
    hit = evaluate(flag, "production", {"name": "a" * 4_000})
    elapsed = time.perf_counter() - started
    # Then both answer at once: the default `on` for the miss, the rule's `off` for the hit
    assert (miss.variant, hit.variant) == ("on", "off")
    assert elapsed < 0.5  # re takes longer than the age of the universe here


def test_attribute_past_the_cap_does_not_match() -> None:
    flag = boolean_flag(**_rule("^a"))
    assert evaluate(flag, "production", {"name": "a" * MAX_TEXT}).variant == "off"
    assert evaluate(flag, "production", {"name": "a" * (MAX_TEXT + 1)}).variant == "on"


@pytest.mark.parametrize(
    ("pattern", "words"),
    [
        ("(a)\\1", "cannot compile"),  # a backreference
        ("(?=a)", "cannot compile"),  # lookahead
        ("((", "cannot compile"),
        ("a" * (MAX_PATTERN + 1), "at most 1024"),
    ],
)
def test_patterns_re2_cannot_run_are_refused_at_write(pattern: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        boolean_flag(**_rule(pattern))
    (issue,) = refused.value.issues
    assert issue.path == "environments.production.rules[0].conditions[0].value"
    assert words in issue.message


def test_non_ascii_pattern_and_text() -> None:
    flag = boolean_flag(**_rule("^café$"))
    assert evaluate(flag, "production", {"name": "café"}).variant == "off"
    assert evaluate(flag, "production", {"name": "cafe"}).variant == "on"


def test_sdk_and_server_agree_on_the_catastrophic_pattern(live: Live) -> None:
    production = {"enabled": True, "off_variant": "off", "default": {"variant": "on"}}
    doc = {**BOOLEAN_FLAG, "environments": {"production": {**production, **_rule(EVIL)}}}
    parse_flag(doc)
    created = httpx.post(live.url + "/api/flags", json=doc, headers=live.admin)
    assert created.status_code == 201, created.text
    context = {"targetingKey": "u", "name": "a" * 9_999 + "b"}
    headers = {"Authorization": f"Bearer {live.server_key}"}
    started = time.perf_counter()
    answer = httpx.post(
        live.url + "/ofrep/v1/evaluate/flags/new-checkout",
        json={"context": context},
        headers=headers,
    )
    assert answer.json()["value"] is True
    with Client(live.url, live.server_key, flush_interval=0) as client:
        assert client.wait_until_ready(10)
        assert client.boolean("new-checkout", False, context) is True
        assert client.boolean("new-checkout", True, {**context, "name": "aaaa"}) is False
    assert time.perf_counter() - started < 5
