"""Keys read and report only what is theirs, revoked keys lose their streams, and outbound
URLs reach only allowed hosts: each attack replayed against a live server, on both engines."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings
from tests.flags.conftest import BOOLEAN_FLAG
from tests.security.conftest import Server

FLAG = "new-checkout"


@dataclass(frozen=True)
class Setup:
    staging_key: str  # a server SDK key of `staging`
    started_at: datetime  # when the rollout of FLAG in production started


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 300, response.text
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _new_key(live: Server, kind: str, environment: str) -> dict[str, Any]:
    with live.client(live.admin) as admin:
        body = {"kind": kind, "name": f"{kind}-{time.monotonic_ns()}", "environment": environment}
        return _ok(admin.post("/api/tokens", json=body))


def _window(end: datetime | None = None) -> dict[str, str]:
    end = end or datetime.now(UTC)
    return {"from": (end - timedelta(seconds=10)).isoformat(), "to": end.isoformat()}


def _sample(variant: str, metric: str, n: float) -> dict[str, Any]:
    total = 0 if metric == "$exposures" else n
    return {"flag": FLAG, "variant": variant, "metric": metric, "n": n, "total": total}


@pytest.fixture(scope="module")
def setup(live: Server) -> Setup:
    """A healthy rollout of FLAG (server-only) in production: 1% errors on both variants."""
    with live.client(live.admin) as admin, live.client(live.server_key) as sdk:
        _ok(admin.post("/api/flags", json=BOOLEAN_FLAG))
        _ok(
            admin.patch(
                f"/api/flags/{FLAG}/environments/production",
                json={"enabled": True, "default": {"variant": "off"}},
            )
        )
        # The service has reported `errors` before, so a guardrail may name it.
        seen = [_sample("off", "errors", 1)]
        _ok(
            admin.post("/api/rollouts/samples", json={"environment": "production", "samples": seen})
        )
        rollout = _ok(
            admin.post(
                "/api/rollouts",
                json={
                    "flag": FLAG,
                    "service": "checkout",
                    "treatment": "on",
                    "control": "off",
                    "stages": "10,100",
                    "min_duration": "1h",
                    "min_samples": 1000,
                    "guardrails": ["errors:rate:increase:0%:rollback"],
                },
            )
        )
        # Its own service's traffic: 1,000 and 9,000 exposures (the 10% split), 10 and 90
        # errors: 1% on each variant, so nothing to roll back.
        honest = [
            _sample("on", "$exposures", 1000),
            _sample("off", "$exposures", 9000),
            _sample("on", "errors", 10),
            _sample("off", "errors", 90),
        ]
        _ok(sdk.post("/sdk/metrics", json={"batch": "honest", **_window(), "samples": honest}))
    staging = _new_key(live, "server", "staging")["secret"]
    return Setup(staging, datetime.fromisoformat(rollout["started_at"]))


def _flood(variant: str = "on") -> list[dict[str, Any]]:
    # 1,000 exposures with 1,000 errors: 100% errors against 1%, enough to roll back at once.
    return [_sample(variant, "$exposures", 1000), _sample(variant, "errors", 1000)]


def test_a_client_key_cannot_report_samples_or_read_server_configuration(
    live: Server, setup: Setup
) -> None:
    body = {"batch": "from-a-page", **_window(), "samples": _flood()}
    with live.client(live.client_key) as page:
        answer = page.post("/sdk/metrics", json=body)
        assert answer.status_code == 403
        assert "it takes a server token" in answer.json()["error"]
        refused = page.post(
            "/api/rollouts/samples", json={"environment": "production", "samples": _flood()}
        )
        assert refused.status_code == 403
        # Nor exposures of a server-only flag, nor the server configuration or its stream.
        counts = {
            "batch": "e-1",
            **_window(),
            "counts": [{"flag": FLAG, "variant": "on", "count": 9}],
        }
        exposures = page.post("/sdk/exposures", json=counts)
        assert exposures.status_code == 403
        assert exposures.json()["error"].startswith(
            f"counts[0].flag: '{FLAG}' is not a client-side"
        )
        assert page.get("/sdk/config").status_code == 403
        assert page.get("/sdk/stream").status_code == 403
        # And OFREP answers for it as for a flag that does not exist.
        assert page.post(f"/ofrep/v1/evaluate/flags/{FLAG}", json={}).status_code == 404


def test_a_server_key_of_another_environment_cannot_report_for_this_one(
    live: Server, setup: Setup
) -> None:
    with live.client(setup.staging_key) as staging:
        body = {"environment": "production", "samples": _flood()}
        answer = staging.post("/api/rollouts/samples", json=body)
    assert answer.status_code == 403
    assert answer.json()["error"].startswith(
        "environment: this server key belongs to 'staging' and cannot send samples for 'production'"
    )


def test_an_oversized_or_out_of_range_batch_is_refused_naming_the_field(
    live: Server, setup: Setup
) -> None:
    with live.client(live.server_key) as sdk:
        # 1,001 samples: one more than a request may carry
        many = [_sample("on", "$exposures", 1)] * 1001
        answer = sdk.post("/sdk/metrics", json={"batch": "big", **_window(), "samples": many})
        assert answer.status_code == 422
        assert answer.json()["problems"][0]["field"] == "body.samples"
        # A billion and one errors in one sample
        huge = [_sample("on", "errors", 1e9 + 1)]
        answer = sdk.post("/sdk/metrics", json={"batch": "huge", **_window(), "samples": huge})
        assert answer.status_code == 422
        assert answer.json()["error"].startswith("samples[0].n is 1e+09")
        # A flag name of 10,000 characters (keys have at most 128)
        long = [{**_sample("on", "errors", 1), "flag": "f" * 10_000}]
        answer = sdk.post("/sdk/metrics", json={"batch": "long", **_window(), "samples": long})
        assert answer.status_code == 422
        assert answer.json()["problems"][0]["field"] == "body.samples.0.flag"
        # A window that ends an hour from now
        later = _window(datetime.now(UTC) + timedelta(hours=1))
        answer = sdk.post("/sdk/metrics", json={"batch": "later", **later, "samples": []})
        assert answer.status_code == 422
        assert "is in the future" in answer.json()["error"]


def test_a_key_beyond_its_rate_gets_429_with_retry_after(live: Server, setup: Setup) -> None:
    key = _new_key(live, "server", "production")["secret"]
    with live.client(key) as sdk:
        # The default allowance: 120 requests a minute per key (HEADWAY_SAMPLE_RATE_LIMIT)
        for i in range(120):
            answer = sdk.post("/sdk/metrics", json={"batch": f"r{i}", **_window(), "samples": []})
            assert answer.status_code == 202, (i, answer.text)
        answer = sdk.post("/sdk/metrics", json={"batch": "r120", **_window(), "samples": []})
    assert answer.status_code == 429
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert "HEADWAY_SAMPLE_RATE_LIMIT" in answer.json()["error"]
    # Another key of the same environment is not held back by it.
    with live.client(live.server_key) as other:
        ok = other.post("/sdk/metrics", json={"batch": "other", **_window(), "samples": []})
    assert ok.status_code == 202


def test_a_fabricated_flood_cannot_roll_back_a_healthy_rollout(live: Server, setup: Setup) -> None:
    # Given the healthy rollout, When every sender without the right to speak for it floods
    # (the answers are checked last, so that on a server that took them the rollback shows)
    answers = {}
    with live.client(live.client_key) as page:
        body = {"batch": "flood-1", **_window(), "samples": _flood()}
        answers["client key, /sdk/metrics"] = page.post("/sdk/metrics", json=body).status_code
    with live.client(setup.staging_key) as staging:
        body = {"environment": "production", "samples": _flood()}
        answers["staging key"] = staging.post("/api/rollouts/samples", json=body).status_code
        # (its own /sdk/metrics lands in staging, where nothing rolls out)
        body = {"batch": "flood-2", **_window(), "samples": _flood()}
        answers["staging key, staging"] = staging.post("/sdk/metrics", json=body).status_code
    # And the production key sends samples that cannot be the rollout's: counted before it
    # started, or about a variant it does not serve. They are stored, but judge nothing.
    with live.client(live.server_key) as sdk:
        before = _window(setup.started_at - timedelta(minutes=1))
        for batch, window, variant in (("old", before, "on"), ("beta", _window(), "beta")):
            body = {"batch": batch, **window, "samples": _flood(variant)}
            answers[f"production key, {batch}"] = sdk.post("/sdk/metrics", json=body).status_code
    # Then through two looks of the controller (every 5 s) the rollout keeps running.
    with live.client(live.admin) as reader:
        deadline = time.monotonic() + 11
        while time.monotonic() < deadline:
            rollout = _ok(reader.get(f"/api/rollouts/{FLAG}/production"))
            assert rollout["state"] == "running", rollout["reason"]
            time.sleep(0.5)
    guard = [d for d in rollout["judgement"] if d["check"].startswith("errors")]
    assert guard, rollout["judgement"]
    assert guard[0]["action"] == "none"
    assert answers == {
        "client key, /sdk/metrics": 403,
        "staging key": 403,
        "staging key, staging": 202,
        "production key, old": 202,
        "production key, beta": 202,
    }


def test_a_revoked_keys_open_stream_ends_within_seconds(live: Server, setup: Setup) -> None:
    key = _new_key(live, "server", "production")
    # Reads time out after 8 s: pings come every 15 s, so a stream left open would hang.
    timeout = httpx.Timeout(10.0, read=8.0)
    with (
        live.client(key["secret"], timeout=10) as sdk,
        sdk.stream("GET", "/sdk/stream", timeout=timeout) as stream,
    ):
        assert stream.status_code == 200
        chunks = stream.iter_bytes()
        assert b"event: config" in next(chunks)
        # When an admin revokes the key
        with live.client(live.admin) as admin:
            assert admin.delete(f"/api/tokens/{key['id']}").status_code == 204
        started = time.monotonic()
        # Then the stream says so and ends within a few seconds (re-checked every 2 s).
        rest = b"".join(chunks)
        assert time.monotonic() - started < 5
    assert b"event: error" in rest
    assert b"event: config" not in rest
    with live.client(key["secret"]) as sdk:
        assert sdk.get("/sdk/config").status_code == 401


def test_an_expiring_keys_open_stream_ends_when_it_expires(live: Server, setup: Setup) -> None:
    # Given a server key that expires 4 s from now, streaming
    expires = datetime.now(UTC) + timedelta(seconds=4)
    with live.client(live.admin) as admin:
        body = {
            "kind": "server",
            "name": f"short-{time.monotonic_ns()}",
            "environment": "production",
            "expires_at": expires.isoformat(),
        }
        key = _ok(admin.post("/api/tokens", json=body))
    timeout = httpx.Timeout(10.0, read=12.0)
    with (
        live.client(key["secret"], timeout=10) as sdk,
        sdk.stream("GET", "/sdk/stream", timeout=timeout) as stream,
    ):
        assert stream.status_code == 200
        chunks = stream.iter_bytes()
        assert b"event: config" in next(chunks)
        # When its time passes, nobody doing anything
        rest = b"".join(chunks)
        ended = datetime.now(UTC)
    # Then the stream ends at the next re-check (every 2 s): after the expiry, within 5 s of it
    assert expires <= ended < expires + timedelta(seconds=5), (expires, ended)
    assert b"event: error" in rest
    with live.client(key["secret"]) as sdk:
        assert sdk.get("/sdk/config").status_code == 401


@pytest.mark.parametrize(
    "url", ["http://169.254.169.254/", "http://127.0.0.1:9090", "http://[::1]:9090"]
)
def test_a_rollout_cannot_point_prometheus_at_an_address_not_allowed(
    live: Server, setup: Setup, url: str
) -> None:
    body = {
        "flag": "other",
        "service": "checkout",
        "treatment": "on",
        "control": "off",
        "guardrails": ["errors:rate:increase:0%:rollback"],
        "prometheus_url": url,
        "prometheus_queries": {"errors": 'sum(increase(errors_total{variant="$variant"}[1m]))'},
    }
    with live.client(live.admin) as admin:
        flag = {**BOOLEAN_FLAG, "key": "other"}
        if admin.get("/api/flags/other").status_code == 404:
            _ok(admin.post("/api/flags", json=flag))
            _ok(
                admin.patch(
                    "/api/flags/other/environments/production",
                    json={"enabled": True, "default": {"variant": "off"}},
                )
            )
        answer = admin.post("/api/rollouts", json=body)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error.startswith("prometheus_url: ")
    assert "is not an allowed outbound host" in error
    assert "HEADWAY_OUTBOUND_HOSTS" in error


def test_an_operator_can_allow_an_internal_prometheus_explicitly(tmp_path: Any) -> None:
    # Given a server whose operator allows 127.0.0.1:9090 and the loopback network
    settings = Settings(
        database=str(tmp_path / "store.duckdb"),
        outbound_hosts=["127.0.0.1:9090"],
        outbound_private_networks=["127.0.0.1/32"],
    )
    with TestClient(create_app(settings)) as http:
        _, admin = http.app.state.tokens.create("admin", name="ops", actor="test")
        headers = {"Authorization": f"Bearer {admin}"}
        _ok(http.post("/api/flags", json=BOOLEAN_FLAG, headers=headers))
        patch = {"enabled": True, "default": {"variant": "off"}}
        _ok(http.patch(f"/api/flags/{FLAG}/environments/production", json=patch, headers=headers))
        body = {
            "flag": FLAG,
            "service": "checkout",
            "treatment": "on",
            "control": "off",
            "guardrails": ["errors:rate:increase:0%:rollback"],
            "prometheus_queries": {"errors": 'sum(errors_total{variant="$variant"})'},
        }
        # Then the allowed address is accepted, and the metadata service still is not.
        refused = {**body, "prometheus_url": "http://169.254.169.254/"}
        assert http.post("/api/rollouts", json=refused, headers=headers).status_code == 422
        allowed = {**body, "prometheus_url": "http://127.0.0.1:9090"}
        answer = http.post("/api/rollouts", json=allowed, headers=headers)
        assert answer.status_code == 201, answer.text
