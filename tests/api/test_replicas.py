"""Two `headway serve` processes on one PostgreSQL schema, as replicas behind a load balancer.

A sender that retries through the balancer may reach either replica with the same delivery,
at the same moment: each delivery is stored once. A flag changed through one replica's API
reaches an SDK streaming from the other (PostgreSQL NOTIFY carries it between them).
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack

import httpx
import psycopg
import pytest

from headway.sdk import Client
from tests.api.conftest import SECRETS, fixture, github_headers
from tests.conftest import make_token, serving
from tests.flags.conftest import BOOLEAN_FLAG, eventually

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

DELIVERIES = 40


@pytest.fixture
def replicas(pg_schema_url: str) -> Iterator[tuple[list[str], dict[str, str], str]]:
    """Two servers' URLs on one schema, an admin's headers and a production server SDK key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env.update(
        HEADWAY_DATABASE=pg_schema_url,
        HEADWAY_GITHUB_WEBHOOK_SECRET=SECRETS["github_webhook_secret"],
    )
    admin = make_token(env, "admin")  # also migrates the schema, before either server starts
    sdk_key = make_token(env, "server", "production")
    with ExitStack() as stack:
        urls = [stack.enter_context(serving(env)) for _ in range(2)]
        yield urls, {"Authorization": f"Bearer {admin}"}, sdk_key


def test_deliveries_sent_to_both_replicas_are_stored_once(
    replicas: tuple[list[str], dict[str, str], str], pg_schema_url: str
) -> None:
    urls, _, _ = replicas
    payload = fixture("github/pull_request/opened.payload.json")
    sends = []
    for number in range(1, DELIVERIES + 1):
        payload["pull_request"]["number"] = number
        body = json.dumps(payload).encode()
        sends.append((body, github_headers(body, "pull_request", str(uuid.uuid4()))))

    # Each delivery goes to both replicas at once, as a retry through a balancer could
    def post(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return httpx.post(f"{url}/hooks/github", content=body, headers=headers, timeout=30)

    with ThreadPoolExecutor(16) as pool:
        answers = [
            [pool.submit(post, url, body, headers) for url in urls] for body, headers in sends
        ]
        outcomes = [[f.result() for f in pair] for pair in answers]

    # Then both replicas acknowledge every delivery, and exactly one of the two stored it
    for pair in outcomes:
        assert [r.status_code for r in pair] == [200, 200], [r.text for r in pair]
        assert sorted(r.json()["outcome"] for r in pair) == ["accepted", "duplicate"], [
            r.json() for r in pair
        ]
    # And each is in the store once, with the one pull request it opened
    ids = {headers["X-GitHub-Delivery"] for _, headers in sends}
    with psycopg.connect(pg_schema_url) as con:
        stored = con.execute(
            "SELECT source_id, count(*) FROM raw_events WHERE source = 'github' GROUP BY 1"
        ).fetchall()
        changes = con.execute("SELECT number FROM changes ORDER BY number").fetchall()
    assert dict(stored) == dict.fromkeys(ids, 1)
    assert [n for (n,) in changes] == list(range(1, DELIVERIES + 1))


def test_a_flag_change_made_on_one_replica_reaches_sdks_on_the_other(
    replicas: tuple[list[str], dict[str, str], str],
) -> None:
    (first, second), admin, sdk_key = replicas
    httpx.post(f"{first}/api/flags", json=BOOLEAN_FLAG, headers=admin).raise_for_status()
    httpx.patch(
        f"{first}/api/flags/new-checkout/environments/production",
        json={"enabled": True, "default": {"variant": "on"}},
        headers=admin,
    ).raise_for_status()
    on_second = Client(second, sdk_key, flush_interval=0)
    on_first = Client(first, sdk_key, flush_interval=0)
    try:
        for sdk in (on_first, on_second):
            assert sdk.wait_until_ready(10)
            assert eventually(lambda sdk=sdk: sdk.connected)
            assert sdk.boolean("new-checkout", False) is True
        # When the flag is switched off through the first replica
        httpx.post(
            f"{first}/api/flags/new-checkout/kill", json={}, headers=admin
        ).raise_for_status()
        # Then the SDK streaming from the second replica serves it off within seconds
        assert eventually(lambda: on_second.evaluate("new-checkout").reason == "DISABLED", 5), (
            on_second.last_error
        )
        assert on_second.boolean("new-checkout", True) is False
        # And a change through the second replica reaches the SDK on the first
        httpx.patch(
            f"{second}/api/flags/new-checkout/environments/production",
            json={"enabled": True},
            headers=admin,
        ).raise_for_status()
        assert eventually(lambda: on_first.boolean("new-checkout", False) is True, 5), (
            on_first.last_error
        )
    finally:
        on_first.close()
        on_second.close()
