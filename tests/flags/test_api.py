"""The flags HTTP API: admin control plane, scoped keys, SDK config with ETag, OFREP."""

from __future__ import annotations

from typing import Any

from .conftest import BOOLEAN_FLAG, Api


def _create(api: Api, **overrides: Any) -> dict[str, Any]:
    response = api.http.post("/api/flags", json={**BOOLEAN_FLAG, **overrides}, headers=api.admin)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def _turn_on(api: Api, **fields: Any) -> dict[str, Any]:
    body = {"enabled": True, "default": {"variant": "on"}, **fields}
    response = api.http.patch(
        "/api/flags/new-checkout/environments/production", json=body, headers=api.admin
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_keys_are_scoped(api: Api) -> None:
    # Given no token, Then 401; a server or client key cannot administer flags: 403
    assert api.http.get("/api/flags").status_code == 401
    assert api.http.get("/api/flags", headers={"Authorization": "Bearer nope"}).status_code == 401
    for key in (api.server_key, api.client_key):
        assert (
            api.http.get("/api/flags", headers={"Authorization": f"Bearer {key}"}).status_code
            == 403
        )
    # and a client key cannot download the full configuration
    assert (
        api.http.get(
            "/sdk/config", headers={"Authorization": f"Bearer {api.client_key}"}
        ).status_code
        == 403
    )


def test_create_fills_every_environment_switched_off(api: Api) -> None:
    flag = _create(api)
    assert flag["version"] == 1
    assert sorted(flag["environments"]) == ["development", "production", "staging"]
    assert flag["environments"]["production"] == {
        "enabled": False,
        "off_variant": "off",
        "rules": [],
        # switched on, a boolean flag serves its `true` variant
        "default": {"variant": "on", "split": None},
    }
    assert api.http.post("/api/flags", json=BOOLEAN_FLAG, headers=api.admin).status_code == 409


def test_invalid_flag_is_refused_with_the_field_path(api: Api) -> None:
    _create(api)
    rule = {
        "conditions": [{"attribute": "email", "operator": "matches", "value": "(("}],
        "serve": {"variant": "on"},
    }
    response = api.http.patch(
        "/api/flags/new-checkout/environments/production", json={"rules": [rule]}, headers=api.admin
    )
    assert response.status_code == 422
    problems = response.json()["problems"]
    assert problems[0]["field"] == "environments.production.rules[0].conditions[0].value"
    split = {
        "split": {"weights": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 40}]}
    }
    response = api.http.patch(
        "/api/flags/new-checkout/environments/production",
        json={"default": split},
        headers=api.admin,
    )
    assert response.json()["problems"] == [
        {
            "field": "environments.production.default.split.weights",
            "problem": "weights sum to 90 %; they must sum to 100 %",
        }
    ]


def test_versioning_audit_and_kill(api: Api) -> None:
    _create(api)
    assert _turn_on(api)["version"] == 2
    # A change based on a stale version is refused
    stale = api.http.patch(
        "/api/flags/new-checkout", json={"description": "x"}, headers={**api.admin, "If-Match": "1"}
    )
    assert stale.status_code == 409
    # The kill switch turns it off everywhere in one call
    killed = api.http.post(
        "/api/flags/new-checkout/kill", json={"reason": "errors"}, headers=api.admin
    )
    assert killed.status_code == 200
    assert not any(e["enabled"] for e in killed.json()["environments"].values())
    history = api.http.get("/api/flags/new-checkout/history", headers=api.admin).json()
    assert [(h["version"], h["action"], h["actor"]) for h in history] == [
        (1, "create", "token:alice"),
        (2, "update", "token:alice"),
        (3, "kill", "token:alice"),
    ]
    assert history[2]["comment"] == "errors"
    audit = api.http.get("/api/flags/new-checkout/audit", headers=api.admin).json()
    assert audit[2]["before"]["environments"]["production"]["enabled"] is True
    assert audit[2]["after"]["environments"]["production"]["enabled"] is False


def test_segments_are_checked_and_protected(api: Api) -> None:
    _create(api)
    rule = {
        "conditions": [{"attribute": "targetingKey", "operator": "in_segment", "value": "beta"}],
        "serve": {"variant": "on"},
    }
    refused = api.http.patch(
        "/api/flags/new-checkout/environments/production", json={"rules": [rule]}, headers=api.admin
    )
    assert refused.json()["problems"][0]["problem"] == "unknown segment 'beta'; create it first"
    assert (
        api.http.put("/api/segments/beta", json={"included": ["u1"]}, headers=api.admin).status_code
        == 200
    )
    _turn_on(api, rules=[rule], default={"variant": "off"})
    # A segment in use cannot be deleted
    assert api.http.delete("/api/segments/beta", headers=api.admin).status_code == 409


def test_sdk_config_etag(api: Api) -> None:
    _create(api)
    sdk = {"Authorization": f"Bearer {api.server_key}"}
    first = api.http.get("/sdk/config", headers=sdk)
    assert first.status_code == 200
    assert list(first.json()["flags"][0]["environments"]) == ["production"]  # only its environment
    etag = first.headers["etag"]
    assert api.http.get("/sdk/config", headers={**sdk, "If-None-Match": etag}).status_code == 304
    _turn_on(api)
    changed = api.http.get("/sdk/config", headers={**sdk, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag


def test_ofrep_single_and_bulk(api: Api) -> None:
    _create(api, client_side=True)
    _turn_on(
        api,
        default={
            "split": {
                "weights": [{"variant": "on", "weight": 50}, {"variant": "off", "weight": 50}]
            }
        },
    )
    key = {"Authorization": f"Bearer {api.client_key}"}
    ok = api.http.post(
        "/ofrep/v1/evaluate/flags/new-checkout",
        json={"context": {"targetingKey": "u1"}},
        headers=key,
    )
    assert ok.status_code == 200
    assert ok.json()["reason"] == "SPLIT"
    assert ok.json()["variant"] in ("on", "off")
    missing = api.http.post("/ofrep/v1/evaluate/flags/nope", json={"context": {}}, headers=key)
    assert (missing.status_code, missing.json()["errorCode"]) == (404, "FLAG_NOT_FOUND")
    no_key = api.http.post(
        "/ofrep/v1/evaluate/flags/new-checkout", json={"context": {}}, headers=key
    )
    assert (no_key.status_code, no_key.json()["errorCode"]) == (400, "TARGETING_KEY_MISSING")
    bad = api.http.post("/ofrep/v1/evaluate/flags/new-checkout", json={"context": [1]}, headers=key)
    assert (bad.status_code, bad.json()["errorCode"]) == (400, "INVALID_CONTEXT")
    assert api.http.post("/ofrep/v1/evaluate/flags/new-checkout", json={}).status_code == 401
    bulk = api.http.post(
        "/ofrep/v1/evaluate/flags", json={"context": {"targetingKey": "u1"}}, headers=key
    )
    assert bulk.status_code == 200
    assert [f["key"] for f in bulk.json()["flags"]] == ["new-checkout"]
    again = api.http.post(
        "/ofrep/v1/evaluate/flags",
        json={"context": {"targetingKey": "u1"}},
        headers={**key, "If-None-Match": bulk.headers["etag"]},
    )
    assert again.status_code == 304
    other = api.http.post(
        "/ofrep/v1/evaluate/flags",
        json={"context": {"targetingKey": "u2"}},
        headers={**key, "If-None-Match": bulk.headers["etag"]},
    )
    assert other.status_code == 200  # another context, another answer


def test_exposure_batches_are_idempotent(api: Api) -> None:
    _create(api)
    key = {"Authorization": f"Bearer {api.server_key}"}
    batch = {
        "batch": "b1",
        "from": "2025-01-01T00:00:00Z",
        "to": "2025-01-01T00:00:10Z",
        "counts": [
            {"flag": "new-checkout", "variant": "on", "count": 7},
            {"flag": "new-checkout", "variant": "off", "count": 3},
        ],
    }
    assert api.http.post("/sdk/exposures", json=batch, headers=key).json() == {"accepted": 2}
    assert api.http.post("/sdk/exposures", json=batch, headers=key).json() == {"accepted": 0}
    totals = api.http.get("/api/flags/new-checkout/exposures", headers=api.admin).json()
    assert totals == {"off": 3, "on": 7}


def test_environments_and_tokens(api: Api) -> None:
    _create(api)
    created = api.http.post("/api/environments", json={"key": "qa"}, headers=api.admin)
    assert created.status_code == 201
    # Existing flags get a switched-off configuration for it
    flag = api.http.get("/api/flags/new-checkout", headers=api.admin).json()
    assert flag["environments"]["qa"]["enabled"] is False
    token = api.http.post(
        "/api/tokens", json={"kind": "server", "name": "qa", "environment": "qa"}, headers=api.admin
    ).json()
    assert token["secret"].startswith("hws_")
    sdk = {"Authorization": f"Bearer {token['secret']}"}
    assert api.http.get("/sdk/config", headers=sdk).json()["environment"] == "qa"
    assert api.http.delete(f"/api/tokens/{token['id']}", headers=api.admin).status_code == 204
    assert api.http.get("/sdk/config", headers=sdk).status_code == 401


def test_client_keys_see_only_client_side_flags(api: Api) -> None:
    # Given a server-only flag and a client-side one, both on
    _create(api)
    _turn_on(api)
    _create(api, key="banner", client_side=True)
    on = {"enabled": True, "default": {"variant": "on"}}
    api.http.patch("/api/flags/banner/environments/production", json=on, headers=api.admin)
    client = {"Authorization": f"Bearer {api.client_key}"}
    server = {"Authorization": f"Bearer {api.server_key}"}
    body = {"context": {"targetingKey": "u1"}}
    # When a client key asks for the server-only flag, Then it does not exist for that key
    hidden = api.http.post("/ofrep/v1/evaluate/flags/new-checkout", json=body, headers=client)
    assert (hidden.status_code, hidden.json()["errorCode"]) == (404, "FLAG_NOT_FOUND")
    seen = api.http.post("/ofrep/v1/evaluate/flags/new-checkout", json=body, headers=server)
    assert (seen.status_code, seen.json()["value"]) == (200, True)
    # And bulk evaluation lists only what the key may see, with an ETag of its own
    by_client = api.http.post("/ofrep/v1/evaluate/flags", json=body, headers=client)
    by_server = api.http.post("/ofrep/v1/evaluate/flags", json=body, headers=server)
    assert [f["key"] for f in by_client.json()["flags"]] == ["banner"]
    assert [f["key"] for f in by_server.json()["flags"]] == ["banner", "new-checkout"]
    assert by_client.headers["etag"] != by_server.headers["etag"]
    # When the flag is marked client-side, Then the client key sees it
    marked = api.http.patch(
        "/api/flags/new-checkout", json={"client_side": True}, headers=api.admin
    )
    assert marked.status_code == 200
    shown = api.http.post("/ofrep/v1/evaluate/flags/new-checkout", json=body, headers=client)
    assert (shown.status_code, shown.json()["value"]) == (200, True)
