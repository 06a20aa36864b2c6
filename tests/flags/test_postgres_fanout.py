"""Scale-out: two servers on one PostgreSQL store; a change on one reaches SDKs on the other."""

from __future__ import annotations

import time
from functools import partial

import httpx
import pytest

from headway.config import Settings
from headway.flags.service import FlagService
from headway.flags.snapshot import build_snapshot
from headway.sdk import Client
from headway.store import open_store

from .conftest import BOOLEAN_FLAG, eventually, start_live, stop_live

pytestmark = pytest.mark.postgres


def test_change_on_one_replica_reaches_sdks_on_the_other(pg_schema_url: str) -> None:
    settings = Settings(database=pg_schema_url)
    a = start_live(settings)
    b = start_live(settings, keys=(a.admin["Authorization"][7:], a.server_key, a.client_key))
    try:
        assert eventually(lambda: a.app.state.flag_listener.listening.is_set())
        assert eventually(lambda: b.app.state.flag_listener.listening.is_set())
        # Given a flag, on, created through replica A
        httpx.post(f"{a.url}/api/flags", json=BOOLEAN_FLAG, headers=a.admin).raise_for_status()
        httpx.patch(
            f"{a.url}/api/flags/new-checkout/environments/production",
            json={"enabled": True, "default": {"variant": "on"}},
            headers=a.admin,
        ).raise_for_status()
        # And an SDK streaming from replica B (the key, made on A, is valid on B: shared store)
        with Client(b.url, a.server_key, flush_interval=0) as client:
            assert client.wait_until_ready(10)
            assert eventually(lambda: client.connected)
            assert client.boolean("new-checkout", False, {"targetingKey": "u"}) is True
            # When A kills the flag, Then B hears of it through NOTIFY and pushes it
            httpx.post(
                f"{a.url}/api/flags/new-checkout/kill", json={}, headers=a.admin
            ).raise_for_status()
            assert eventually(lambda: client.evaluate("new-checkout").reason == "DISABLED")
        # And both replicas serve the same configuration, with the same ETag
        sdk = {"Authorization": f"Bearer {a.server_key}"}
        etags = {httpx.get(f"{r.url}/sdk/config", headers=sdk).headers["etag"] for r in (a, b)}
        assert len(etags) == 1
    finally:
        stop_live(b)
        stop_live(a)


def test_service_on_postgres_versions_and_audits(pg_schema_url: str) -> None:
    store = open_store(Settings(database=pg_schema_url))
    try:
        service = FlagService(store)
        service.create_flag(BOOLEAN_FLAG, actor="alice")
        service.set_enabled("new-checkout", "production", True, actor="bob")
        assert [v.actor for v in service.history("new-checkout")] == ["alice", "bob"]
        snap = build_snapshot(service.config("production"))
        # Enabled, and a new boolean flag serves its `on` variant by default: STATIC, True
        result = snap.flags["new-checkout"].evaluate({})
        assert (result.reason, result.value) == ("STATIC", True)
    finally:
        store.close()


def test_a_key_revoked_on_one_replica_ends_its_stream_on_the_other(pg_schema_url: str) -> None:
    settings = Settings(database=pg_schema_url)
    a = start_live(settings)
    b = start_live(settings, keys=(a.admin["Authorization"][7:], a.server_key, a.client_key))
    try:
        # Given an SDK stream open on replica B with a server key (`hws_<id>_<secret>`)
        token_id = a.server_key.split("_")[1]
        sdk = {"Authorization": f"Bearer {a.server_key}"}
        with httpx.stream("GET", f"{b.url}/sdk/stream", headers=sdk, timeout=30) as stream:
            chunks = stream.iter_bytes()
            assert b"event: config" in next(chunks)
            # When replica A revokes the key
            revoked = httpx.delete(f"{a.url}/api/tokens/{token_id}", headers=a.admin)
            assert revoked.status_code == 204
            started = time.monotonic()
            # Then B ends the stream with an error event within a few seconds (it re-checks
            # every 2 s; pings alone come every 15 s, so a stream left open would run on).
            rest = b"".join(chunks)
            assert time.monotonic() - started < 6
        assert b"event: error" in rest
        assert b"revoked" in rest
        # And within the same 2 s (B's cache of verified keys) it reads nothing more anywhere.
        for replica in (a, b):
            assert eventually(partial(_refused, f"{replica.url}/sdk/config", sdk), 4)
    finally:
        stop_live(b)
        stop_live(a)


def _refused(url: str, headers: dict[str, str]) -> bool:
    return httpx.get(url, headers=headers).status_code == 401
