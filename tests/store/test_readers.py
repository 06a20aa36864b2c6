"""Long reads on connections of their own (`Store.read_only`, `store.readers.Readers`).

On PostgreSQL a metrics query borrows a read-only connection, so it neither waits for the
store's lock, which every write takes, nor holds it: a webhook group commit or a kill switch
never waits behind a dashboard. The embedded store has one connection and lends itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import literal_column, select

from headway.api.app import create_app
from headway.config import Settings
from headway.ingest import ingest
from headway.model import Deployment, Service
from headway.store import Store, open_store
from headway.store.readers import Readers

ONE = select(literal_column("1"))
# A bound on how long a test waits for a thread before calling it stuck, so that a reader
# sharing the store's lock fails the test instead of hanging it; not a measure of speed.
STUCK_S = 30


def in_thread(work: Callable[[], Any]) -> list[Any]:
    """Run `work` in a thread; what it returned, or [] if it was still running after
    STUCK_S seconds."""
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    thread.join(STUCK_S)
    return out


@contextmanager
def writing(store: Store) -> Iterator[None]:
    """Another thread inside a transaction of `store`, holding its lock, for the block."""
    entered, release = threading.Event(), threading.Event()

    def write() -> None:
        with store.transaction():
            entered.set()
            release.wait()

    thread = threading.Thread(target=write, daemon=True)
    thread.start()
    entered.wait()
    try:
        yield
    finally:
        release.set()
        thread.join()


@pytest.mark.postgres
def test_a_reader_answers_while_a_write_holds_the_store(pg_schema_url: str) -> None:
    store = open_store(Settings(database=pg_schema_url))
    readers = Readers(store, 2)
    try:
        with writing(store), readers.lend() as reader:
            assert reader is not store
            assert in_thread(lambda: reader.rows(ONE)) == [[(1,)]]
            # the store's own connection, by contrast, is the writer's until it ends
            assert not store._lock.acquire(blocking=False)
    finally:
        readers.close()
        store.close()


@pytest.mark.postgres
def test_a_reader_refuses_to_write(pg_schema_url: str) -> None:
    store = open_store(Settings(database=pg_schema_url))
    reader = store.read_only()
    try:
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            reader.execute("CREATE TABLE written_by_a_reader (id int)")
        assert store.query("SELECT to_regclass('written_by_a_reader')") == [(None,)]
    finally:
        reader.close()
        store.close()


@pytest.mark.postgres
def test_readers_open_when_needed_up_to_their_number_and_are_reused(pg_schema_url: str) -> None:
    store = open_store(Settings(database=pg_schema_url))
    readers = Readers(store, 2)
    try:
        assert readers._opened == []  # nothing opened before the first read
        with readers.lend() as first, readers.lend() as second:
            assert first is not second
        with readers.lend() as again:
            assert again in (first, second)
        assert len(readers._opened) == 2
    finally:
        readers.close()
        store.close()
    assert [r._closed for r in (first, second)] == [True, True]  # type: ignore[attr-defined]


@pytest.mark.postgres
def test_a_read_while_every_reader_is_lent_waits_for_one(pg_schema_url: str) -> None:
    store = open_store(Settings(database=pg_schema_url))
    readers = Readers(store, 1)
    got: list[Store] = []
    try:
        with readers.lend() as held:
            waiting = threading.Thread(target=lambda: got.append(_lend_one(readers)))
            waiting.start()
        waiting.join(STUCK_S)
        assert got == [held]  # the same connection, given back: no second one was opened
        assert readers._opened == [held]
    finally:
        readers.close()
        store.close()


def _lend_one(readers: Readers) -> Store:
    with readers.lend() as reader:
        return reader


def test_the_embedded_store_lends_itself(tmp_path: Any) -> None:
    store = open_store(Settings(database=str(tmp_path / "store.duckdb")))
    readers = Readers(store, 2)
    try:
        with readers.lend() as reader:
            assert reader is store
        readers.close()
        assert store.rows(ONE) == [(1,)]  # closing the readers left the store open
    finally:
        store.close()


@pytest.mark.postgres
def test_the_metrics_answer_while_a_write_holds_the_store(pg_schema_url: str) -> None:
    settings = Settings(database=pg_schema_url)
    with TestClient(create_app(settings)) as http:
        app: Any = http.app
        at = datetime(2026, 10, 5, 12, tzinfo=UTC).replace(tzinfo=None)
        ingest(app.state.store, settings, [Service("pay"), Deployment("ci", "d1", "pay", at)])
        _, secret = app.state.tokens.create("viewer", name="dashboard", actor="test")
        headers = {"Authorization": f"Bearer {secret}"}
        http.get("/api/metrics", headers=headers)  # the token verified before the write
        period = {"since": "2026-10-01", "until": "2026-10-31"}
        with writing(app.state.store):
            answers = in_thread(lambda: http.get("/api/metrics", params=period, headers=headers))
            listed = in_thread(lambda: http.get("/api/deployments", params=period, headers=headers))
        assert [a.status_code for a in answers + listed] == [200, 200]
        assert answers[0].json()["deployment_frequency"]["deployments"] == 1
        assert [d["service"] for d in listed[0].json()] == ["pay"]
