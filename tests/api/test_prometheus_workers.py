"""`headway serve --workers 2`: /metrics counts the deliveries of every worker."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import httpx
import pytest

from headway.config import Settings
from headway.store import open_store
from tests.api.conftest import SECRETS, body_of, fixture, github_headers
from tests.conftest import free_port, make_token, wait_until_serving


@pytest.mark.slow
@pytest.mark.postgres
def test_delivery_counters_sum_every_worker(pg_schema_url: str) -> None:
    open_store(Settings(database=pg_schema_url)).close()  # migrate before the workers race
    env = {
        **os.environ,
        "HEADWAY_DATABASE": pg_schema_url,
        "HEADWAY_GITHUB_WEBHOOK_SECRET": SECRETS["github_webhook_secret"],
    }
    env.pop("HEADWAY_URL", None)
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    scrape = make_token(env, "scrape")
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "headway",
            "serve",
            "--port",
            str(port),
            "--workers",
            "2",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base)
        # 40 pings, each on a connection of its own so both workers take some
        body = body_of(fixture("github/ping/payload.json"))
        for _ in range(40):
            answer = httpx.post(
                f"{base}/hooks/github", content=body, headers=github_headers(body, "ping")
            )
            assert answer.status_code == 202
        # Whichever worker answers the scrape, it reports all 40 (ignored: a ping is not used)
        counted = re.compile(
            r'^headway_webhook_deliveries_total\{outcome="ignored",source="github"\} (\S+)$', re.M
        )
        for _ in range(6):
            scraped = httpx.get(
                f"{base}/metrics", headers={"Authorization": f"Bearer {scrape}"}
            ).text
            assert [float(v) for v in counted.findall(scraped)] == [40.0]
    finally:
        server.terminate()
        server.wait(30)
