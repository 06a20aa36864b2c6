"""A store outage under load: `headway serve` on a PostgreSQL the test runs itself, a sender of
signed GitHub deliveries, an SDK streaming, and the PostgreSQL stopped for five seconds.

While it is down, deliveries and flag changes answer 503 with Retry-After, reads say the store
cannot be reached, /healthz says so too, and the SDK keeps serving its last configuration.
Once it is back everything works again in the same server process: the retried deliveries are
stored exactly once, and a flag change made on another replica reaches the SDK.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from headway.config import Settings
from headway.flags.service import FlagService
from headway.sdk import Client
from headway.store import open_store
from tests.api.conftest import fixture
from tests.conftest import OwnPostgres, free_port, make_token, wait_until_serving
from tests.flags.conftest import BOOLEAN_FLAG, eventually

pytestmark = pytest.mark.slow

SECRET = "outage-secret"
DOWN_S = 5.0
SENDERS = 4
RETRY_PAUSE_S = 0.25  # quicker than Retry-After asks, to keep the test short


@dataclass
class Server:
    url: str
    admin: dict[str, str]
    server_key: str
    log: Path


@pytest.fixture
def server(own_postgres: OwnPostgres, tmp_path: Path) -> Iterator[Server]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env.update(HEADWAY_DATABASE=own_postgres.url, HEADWAY_GITHUB_WEBHOOK_SECRET=SECRET)
    admin = make_token(env, "admin")
    server_key = make_token(env, "server", "production")
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "headway", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url)
        yield Server(url, {"Authorization": f"Bearer {admin}"}, server_key, log)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@dataclass
class Sender:
    """Sends distinct pull-request deliveries one after another; a 503 is sent again. Each
    of the `SENDERS` threads runs one."""

    url: str
    stop: threading.Event = field(default_factory=threading.Event)
    answers: dict[str, list[tuple[int, str | None]]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    numbers: Iterator[int] = field(default_factory=lambda: itertools.count(10_000))

    def run(self) -> None:
        payload = fixture("github/pull_request/opened.payload.json")
        with httpx.Client(base_url=self.url, timeout=30) as http:
            while not self.stop.is_set():
                payload["pull_request"]["number"] = next(self.numbers)
                body = json.dumps(payload).encode()
                delivery = str(uuid.uuid4())
                self.order.append(delivery)
                answers = self.answers.setdefault(delivery, [])
                signature = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
                headers = {
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": delivery,
                    "X-Hub-Signature-256": f"sha256={signature}",
                    "Content-Type": "application/json",
                }
                while True:  # as a sender that retries would, until it is acknowledged
                    response = http.post("/hooks/github", content=body, headers=headers)
                    answers.append((response.status_code, response.headers.get("retry-after")))
                    if response.status_code != 503:
                        break
                    time.sleep(RETRY_PAUSE_S)
                time.sleep(0.01)


@dataclass
class Prober:
    """Asks /healthz every 100 ms and keeps each answer's status, in order."""

    url: str
    stop: threading.Event = field(default_factory=threading.Event)
    statuses: list[int] = field(default_factory=list)

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=10) as http:
            while not self.stop.is_set():
                self.statuses.append(http.get("/healthz").status_code)
                time.sleep(0.1)


def _answered_within(seconds: float, check: object) -> bool:
    return bool(eventually(check, seconds))


def test_a_store_outage_under_load_is_survived_without_a_restart(
    own_postgres: OwnPostgres, server: Server
) -> None:
    url = server.url
    # Given a flag that is on, and an SDK streaming production's configuration
    httpx.post(f"{url}/api/flags", json=BOOLEAN_FLAG, headers=server.admin).raise_for_status()
    httpx.patch(
        f"{url}/api/flags/new-checkout/environments/production",
        json={"enabled": True, "default": {"variant": "on"}},
        headers=server.admin,
    ).raise_for_status()
    sdk = Client(url, server.server_key, flush_interval=0)
    sender, prober = Sender(url), Prober(url)
    threads = [threading.Thread(target=t.run, daemon=True) for t in (*[sender] * SENDERS, prober)]
    try:
        assert sdk.wait_until_ready(10)
        assert eventually(lambda: sdk.connected)
        assert sdk.boolean("new-checkout", False) is True
        etag = sdk.etag
        # And a steady stream of signed deliveries
        for thread in threads:
            thread.start()
        time.sleep(1.5)

        # When PostgreSQL stops for five seconds
        own_postgres.stop()
        down_at = time.monotonic()
        time.sleep(0.5)
        # Then a flag change answers 503 with Retry-After, saying nothing was written
        change = httpx.post(
            f"{url}/api/flags/new-checkout/kill", json={}, headers=server.admin, timeout=10
        )
        assert change.status_code == 503, change.text
        assert int(change.headers["retry-after"]) > 0
        # And a read says the store cannot be reached, naming it, not a traceback (nor where
        # the database is: the server's log says that)
        read = httpx.get(f"{url}/api/flags", headers=server.admin, timeout=10)
        assert read.status_code == 503, read.text
        assert read.json()["error"].startswith("The store (PostgreSQL) cannot be reached.")
        assert str(own_postgres.port) not in read.text
        # And /healthz says so, with the reason
        health = httpx.get(f"{url}/healthz", timeout=10)
        assert health.status_code == 503
        assert health.json()["status"] == "store unavailable"
        assert "cannot be reached" in health.json()["error"]
        # And the SDK keeps serving its last configuration
        assert sdk.boolean("new-checkout", False) is True
        assert sdk.etag == etag
        time.sleep(max(0.0, DOWN_S - (time.monotonic() - down_at)))

        # When it starts again
        own_postgres.start()
        back_at = time.monotonic()

        # Then within seconds /healthz is 200 again, in the same server process
        assert _answered_within(10, lambda: prober.statuses[-1:] == [200])
        recovered_s = time.monotonic() - back_at
        # And a flag change made on another replica (its NOTIFY heard by a listener that had
        # to reconnect) reaches the SDK
        replica = open_store(Settings(database=own_postgres.url))
        try:
            FlagService(replica).kill("new-checkout", actor="replica", reason="outage drill")
        finally:
            replica.close()
        assert eventually(lambda: sdk.evaluate("new-checkout").reason == "DISABLED", 10), (
            sdk.last_error
        )
        # And deliveries are acknowledged again
        sent = len(sender.order)
        assert eventually(lambda: len(sender.order) > sent + 5, 10)
    finally:
        sender.stop.set()
        prober.stop.set()
        for thread in threads:
            thread.join(60)
        sdk.close()

    # Then no request was ever answered 500 (or any 5xx but 503), and the log says where the
    # store was lost and when it came back
    log = server.log.read_text(errors="replace")
    assert f"lost the connection to PostgreSQL at {own_postgres.url}" in log
    assert "reconnected to PostgreSQL after" in log
    statuses = [status for answers in sender.answers.values() for status, _ in answers]
    assert all(s in (200, 503) for s in statuses), (sorted(set(statuses)), log[-3000:])
    assert set(prober.statuses) <= {200, 503}
    # And the outage was really met under load: deliveries were refused, with Retry-After
    refused = [d for d, answers in sender.answers.items() if answers[0][0] == 503]
    assert refused, "no delivery was sent while the store was down"
    assert all(
        retry is not None and int(retry) > 0
        for answers in sender.answers.values()
        for status, retry in answers
        if status == 503
    )
    # And every delivery was acknowledged in the end
    acknowledged = [d for d in sender.order if sender.answers[d][-1][0] == 200]
    assert acknowledged == sender.order
    # And /healthz went from 200 to 503 and back to 200
    first_down = prober.statuses.index(503)
    assert 200 in prober.statuses[:first_down]
    assert 200 in prober.statuses[first_down:]
    assert recovered_s < 10

    # And each acknowledged delivery, refused ones included, is stored exactly once, with the
    # one pull request it opened
    store = open_store(Settings(database=own_postgres.url))
    try:
        stored = dict(
            store.query(
                "SELECT source_id, count(*) FROM raw_events WHERE source = 'github' "
                "GROUP BY source_id"
            )
        )
        changes = store.query("SELECT count(*) FROM changes")[0][0]
    finally:
        store.close()
    assert stored == dict.fromkeys(acknowledged, 1)
    assert changes == len(acknowledged)
