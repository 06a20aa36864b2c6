"""Distribution inside the server: current snapshots per environment, pushed to SSE streams.

`refresh()` is called after every local change and, on PostgreSQL, whenever another replica
announces one (LISTEN/NOTIFY); it rebuilds the snapshots and hands each changed one to every
subscribed stream. Its reads go through `reads` (a server's `app.state.lookups`), never
waiting for a write on the store's connection: a local change has committed before its
`after_commit` callback calls `refresh()`, so the reload sees it. A stream's queue holds only the newest snapshot: a slow client skips
intermediate versions rather than falling behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

import psycopg

from headway.flags.service import FlagService, sdk_config
from headway.flags.snapshot import Snapshot, build_snapshot
from headway.flags.store import list_environments
from headway.store.flags import listening
from headway.store.readers import Lend, own

__all__ = ["FlagHub", "PgListener", "end_streams_on_exit_signals"]

log = logging.getLogger("headway.flags.hub")


class FlagHub:
    """Snapshots per environment, and one wake-up per environment for every stream on it.

    Streams wait on a shared `asyncio.Event`; a change swaps in a fresh event and sets the old
    one, waking every stream at once. One hub-wide timer does the same every `ping_seconds`,
    so that streams whose configuration did not change send a keep-alive. There is no
    per-stream queue or timer: fan-out cost is one task step and one socket write per stream.
    """

    def __init__(
        self, service: FlagService, ping_seconds: float = 15.0, reads: Lend | None = None
    ) -> None:
        self.service = service
        self._reads = reads or own(service.store)
        self.ping_seconds = ping_seconds
        self._lock = threading.Lock()
        self._snapshots: dict[str, Snapshot] = {}
        self._events: dict[str, asyncio.Event] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pinger: asyncio.TimerHandle | None = None
        self.streams = 0
        self.closed = False
        # Open streams per token id, and the ids whose streams must end (revoked since).
        self._holders: dict[str, int] = {}
        self._ended: set[str] = set()
        self._origins: dict[str, frozenset[str]] | None = None

    def loaded_origins(self) -> dict[str, frozenset[str]] | None:
        """`origins()` if it needs no store read, else None."""
        return self._origins

    def origins(self) -> dict[str, frozenset[str]]:
        """The browser origins each environment allows (CORS), read once per change."""
        origins = self._origins
        if origins is None:
            with self._reads() as store:
                origins = {e.key: frozenset(e.cors_origins) for e in list_environments(store)}
            self._origins = origins
        return origins

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop the SSE streams run on; starts the keep-alive timer (call on it)."""
        self._loop = loop
        self._pinger = loop.call_later(self.ping_seconds, self._ping)

    def _ping(self) -> None:
        self.wake()
        if not self.closed and self._loop is not None:
            self._pinger = self._loop.call_later(self.ping_seconds, self._ping)

    def snapshot(self, environment: str) -> Snapshot:
        """The current snapshot of an environment (raises NotFound for an unknown one)."""
        snap = self._snapshots.get(environment)
        if snap is None:
            with self._lock:
                snap = self._snapshots.get(environment)
                if snap is None:
                    with self._reads() as store:
                        snap = build_snapshot(sdk_config(store, environment))
                    self._snapshots[environment] = snap
        return snap

    def refresh(self) -> list[str]:
        """Rebuild every known environment's snapshot; wake streams of those that changed."""
        changed: list[str] = []
        self._origins = None  # an environment's origins may have changed too
        with self._lock, self._reads() as store:
            for environment, old in list(self._snapshots.items()):
                try:
                    new = build_snapshot(sdk_config(store, environment), old)
                except LookupError:
                    continue
                if new.etag != old.etag:
                    self._snapshots[environment] = new
                    changed.append(environment)
        loop = self._loop
        if loop is not None and changed and not loop.is_closed():
            loop.call_soon_threadsafe(self.wake, changed)
        return changed

    def event(self, environment: str) -> asyncio.Event:
        """The event the next change of `environment` will set (call on the event loop)."""
        event = self._events.get(environment)
        if event is None:
            event = self._events[environment] = asyncio.Event()
        return event

    def wake(self, environments: list[str] | None = None) -> None:
        """Wake the streams of these environments (all if None); call on the event loop."""
        for environment in list(self._events) if environments is None else environments:
            old = self._events.pop(environment, None)
            if old is not None:
                old.set()

    def opened(self, token_id: str) -> None:
        """A stream authenticated by `token_id` opened (call on the event loop)."""
        self._holders[token_id] = self._holders.get(token_id, 0) + 1

    def closed_by(self, token_id: str) -> None:
        """A stream of `token_id` ended (call on the event loop)."""
        left = self._holders.get(token_id, 0) - 1
        if left > 0:
            self._holders[token_id] = left
        else:
            self._holders.pop(token_id, None)
            self._ended.discard(token_id)

    def holders(self) -> set[str]:
        """Token ids with an open stream."""
        return set(self._holders)

    def ended(self, token_id: str) -> bool:
        """Whether the streams of `token_id` must end: its token is no longer live."""
        return token_id in self._ended

    def end_streams_of(self, token_ids: set[str]) -> None:
        """End every open stream of these tokens (call on the event loop)."""
        ended = token_ids & self._holders.keys()
        if ended:
            self._ended |= ended
            self.wake()

    def close(self) -> None:
        """End every stream (server shutdown); call on the event loop."""
        self.closed = True
        if self._pinger is not None:
            self._pinger.cancel()
        self.wake()


_EXIT_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def end_streams_on_exit_signals(hub: FlagHub) -> Iterator[None]:
    """While inside, SIGINT and SIGTERM first end every SDK stream, then do what they did.

    A server that stops gracefully waits for open responses to finish, and an event stream
    never finishes by itself: with SDKs connected, `headway serve` would wait forever
    ("Waiting for connections to close"). ASGI has no message for "the server is stopping"
    that arrives before the connections close, so the handlers the server installed are
    wrapped: ours closes the hub (on its event loop), then theirs runs. Signals reach only the
    main thread; an app served from another thread (as in tests) is left as it is.
    """
    loop = hub._loop
    if loop is None or threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {sig: signal.getsignal(sig) for sig in _EXIT_SIGNALS}

    def handle(sig: int, frame: FrameType | None) -> None:
        if not loop.is_closed():
            loop.call_soon_threadsafe(hub.close)
        handler = previous[sig]
        if callable(handler):
            handler(sig, frame)
        elif handler == signal.SIG_DFL:  # no handler before ours: the signal's default action
            signal.signal(sig, signal.SIG_DFL)
            os.kill(os.getpid(), sig)

    for exit_signal in _EXIT_SIGNALS:
        signal.signal(exit_signal, handle)
    try:
        yield
    finally:
        for number, handler in previous.items():
            if signal.getsignal(number) is handle:  # unless someone replaced ours since
                signal.signal(number, handler)


class PgListener:
    """Calls `on_notify` whenever any replica commits a flag change (PostgreSQL LISTEN).

    A lost connection (the server stopped or restarted) is replaced every `retry_s` until the
    server is back; changes committed meanwhile sent notifications nobody heard, so each new
    connection is followed by a refresh, and a refresh that fails (the store itself not
    reconnected yet) is tried again until one succeeds.
    """

    def __init__(self, url: str, on_notify: Callable[[], object], retry_s: float = 0.5) -> None:
        self.url = url
        self.on_notify = on_notify
        self.retry_s = retry_s
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
                with listening(self.url) as con:
                    self.listening.set()
                    # a refresh is owed: changes may have gone unheard while not listening
                    stale = True
                    while not self._stop.is_set():
                        if stale:
                            stale = not self._refresh()
                        for _ in con.notifies(timeout=self.retry_s):
                            stale = True
                            break  # one refresh covers any burst
            except psycopg.Error as error:
                if self.listening.is_set():  # once per outage, not once per attempt
                    log.warning("flag change listener lost its connection (%s); retrying", error)
                self.listening.clear()
            except Exception:
                self.listening.clear()
                log.exception("flag change listener failed; retrying")
            self._stop.wait(self.retry_s)

    def _refresh(self) -> bool:
        try:
            self.on_notify()
        except Exception as error:  # the store may come back after this listener did
            log.warning("flag refresh after a change failed (%s); retrying", error)
            return False
        return True
