"""Replicas started at the same moment on one PostgreSQL schema migrate it once, together."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from headway.store.base import _migration_files

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
