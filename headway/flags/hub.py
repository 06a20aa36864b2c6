"""Distribution inside the server: current snapshots per environment, pushed to SSE streams.

`refresh()` is called after every local change and, on PostgreSQL, whenever another replica
announces one (LISTEN/NOTIFY); it rebuilds the snapshots and hands each changed one to every
subscribed stream. A stream's queue holds only the newest snapshot: a slow client skips
intermediate versions rather than falling behind.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable

import psycopg

from headway.flags.service import FlagService
from headway.flags.snapshot import Snapshot, build_snapshot
from headway.flags.store import NOTIFY_CHANNEL

__all__ = ["FlagHub", "PgListener"]

log = logging.getLogger("headway.flags.hub")


class FlagHub:
    def __init__(self, service: FlagService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._snapshots: dict[str, Snapshot] = {}
        self._subscribers: dict[str, set[asyncio.Queue[Snapshot | None]]] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the SSE streams run on."""
        self._loop = loop

    def snapshot(self, environment: str) -> Snapshot:
        """The current snapshot of an environment (raises NotFound for an unknown one)."""
        snap = self._snapshots.get(environment)
        if snap is None:
            with self._lock:
                snap = self._snapshots.get(environment)
                if snap is None:
                    snap = build_snapshot(self.service.config(environment))
                    self._snapshots[environment] = snap
        return snap

    def refresh(self) -> list[str]:
        """Rebuild every known environment's snapshot; push and return those that changed."""
        changed: list[Snapshot] = []
        with self._lock:
            for environment, old in list(self._snapshots.items()):
                try:
                    new = build_snapshot(self.service.config(environment))
                except LookupError:
                    continue
                if new.etag != old.etag:
                    self._snapshots[environment] = new
                    changed.append(new)
        loop = self._loop
        if loop is not None and changed and not loop.is_closed():
            for snap in changed:
                loop.call_soon_threadsafe(self._broadcast, snap)
        return [s.environment for s in changed]

    def subscribe(self, environment: str) -> asyncio.Queue[Snapshot | None]:
        queue: asyncio.Queue[Snapshot | None] = asyncio.Queue(maxsize=1)
        self._subscribers.setdefault(environment, set()).add(queue)
        return queue

    def unsubscribe(self, environment: str, queue: asyncio.Queue[Snapshot | None]) -> None:
        self._subscribers.get(environment, set()).discard(queue)

    def subscriber_count(self) -> int:
        return sum(len(s) for s in self._subscribers.values())

    def _broadcast(self, snap: Snapshot) -> None:
        for queue in list(self._subscribers.get(snap.environment, ())):
            _offer(queue, snap)

    def close(self) -> None:
        """End every stream (server shutdown); call on the event loop."""
        for queues in self._subscribers.values():
            for queue in queues:
                _offer(queue, None)


def _offer(queue: asyncio.Queue[Snapshot | None], item: Snapshot | None) -> None:
    if queue.full():  # only the newest configuration matters
        queue.get_nowait()
    queue.put_nowait(item)


class PgListener:
    """Calls `on_notify` whenever any replica commits a flag change (PostgreSQL LISTEN)."""

    def __init__(self, url: str, on_notify: Callable[[], object]) -> None:
        self.url = url
        self.on_notify = on_notify
        self._stop = threading.Event()
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="headway-flags-listen", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=3)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.url, autocommit=True) as con:
                    con.execute(f"LISTEN {NOTIFY_CHANNEL}")
                    self.listening.set()
                    self.on_notify()  # catch up on anything missed while not listening
                    while not self._stop.is_set():
                        got = False
                        for _ in con.notifies(timeout=0.5):
                            got = True
                            break  # one refresh covers any burst
                        if got:
                            self.on_notify()
            except Exception:
                self.listening.clear()
                log.exception("flag change listener lost its connection; retrying")
                self._stop.wait(1.0)
