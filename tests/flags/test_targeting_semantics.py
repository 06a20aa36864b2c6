"""Targeting as users of Unleash and flagd expect it: flags depending on flags, IP networks,
case-insensitive and any-of string operators, numbers carried as text, negative operators on
a missing attribute, non-ASCII text and a split with nothing to bucket by.

Every case is written through the HTTP API, then evaluated twice: by the server (OFREP) and by
an SDK client loaded with the configuration the server serves. Both must give the expected
answer, worked out by hand beside each case.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from headway.sdk import Client

from .conftest import Api


def _flag(key: str, rules: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A boolean flag on in production: its rules, then `off` (or `fields["default"]`)."""
    default = fields.pop("default", {"variant": "off"})
    return {
        "key": key,
        "type": "boolean",
        "owner": "team-growth",
        "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "lifecycle": {"kind": "permanent"},
        "environments": {
            "production": {
                "enabled": True,
                "off_variant": "off",
                "rules": rules,
                "default": default,
            }
        },
        **fields,
    }


def _when(*conditions: tuple[str, str, Any], serve: str = "on") -> dict[str, Any]:
    return {
        "conditions": [{"attribute": a, "operator": o, "value": v} for a, o, v in conditions],
        "serve": {"variant": serve},
    }


def _create(api: Api, doc: dict[str, Any]) -> httpx.Response:
    return api.http.post("/api/flags", json=doc, headers=api.admin)  # type: ignore[return-value]


def _server(api: Api, key: str, context: dict[str, Any]) -> str | None:
    """The variant the server's OFREP serves, or its error code."""
    answer = api.http.post(
        f"/ofrep/v1/evaluate/flags/{key}",
        json={"context": context},
        headers={"Authorization": f"Bearer {api.server_key}"},
    ).json()
    return answer.get("variant") or answer["errorCode"]  # type: ignore[no-any-return]


def _sdk(api: Api) -> Client:
    """An SDK client holding exactly the configuration the server serves its key."""
    config = api.http.get("/sdk/config", headers={"Authorization": f"Bearer {api.server_key}"})
    return Client(offline=True, bootstrap=config.content)


def _both(api: Api, client: Client, key: str, context: dict[str, Any]) -> tuple[Any, Any]:
    result = client.evaluate(key, context)
    return _server(api, key, context), result.variant or result.error_code


# (condition, context, served): "on" when the condition holds, else "off"
CASES: list[tuple[tuple[str, str, Any], dict[str, Any], str]] = [
    # Numbers carried as text compare as numbers; other text is no number
    (("age", "gt", 17), {"age": "18"}, "on"),
    (("age", "gte", 17.5), {"age": "17.5"}, "on"),
    (("age", "lt", 10), {"age": "-3"}, "on"),
    (("age", "lt", 10), {"age": "1e3"}, "off"),  # 1,000
    (("age", "gt", 17), {"age": "eighteen"}, "off"),
    # eq and in stay strict, as flagd's === and in: the number 3 is not the text "3"
    (("tier", "eq", 3), {"tier": "3"}, "off"),
    (("tier", "in", [3]), {"tier": "3"}, "off"),
    # Any of several strings; case counts unless the operator ends in _ci
    (("email", "ends_with", ["@acme.com", "@acme.org"]), {"email": "jo@acme.org"}, "on"),
    (("email", "ends_with", ["@acme.com"]), {"email": "jo@ACME.com"}, "off"),
    (("email", "starts_with", ["jo", "al"]), {"email": "al@globex.io"}, "on"),
    (("email", "contains", ["@acme", "@globex"]), {"email": "al@globex.io"}, "on"),
    (("email", "not_contains", ["@acme", "@globex"]), {"email": "al@globex.io"}, "off"),
    (("email", "ends_with_ci", ["@ACME.com", "@acme.org"]), {"email": "Jo@Acme.COM"}, "on"),
    (("email", "starts_with_ci", "JO"), {"email": "jo@x.io"}, "on"),
    (("email", "contains_ci", "ACME"), {"email": "jo@acme.com"}, "on"),
    (("email", "not_contains_ci", "ACME"), {"email": "jo@acme.com"}, "off"),
    (("city", "eq_ci", "STRASSE"), {"city": "Straße"}, "on"),  # casefold: ß is ss
    (("country", "in_ci", ["fr", "de"]), {"country": "FR"}, "on"),
    (("country", "not_in_ci", ["fr"]), {"country": "Fr"}, "off"),
    (("groups", "in_ci", ["beta"]), {"groups": ["Staff", "BETA"]}, "on"),
    # A negative operator holds when the attribute is missing or null; a positive one does not
    (("country", "not_in", ["FR"]), {}, "on"),
    (("country", "not_in", ["FR"]), {"country": None}, "on"),
    (("plan", "neq", "pro"), {}, "on"),
    (("email", "not_contains", "@acme"), {}, "on"),
    (("email", "not_contains", "@acme"), {"email": 5}, "off"),  # present, of the wrong type
    (("country", "in", ["FR"]), {}, "off"),
    (("ip", "ip_not_in", ["10.0.0.0/8"]), {}, "on"),
    # IP addresses in networks, IPv4 and IPv6
    (("ip", "ip_in", ["10.0.0.0/8", "2001:db8::/32"]), {"ip": "10.1.2.3"}, "on"),
    (("ip", "ip_in", ["10.0.0.0/8", "2001:db8::/32"]), {"ip": "2001:db8::1"}, "on"),
    (("ip", "ip_in", ["10.0.0.0/8", "2001:db8::/32"]), {"ip": "11.0.0.1"}, "off"),
    (("ip", "ip_in", ["10.0.0.0/8"]), {"ip": "::ffff:10.0.0.7"}, "on"),  # IPv4-mapped
    (("ip", "ip_in", ["::/0"]), {"ip": "10.0.0.1"}, "off"),  # IPv4 is in no IPv6 network
    (("ip", "ip_in", "192.168.1.7"), {"ip": "192.168.1.7"}, "on"),  # an address is a /32
    (("ip", "ip_in", ["10.0.0.0/8"]), {"ip": "not an address"}, "off"),
    (("ip", "ip_not_in", ["10.0.0.0/8"]), {"ip": "192.168.0.1"}, "on"),
    (("ip", "ip_not_in", ["10.0.0.0/8"]), {"ip": "not an address"}, "off"),
    # Non-ASCII attribute names and values
    (("ville", "eq", "東京"), {"ville": "東京"}, "on"),
    (("都市", "in", ["東京", "大阪"]), {"都市": "大阪"}, "on"),
    (("name", "starts_with_ci", "CAFÉ"), {"name": "café crème"}, "on"),
]


def test_each_operator_serves_the_same_on_the_server_and_in_the_sdk(api: Api) -> None:
    # Given one flag per case, whose single rule is the case's condition
    for i, (condition, _, _) in enumerate(CASES):
        created = _create(api, _flag(f"case-{i}", [_when(condition)]))
        assert created.status_code == 201, (condition, created.json())
    client = _sdk(api)
    # When each is evaluated for its context, Then the server and the SDK serve the expected
    for i, (condition, context, served) in enumerate(CASES):
        assert _both(api, client, f"case-{i}", context) == (served, served), (condition, context)


def test_a_flag_serves_by_the_variant_another_flag_serves(api: Api) -> None:
    # Given checkout (on for plan pro), upsell (on where checkout is on) and banner (on where
    # upsell is on): a chain of two prerequisites
    assert _create(api, _flag("checkout", [_when(("plan", "eq", "pro"))])).status_code == 201
    upsell = _flag("upsell", [_when(("checkout", "flag_variant", ["on"]))])
    assert _create(api, upsell).status_code == 201
    banner = _flag("banner", [_when(("upsell", "flag_variant", "on"))])
    assert _create(api, banner).status_code == 201
    client = _sdk(api)
    # Then a pro user gets all three, a free user none
    for key in ("checkout", "upsell", "banner"):
        assert _both(api, client, key, {"plan": "pro"}) == ("on", "on")
        assert _both(api, client, key, {"plan": "free"}) == ("off", "off")
    # When checkout is switched off it serves its off variant to everyone, so neither depends on
    api.http.post("/api/flags/checkout/kill", json={}, headers=api.admin).raise_for_status()
    client = _sdk(api)
    assert _both(api, client, "banner", {"plan": "pro"}) == ("off", "off")
    # And explain says which flag served what
    why = api.http.post(
        "/api/flags/upsell/explain",
        json={"environment": "production", "context": {"plan": "pro"}},
        headers=api.admin,
    ).json()
    assert why["explanation"] == [
        "rule r0: no match: flag 'checkout' serves 'off', not one of ['on']"
    ]


def _problems(response: httpx.Response) -> list[tuple[str, str]]:
    assert response.status_code == 422, response.json()
    return [(p["field"], p["problem"]) for p in response.json()["problems"]]


def test_a_prerequisite_must_exist_have_the_variant_and_not_loop(api: Api) -> None:
    rule = "environments.production.rules[0].conditions[0]"
    # Given no flag `ghost`, Then a condition on it is refused at its attribute
    ghost = _flag("a", [_when(("ghost", "flag_variant", ["on"]))])
    assert _problems(_create(api, ghost)) == [
        (f"{rule}.attribute", "unknown flag 'ghost'; create it first (or unarchive it)")
    ]
    # Given a flag `b`, Then a variant it lacks is refused at the value
    assert _create(api, _flag("b", [])).status_code == 201
    odd = _flag("a", [_when(("b", "flag_variant", ["on", "maybe"]))])
    assert _problems(_create(api, odd)) == [
        (f"{rule}.value", "flag 'b': unknown variant 'maybe'; the flag's variants are off, on")
    ]
    # Given a depending on b, When b is made to depend on a, Then the cycle is refused
    assert _create(api, _flag("a", [_when(("b", "flag_variant", ["on"]))])).status_code == 201
    loop = api.http.patch(
        "/api/flags/b/environments/production",
        json={"rules": [_when(("a", "flag_variant", ["on"]))]},
        headers=api.admin,
    )
    assert _problems(loop) == [
        ("environments.production.rules", "flags would depend on each other: b → a → b")
    ]
    # And a flag depending on itself too
    selfish = _flag("c", [_when(("c", "flag_variant", ["on"]))])
    assert _problems(_create(api, selfish)) == [
        ("environments.production.rules", "flags would depend on each other: c → c")
    ]


@pytest.mark.parametrize(
    ("condition", "problem"),
    [
        (("ip", "ip_in", ["10.0.0.1/8"]), "'10.0.0.1/8' has host bits set; write 10.0.0.0/8"),
        (
            ("ip", "ip_in", ["10.0.0.0/33"]),
            "'10.0.0.0/33' is not an IP address or a CIDR network such as 10.0.0.0/8",
        ),
        (("ip", "ip_not_in", []), "'ip_not_in' needs a CIDR network such as 10.0.0.0/8, or a list"),
        (
            ("country", "in_ci", [1]),
            "'in_ci' compares text without case and needs a non-empty list of strings",
        ),
        (
            ("email", "ends_with", ["a", 2]),
            "'ends_with' needs a string or a non-empty list of strings",
        ),
    ],
)
def test_operands_are_checked_when_written(
    api: Api, condition: tuple[str, str, Any], problem: str
) -> None:
    where = "environments.production.rules[0].conditions[0].value"
    assert _problems(_create(api, _flag("x", [_when(condition)]))) == [(where, problem)]


def test_non_ascii_salt_and_keys_bucket_by_their_utf8_bytes(api: Api) -> None:
    # Given a 50 % split of a flag salted "café": seed xxh64(b"caf\xc3\xa9") = 11115070494344764010
    doc = _flag(
        "tokyo-rollout",
        [],
        salt="café",
        default={
            "split": {
                "weights": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]
            }
        },
    )
    assert _create(api, doc).status_code == 201
    client = _sdk(api)
    # Then 東京 (UTF-8 e6 9d b1 e4 ba ac) falls in bucket xxh3(those bytes, seed) % 100000 =
    # 25455 < 50000, so on; 大阪 in bucket 98714, so off
    assert _both(api, client, "tokyo-rollout", {"targetingKey": "東京"}) == ("on", "on")
    assert _both(api, client, "tokyo-rollout", {"targetingKey": "大阪"}) == ("off", "off")


def test_a_split_with_nothing_to_bucket_by_never_guesses(api: Api) -> None:
    # Given a rule serving a split by `session` for beta users, then a default split by org.id
    halves = [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]
    rule = {
        "conditions": [{"attribute": "beta", "operator": "eq", "value": True}],
        "serve": {"split": {"weights": halves, "bucket_by": "session"}},
    }
    doc = _flag("orgs", [rule], default={"split": {"weights": halves, "bucket_by": "org.id"}})
    assert _create(api, doc).status_code == 201
    client = _sdk(api)
    # When a beta user has no session, Then the rule does not match and the default decides;
    # with no org either, that is an error (the caller's default), the same every time:
    # no fallback to targetingKey, no random bucket
    context = {"targetingKey": "u1", "beta": True}
    for _ in range(20):
        assert _both(api, client, "orgs", context) == ("INVALID_CONTEXT", "INVALID_CONTEXT")
    assert client.boolean("orgs", True, context) is True
    # And with an org, every user of it gets the org's variant
    one = _both(api, client, "orgs", {"targetingKey": "u1", "org": {"id": "acme"}})
    assert one == _both(api, client, "orgs", {"targetingKey": "u2", "org": {"id": "acme"}})


@pytest.mark.parametrize(
    ("when", "condition"),
    [
        ("ip ip_in 10.0.0.0/8, ::1", {"operator": "ip_in", "value": ["10.0.0.0/8", "::1"]}),
        ("country in_ci fr,de", {"operator": "in_ci", "value": ["fr", "de"]}),
        ("checkout flag_variant on", {"operator": "flag_variant", "value": ["on"]}),
        # A JSON list is any of its strings; other text is one string, commas and all
        (
            'email ends_with ["@a.io", "@b.io"]',
            {"operator": "ends_with", "value": ["@a.io", "@b.io"]},
        ),
        ("email ends_with a,b", {"operator": "ends_with", "value": "a,b"}),
        ("city eq_ci Straße", {"operator": "eq_ci", "value": "Straße"}),
    ],
)
def test_the_cli_writes_each_new_operator(when: str, condition: dict[str, Any]) -> None:
    from headway.cli.flag_common import parse_condition

    assert parse_condition(when) == {"attribute": when.split()[0], **condition}


def test_flagd_export_refuses_what_flagd_cannot_say() -> None:
    from headway.flags.flagd_export import to_flagd
    from headway.flags.model import ConfigError, parse_flag

    # Given starts_with on a list, ip_in and flag_variant, Then each is refused at its operator
    rules = [
        _when(("email", "starts_with", ["a", "b"])),
        _when(("ip", "ip_in", "10.0.0.0/8")),
        _when(("other", "flag_variant", ["on"])),
    ]
    flags = [parse_flag(_flag(f"x{i}", [rule])) for i, rule in enumerate(rules)]
    with pytest.raises(ConfigError) as refused:
        to_flagd(flags, "production")
    assert [i.path for i in refused.value.issues] == [
        f"flags.x{i}.environments.production.rules[0].conditions[0].operator" for i in range(3)
    ]
