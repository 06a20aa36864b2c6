"""The short reads of the request path on connections of their own (`app.state.lookups`).

On PostgreSQL a token's check, an SDK key's, and the flag hub's reload of a configuration
read through read-only connections rather than the store's, so they never wait for a
transaction of the webhook writer: an SDK evaluates, and a kill switch reaches its SDKs,
while a write holds the store. What is read there is what was committed, and a change this
process made has committed before anything reads after it: the next evaluation serves a kill
switch, and the next check refuses a revoked token, at once, on both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings
from headway.flags.service import FlagService
from headway.flags.tokens import TokenService
from headway.store import Store, open_store
from tests.store.test_readers import in_thread, writing

FLAG = {
    "key": "checkout",
    "type": "boolean",
    "owner": "payments",
    "lifecycle": {"kind": "permanent"},
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
}
EVALUATE = "/ofrep/v1/evaluate/flags/checkout"
SOMEONE = {"context": {"targetingKey": "user-1"}}


@contextmanager
def serving(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    """The app with flag `checkout` on in production; admin and SDK key headers, neither of
    them checked yet (so no check is cached)."""
    with TestClient(create_app(settings)) as http:
        app: Any = http.app
        flags = FlagService(app.state.store)
        flags.create_flag(FLAG, actor="test")
        on = {"enabled": True, "default": {"variant": "on"}}
        flags.update_environment("checkout", "production", on, actor="test")
        _, admin = app.state.tokens.create("admin", name="admin", actor="test")
        _, sdk = app.state.tokens.create(
            "server", name="sdk", actor="test", environment="production"
        )
        yield http, {"Authorization": f"Bearer {admin}"}, {"Authorization": f"Bearer {sdk}"}


def served(http: TestClient, key: dict[str, str]) -> Any:
    answer = http.post(EVALUATE, json=SOMEONE, headers=key)
    assert answer.status_code == 200, answer.text
    return answer.json()["value"]


@pytest.mark.postgres
def test_token_and_sdk_key_checks_answer_while_a_write_holds_the_store(
    pg_schema_url: str,
) -> None:
    with serving(Settings(database=pg_schema_url)) as (http, admin, sdk):
        app: Any = http.app
        with writing(app.state.store):
            # neither secret checked before, nor the production snapshot built: all three
            # are read now, while the store's own connection is the writer's
            evaluated = in_thread(lambda: http.post(EVALUATE, json=SOMEONE, headers=sdk))
            listed = in_thread(lambda: http.get("/api/metrics", headers=admin))
        assert [a.status_code for a in evaluated + listed] == [200, 200]
        assert evaluated[0].json()["value"] is True


@pytest.mark.postgres
def test_a_change_made_elsewhere_reloads_while_a_write_holds_the_store(
    pg_schema_url: str,
) -> None:
    settings = Settings(database=pg_schema_url)
    with serving(settings) as (http, _, sdk):
        app: Any = http.app
        assert served(http, sdk) is True  # the snapshot is built
        other = open_store(settings)  # another replica, its change heard through NOTIFY
        try:
            FlagService(other).kill("checkout", actor="test", reason="elsewhere")
        finally:
            other.close()
        with writing(app.state.store):
            # what the listener calls when the NOTIFY arrives (it may have already)
            reloaded = in_thread(app.state.flag_hub.refresh)
            evaluated = in_thread(lambda: served(http, sdk))
        assert len(reloaded) == 1  # the reload finished while the write held the store
        assert evaluated == [False]


@pytest.mark.parametrize("rounds", [6])
def test_each_flag_change_is_served_by_the_next_evaluation(
    engine_settings: Settings, rounds: int
) -> None:
    with serving(engine_settings) as (http, admin, sdk):
        assert served(http, sdk) is True
        seen = []
        for _ in range(rounds // 2):
            killed = http.post("/api/flags/checkout/kill", json={"reason": "t"}, headers=admin)
            seen.append((killed.status_code, served(http, sdk)))
            enable = {"enabled": True}
            url = "/api/flags/checkout/environments/production"
            enabled = http.patch(url, json=enable, headers=admin)
            seen.append((enabled.status_code, served(http, sdk)))
        # no pause between a change's answer and the next evaluation: each is served at once
        assert seen == [(200, False), (200, True)] * (rounds // 2)


def test_a_revoked_token_is_refused_by_the_next_request(engine_settings: Settings) -> None:
    with serving(engine_settings) as (http, admin, _):
        app: Any = http.app
        viewer, secret = app.state.tokens.create("viewer", name="viewer", actor="test")
        headers = {"Authorization": f"Bearer {secret}"}
        assert http.get("/api/flags", headers=headers).status_code == 200  # now cached
        assert http.delete(f"/api/tokens/{viewer.id}", headers=admin).status_code == 204
        assert http.get("/api/flags", headers=headers).status_code == 401


def test_a_check_read_before_a_revocation_is_not_kept(store: Store) -> None:
    # Given a check whose read finished just before the token was revoked here
    revoke_after_reading: list[str] = []

    @contextmanager
    def reads() -> Iterator[Store]:
        yield store
        while revoke_after_reading:  # the read is done; the revocation commits now
            tokens.revoke(revoke_after_reading.pop(), actor="test")

    tokens = TokenService(store, cache_seconds=60, reads=reads)
    token, secret = tokens.create("viewer", name="racing", actor="test")
    revoke_after_reading.append(token.id)

    # When it answers (the request it belongs to began before the revocation)
    racing = tokens.verify(secret)

    # Then that one request is admitted, but what it read is not kept: the next is refused
    assert racing is not None
    assert racing.id == token.id
    assert tokens.verify(secret) is None
