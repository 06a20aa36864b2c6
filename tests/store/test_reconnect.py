"""A PostgreSQL store outlives its server's restart: while the server is down every statement
raises StoreUnavailable, and once it is back the lost connection is replaced, without
reopening the store and without committing anything the lost connection held."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from headway.config import Settings
from headway.model import Service
from headway.store import Store, StoreUnavailable, open_store
from tests.conftest import OwnPostgres


@pytest.fixture
def own_store(own_postgres: OwnPostgres) -> Iterator[Store]:
    store = open_store(Settings(database=own_postgres.url))
    yield store
    store.close()


def _names(store: Store, seconds: float = 10.0) -> list[str]:
    """The services' names, once the store answers again."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return [r[0] for r in store.query("SELECT name FROM services ORDER BY name")]
        except StoreUnavailable:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_reads_and_writes_say_the_store_is_down_then_work_once_it_is_back(
    own_postgres: OwnPostgres, own_store: Store
) -> None:
    # Given a store holding one service
    own_store.write([Service(name="before")])

    # When its server stops
    own_postgres.stop()

    # Then reads, writes and the health ping say it cannot be reached, naming the store but
    # not where it is (clients see this), and none leaks psycopg's own error
    with pytest.raises(
        StoreUnavailable, match=r"^The store \(PostgreSQL\) cannot be reached\."
    ) as e:
        own_store.query("SELECT count(*) FROM services")
    assert "127.0.0.1" not in str(e.value)
    with pytest.raises(StoreUnavailable):
        own_store.write([Service(name="during")])
    time.sleep(0.6)  # past the pause between attempts to reconnect
    with pytest.raises(StoreUnavailable):
        own_store.ping(0.05)

    # When it starts again, the next statement reconnects
    own_postgres.start()

    # Then what was committed is there, the refused write is not, and writing works
    assert _names(own_store) == ["before"]
    own_store.write([Service(name="after")])
    assert _names(own_store) == ["after", "before"]


def test_a_transaction_whose_connection_was_lost_commits_nothing_on_the_new_one(
    own_postgres: OwnPostgres, own_store: Store
) -> None:
    # Given a transaction that wrote a service, when the server restarts before it ends
    def restarted_mid_transaction() -> None:
        with own_store.transaction():
            own_store.write([Service(name="lost")])
            own_postgres.stop()
            own_postgres.start()
            own_store.write([Service(name="second")])

    # Then the transaction does not carry on over a new connection (where its first write
    # would be missing and COMMIT would succeed anyway)
    with pytest.raises(StoreUnavailable):
        restarted_mid_transaction()

    # And neither write is stored; the store works again afterwards
    assert _names(own_store) == []
    own_store.write([Service(name="next")])
    assert _names(own_store) == ["next"]
