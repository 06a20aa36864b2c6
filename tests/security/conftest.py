"""A running `headway serve` on each engine, for replaying attacks as a network client would.

Each module gets one server per engine (starting one costs a few seconds). Tokens of every
kind are made with the CLI before the server starts, exactly as an operator would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
import pytest

from tests.api.conftest import SECRETS
from tests.conftest import PG_URL, free_port, make_token, run_headway, wait_until_serving

HEADER_TIMEOUT_S = 4
BODY_IDLE_TIMEOUT_S = 6


@dataclass(frozen=True)
class Server:
    """A live server and the secrets a test needs to talk to it."""

    url: str
    engine: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    admin: str
    server_key: str  # server SDK key of `production`
    client_key: str  # client (OFREP) key of `production`

    def client(self, token: str | None = None, timeout: float = 10.0) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def headway(self, *args: str, remote: bool = False) -> subprocess.CompletedProcess[str]:
        """Run the CLI against this server's store (`remote`: through the server)."""
        env = dict(self.env)
        if remote:
            env.update(HEADWAY_URL=self.url, HEADWAY_TOKEN=self.admin)
        return run_headway(*args, env=env)


@pytest.fixture(
    scope="module", params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """`headway serve` on a fresh store of each engine, with webhook secrets and tokens."""
    folder = tmp_path_factory.mktemp("live")
    schema = None
    if request.param == "duckdb":
        database = str(folder / "store.duckdb")
    else:
        request.getfixturevalue("postgres_url")
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(PG_URL, autocommit=True) as con:
            con.execute(f"CREATE SCHEMA {schema}")
        sep = "&" if "?" in PG_URL else "?"
        database = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env.update(
        HEADWAY_DATABASE=database,
        COLUMNS="200",
        # Shorter than the defaults (10 s, 30 s) so the slow-client tests take seconds, not
        # a minute; the rule is the same.
        HEADWAY_HEADER_TIMEOUT_S=str(HEADER_TIMEOUT_S),
        HEADWAY_BODY_IDLE_TIMEOUT_S=str(BODY_IDLE_TIMEOUT_S),
        **{f"HEADWAY_{k.upper()}": v for k, v in SECRETS.items()},
        # The GitHub App's secrets are stored only encrypted: without a key its manifest is 503.
        HEADWAY_SECRET_KEY="q83vEjRWeJC7ze8SNFZ4kLvN7xI0VniQu83vEjRWeJA=",
    )
    env.update(getattr(request.module, "LIVE_ENV", {}))  # a module's own settings
    admin = make_token(env, "admin")
    server_key = make_token(env, "server", "production")
    client_key = make_token(env, "client", "production")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "headway", "serve", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=folder,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(url)
        yield Server(url, request.param, env, process, admin, server_key, client_key)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
        if schema:
            with psycopg.connect(PG_URL, autocommit=True) as con:
                con.execute(f"DROP SCHEMA {schema} CASCADE")


def served_path(tmp: Path) -> Path:
    """A file an attacker would like the server to read: it exists and is not a definition."""
    path = tmp / "secret.toml"
    path.write_text('name = "leaked"\nthis is not toml\n')
    return path
