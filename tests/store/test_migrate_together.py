"""Replicas started at the same moment on one PostgreSQL schema migrate it once, together, and
make one first admin token between them."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg
import pytest

from headway.store.base import _migration_files
from tests.conftest import free_port, wait_until_serving

pytestmark = pytest.mark.postgres

PROCESSES = 4


def test_servers_starting_together_on_a_new_schema_all_start(pg_schema_url: str) -> None:
    # Given four processes opening (and so migrating) the same empty schema at once
    code = (
        "from headway.config import Settings\n"
        "from headway.store import open_store\n"
        f"open_store(Settings(database={pg_schema_url!r})).close()\n"
    )
    processes = [
        subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
        for _ in range(PROCESSES)
    ]
    errors = [p.communicate(timeout=120)[1] for p in processes]
    # Then every one of them opens it: none fails on a table another created first
    assert [p.returncode for p in processes] == [0] * PROCESSES, "\n".join(errors)
    # And each migration was applied once
    with psycopg.connect(pg_schema_url) as con:
        applied = [name for (name,) in con.execute("SELECT name FROM schema_migrations")]
    assert sorted(applied) == sorted(name for name, _ in _migration_files())


def test_replicas_starting_together_on_an_empty_store_make_one_bootstrap_token(
    pg_schema_url: str,
) -> None:
    # Given three `headway serve` processes started at once on an empty schema
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env["HEADWAY_DATABASE"] = pg_schema_url
    ports = [free_port() for _ in range(3)]
    servers = [
        subprocess.Popen(
            [sys.executable, "-m", "headway", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for port in ports
    ]
    try:
        # Then all of them serve
        for port in ports:
            wait_until_serving(f"http://127.0.0.1:{port}")
    finally:
        for server in servers:
            server.terminate()
        output = [server.communicate(timeout=30)[0].decode() for server in servers]
    # And one of them made the first admin token and showed it; the others found it made
    with psycopg.connect(pg_schema_url) as con:
        made = con.execute("SELECT kind, name FROM api_tokens").fetchall()
    assert made == [("admin", "bootstrap")]
    assert sum("No admin token existed" in text for text in output) == 1, output
