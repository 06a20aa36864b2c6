"""Work that one holder at a time may do, across every server process on one store.

Several `headway serve` replicas on one PostgreSQL each run the rollout controller; two of
them reading the same rollout and both acting on it would record its moves twice, and one
acting on what it read before another moved the rollout could undo that move (put back to
running a rollout just rolled back). `Exclusive` serialises such work: on PostgreSQL with a
session advisory lock on a connection of its own (so a holder that dies, or loses its
connection, lets go at once), named per schema so that stores in different schemas of one
database do not wait for each other; within a process with a re-entrant lock, so a holder may
call other work that takes the same lock. A DuckDB file has one writing process, so there
the process's own lock is all there is.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Concatenate, ParamSpec, Protocol, TypeVar

from headway.store.base import Store, StoreBusyError, StoreUnavailable

__all__ = ["Exclusive", "exclusively"]

# How long work that must run (a command) waits for another holder: a controller pass takes
# milliseconds, unless it waits on a Prometheus query.
WAIT_S = 30.0


class Exclusive:
    """`held()` one holder at a time among every process using this store under `name`."""

    def __init__(self, store: Store, name: str, wait_s: float = WAIT_S) -> None:
        if not name.replace(".", "").replace("_", "").isalnum():
            raise ValueError(f"lock name {name!r}: use letters, digits, dots and underscores")
        self.store = store
        self.name = name
        self.wait_s = wait_s
        self._local = threading.RLock()
        self._depth = 0  # how deep the thread holding `_local` is nested

    @contextmanager
    def held(self, *, wait: bool = True) -> Iterator[bool]:
        """Hold the lock for the block; True when held. With `wait=False` the block runs
        with False at once when another process or thread holds it (do nothing then);
        otherwise it waits up to `wait_s` seconds, then raises StoreBusyError."""
        if not self._local.acquire(blocking=wait, timeout=self.wait_s if wait else -1):
            if not wait:
                yield False
                return
            raise StoreBusyError(self._busy())
        try:
            if self._depth or self.store.dialect != "postgres":
                self._depth += 1
                try:
                    yield True
                finally:
                    self._depth -= 1
                return
            con = self._connect()
            try:
                if not self._take(con, wait):
                    yield False
                    return
                self._depth = 1
                try:
                    yield True
                finally:
                    self._depth = 0
            finally:
                con.close()  # ends the session, and with it the advisory lock
        finally:
            self._local.release()

    def _connect(self) -> Any:
        import psycopg

        url: str = getattr(self.store, "url", "")
        try:
            return psycopg.connect(url, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError:
            raise _unreachable() from None

    def _take(self, con: Any, wait: bool) -> bool:
        import psycopg

        # Keyed by schema and name; both are fixed text (the name checked above), so the
        # statement carries no value.
        key = f"hashtextextended(current_schema() || ':{self.name}', 0)"
        try:
            if not wait:
                return bool(con.execute(f"SELECT pg_try_advisory_lock({key})").fetchone()[0])
            con.execute(f"SET lock_timeout = {int(self.wait_s * 1000)}")
            con.execute(f"SELECT pg_advisory_lock({key})")
            return True
        except psycopg.errors.LockNotAvailable:
            raise StoreBusyError(self._busy()) from None
        except psycopg.OperationalError:
            raise _unreachable() from None

    def _busy(self) -> str:
        return (
            f"another server has held the {self.name} lock for over {self.wait_s:.0f} s; try again"
        )


def _unreachable() -> StoreUnavailable:
    return StoreUnavailable(
        "The store (PostgreSQL) cannot be reached. Nothing was written; Headway "
        f"reconnects by itself, so try again in {StoreUnavailable.retry_after} s."
    )


class Holder(Protocol):
    exclusive: Exclusive


H = TypeVar("H", bound=Holder)
P = ParamSpec("P")
R = TypeVar("R")


def exclusively(method: Callable[Concatenate[H, P], R]) -> Callable[Concatenate[H, P], R]:
    """Run the method while its object's `exclusive` lock is held (waiting for it): what the
    method decides, it decides on what the store holds then, not on what another process
    has changed since it last looked."""

    @functools.wraps(method)
    def held(self: H, /, *args: P.args, **kwargs: P.kwargs) -> R:
        with self.exclusive.held():
            return method(self, *args, **kwargs)

    return held
