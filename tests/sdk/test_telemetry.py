"""SDK metric telemetry: `track()` attributed to the served variant, aggregated, batched, and
stored as guardrail samples by the server."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from headway.config import Settings
from headway.sdk import Client
from headway.sdk.telemetry import ServedVariants
from tests.flags.conftest import BOOLEAN_FLAG, Live, split, start_live, stop_live


@pytest.fixture
def live(tmp_path: Any) -> Iterator[Live]:
    server = start_live(Settings(database=str(tmp_path / "telemetry.duckdb")))
    httpx.post(f"{server.url}/api/flags", json=BOOLEAN_FLAG, headers=server.admin)
    httpx.patch(
        f"{server.url}/api/flags/new-checkout/environments/production",
        json={"enabled": True, "default": split(50)},
        headers=server.admin,
    ).raise_for_status()
    yield server
    stop_live(server)


def stored(live: Live) -> dict[tuple[str, str], tuple[float, float, float]]:
    rows = live.app.state.store.query(
        "SELECT variant, metric, SUM(n), SUM(total), SUM(sumsq) FROM guardrail_samples "
        "WHERE flag = 'new-checkout' AND environment = 'production' GROUP BY variant, metric"
    )
    return {(r[0], r[1]): (r[2], r[3], r[4]) for r in rows}


def _unreachable(served_capacity: int, *flags: tuple[str, str]) -> Client:
    """A client whose server does not answer (it serves its bootstrap), whose flags each serve
    one variant to everyone."""
    return Client(
        "http://headway.invalid",
        "hws_test",
        stream=False,
        poll_interval=3600,
        flush_interval=0,
        transport=httpx.MockTransport(lambda request: httpx.Response(503)),
        served_capacity=served_capacity,
        bootstrap={
            "format": 1,
            "environment": "production",
            "segments": [],
            "flags": [
                {
                    **BOOLEAN_FLAG,
                    "key": key,
                    "environments": {
                        "production": {
                            "enabled": True,
                            "off_variant": "off",
                            "default": {"variant": variant},
                        }
                    },
                }
                for key, variant in flags
            ],
        },
    )


def test_served_variants_keep_a_bounded_number_of_users() -> None:
    # Given room for 4 users: two generations of 2
    client = _unreachable(4, ("f", "on"), ("g", "off"))

    def attributed(user: str) -> int:
        return client.track("clicks", context={"targetingKey": user})

    for user in ("a", "b", "c", "d", "e"):
        client.boolean("f", False, {"targetingKey": user})
    # a, b fill the first generation; c starts the second; d fills it; e pushes a, b out.
    assert attributed("a") == 0
    assert attributed("d") == 1
    # A later evaluation of another flag keeps what the older generation knew.
    client.boolean("g", True, {"targetingKey": "d"})
    assert attributed("d") == 2
    # No targeting key, or a key that is not text: nothing to remember.
    client.boolean("g", True, {})
    client.boolean("g", True, {"targetingKey": 7})
    assert attributed("7") == 0


def test_a_client_that_sends_nothing_records_nothing() -> None:
    # Given the same flag offline, with telemetry off, and online with telemetry
    bootstrap = _unreachable(4, ("f", "on")).snapshot
    assert bootstrap is not None
    offline = Client(offline=True, bootstrap=bootstrap.body)
    silent = Client(
        "http://headway.invalid",
        "hws_test",
        bootstrap=bootstrap.body,
        stream=False,
        poll_interval=3600,
        send_exposures=False,
        transport=httpx.MockTransport(lambda request: httpx.Response(503)),
    )
    sending = _unreachable(4, ("f", "on"))
    for client in (offline, silent, sending):
        assert client.boolean("f", False, {"targetingKey": "a"}) is True
    # Then only the client that sends telemetry attributes a tracked metric to what it served
    assert offline.track("clicks", context={"targetingKey": "a"}) == 0
    assert silent.track("clicks", context={"targetingKey": "a"}) == 0
    assert sending.track("clicks", context={"targetingKey": "a"}) == 1
    for client in (offline, silent, sending):
        client.close()


def test_served_variants_rotate_in_place() -> None:
    served = ServedVariants(capacity=4)
    current = served.current
    for user in ("a", "b", "c", "d", "e"):
        (served.current.get(user) or served.admit(user))["f"] = "on"
    # The map evaluators write into is the same object after two rotations, bounded to 4 keys
    assert served.current is current
    assert len(served) <= 4
    assert served.served("a") == {}
    assert served.served("d") == {"f": "on"}


def test_track_is_attributed_to_the_served_variant_and_sent_with_exposures(live: Live) -> None:
    with Client(live.url, live.server_key, flush_interval=0) as client:
        assert client.wait_until_ready(10)
        # Given 40 users, each served one variant of a 50/50 split
        variants = {}
        for i in range(40):
            context = {"targetingKey": f"u{i}"}
            variants[i] = client.evaluate("new-checkout", context).variant
            # When treatment users error once and everyone records a latency
            if variants[i] == "on":
                assert client.track("errors", context=context) == 1
            latency = 130.0 if variants[i] == "on" else 100.0
            client.track("latency_ms", latency, context)
        on = sum(v == "on" for v in variants.values())
        off = 40 - on
        assert 0 < on < 40
        # A user this client never served, and a bad metric name, are attributed nowhere.
        assert client.track("errors", context={"targetingKey": "stranger"}) == 0
        assert client.track("bad name!", context={"targetingKey": "u0"}) == 0
        assert "not a metric name" in (client.last_error or "")
        # Then one flush sends 2 exposure rows and 3 metric rows (errors on; latency on, off)
        assert client.flush() == 5

    # Then the server stored them as guardrail samples: an event counts 1 (n = total = sumsq),
    # a latency of 130 ms adds 130 to the sum and 130² = 16,900 to the sum of squares.
    assert stored(live) == {
        ("on", "errors"): (on, on, on),
        ("on", "latency_ms"): (on, 130.0 * on, 16_900.0 * on),
        ("off", "latency_ms"): (off, 100.0 * off, 10_000.0 * off),
    }
    exposures = live.app.state.flags.exposures("production", "new-checkout")
    assert exposures == {"on": on, "off": off}


def test_the_metrics_endpoint_ignores_a_redelivered_batch_and_refuses_bad_input(
    live: Live,
) -> None:
    key = {"Authorization": f"Bearer {live.server_key}"}
    body = {
        "batch": "b-1",
        "from": "2026-03-02T09:00:00Z",
        "to": "2026-03-02T09:00:10Z",
        "samples": [
            {
                "flag": "new-checkout",
                "variant": "on",
                "metric": "errors",
                "n": 3,
                "total": 3,
                "sumsq": 3,
            },
        ],
    }
    # Given a batch delivered twice, Then it is stored once
    for _ in range(2):
        answer = httpx.post(f"{live.url}/sdk/metrics", json=body, headers=key)
        assert answer.status_code == 202, answer.text
    assert stored(live) == {("on", "errors"): (3.0, 3.0, 3.0)}
    # A request without a key, with an admin token, or with a bad metric name is a 4xx.
    assert httpx.post(f"{live.url}/sdk/metrics", json=body).status_code == 401
    assert httpx.post(f"{live.url}/sdk/metrics", json=body, headers=live.admin).status_code == 403
    bad = {**body, "batch": "b-2", "samples": [{**body["samples"][0], "metric": "a b"}]}
    answer = httpx.post(f"{live.url}/sdk/metrics", json=bad, headers=key)
    assert answer.status_code == 422
    assert "samples[0].metric 'a b' is not a metric name" in answer.json()["error"]


def test_openfeature_track_reaches_the_guardrail_samples(live: Live) -> None:
    from openfeature import api
    from openfeature.evaluation_context import EvaluationContext
    from openfeature.track import TrackingEventDetails

    from headway.sdk.openfeature import HeadwayProvider

    provider = HeadwayProvider(url=live.url, sdk_key=live.server_key, flush_interval=0)
    api.set_provider_and_wait(provider, "headway-track")
    of = api.get_client("headway-track")
    try:
        # Given a user served a variant through OpenFeature
        details = of.get_boolean_details("new-checkout", False, EvaluationContext("u7"))
        # When the application tracks two latencies for that user
        for value in (200.0, 300.0):
            of.track("latency_ms", EvaluationContext("u7"), TrackingEventDetails(value=value))
        provider.client.flush()
    finally:
        api.shutdown()
    # Then they count for the served variant: n 2, sum 500, sum of squares 40,000 + 90,000.
    assert stored(live) == {(details.variant, "latency_ms"): (2.0, 500.0, 130_000.0)}
