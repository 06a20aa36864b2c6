"""Connections for the long reads, lent one request at a time.

A metrics query can take a second or more in PostgreSQL. On the store's own connection it
would hold the lock every webhook group commit and every flag change waits for, so a
dashboard refreshing every second would stall both. Reads that only read (the metrics, their
records) borrow one of a few read-only connections of their own instead: they wait for no
write and no write waits for them, and no more than `size` of them run at once, however many
arrive together. An embedded store has one connection, which its readers share as before.

The short reads every request or flag change makes (a token's check, the flag hub's reload)
have readers of their own (`LOOKUPS`, `app.state.lookups`): on the store's connection they
queued behind each webhook group's transaction, and behind the metrics' readers they would
wait for a dashboard's query.

What a reader sees: each statement sees every transaction committed before it started, on
any connection. A write by this process is committed before its `Store.transaction` returns
and before its `after_commit` callbacks run, so a read made after that, on a reader, sees it.
A read inside a transaction, whose answer a write in it depends on, stays on the store.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

from headway.store.base import Store

__all__ = ["LOOKUPS", "Lend", "Readers", "own"]

# Readers for the short reads on the request path, per server process.
LOOKUPS = 2

#: Lends a store to read from for as long as a block runs (`Readers.lend`, `own`).
Lend = Callable[[], AbstractContextManager[Store]]


def own(store: Store) -> Lend:
    """Lends `store` itself: its reads on its own connection, as without readers."""
    return lambda: nullcontext(store)


class Readers:
    """Up to `size` readers of `store` (`Store.read_only`), each opened when first needed."""

    def __init__(self, store: Store, size: int) -> None:
        self.store = store
        self.size = size
        self._idle: queue.LifoQueue[Store] = queue.LifoQueue()
        self._opened: list[Store] = []
        self._lock = threading.Lock()

    @contextmanager
    def lend(self) -> Iterator[Store]:
        """A reader for as long as the block runs; waits while all `size` are lent."""
        reader = self._take()
        try:
            yield reader
        finally:
            self._idle.put(reader)

    def _take(self) -> Store:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._opened) < self.size:
                reader = self.store.read_only()
                self._opened.append(reader)
                return reader
        return self._idle.get()

    def close(self) -> None:
        """Close the readers that are connections of their own."""
        with self._lock:
            for reader in self._opened:
                if reader is not self.store:
                    reader.close()
            self._opened.clear()
