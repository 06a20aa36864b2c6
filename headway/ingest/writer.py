"""The group-commit writer: concurrent webhook deliveries committed a group at a time.

One thread collects deliveries for a few milliseconds (HEADWAY_WEBHOOK_BATCH_MS) and commits
each group in one transaction (`deliveries.commit`), so a burst costs one commit per group
rather than one per request; each delivery is answered only after its group committed. The
answers of a group reach the server's event loop together, in one wake-up of it.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from datetime import datetime

from headway import linking
from headway.config import Settings
from headway.ingest.deliveries import Answer, commit
from headway.ingest.reconcile import Delivery
from headway.store import Store, StoreUnavailable
from headway.store.ingest import count

logger = logging.getLogger(__name__)

# a delivery, the event loop of the request waiting for it, and the future it awaits
_Waiting = tuple[Delivery, asyncio.AbstractEventLoop, "asyncio.Future[Answer]"]


class GroupWriter:
    """One thread that commits deliveries in groups; `submit()` returns when-committed futures.

    Under load, re-linking (a window query over each touched service's history) is deferred
    and done at most every `link_every_s` for all services touched meanwhile; when the queue runs
    dry it is done before the answers go out, so a reader right after a delivery sees its
    links. Links are derived data: after a crash the writer re-links everything on start.
    """

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        window_s: float | None = None,
        max_group: int = 2000,
        link_every_s: float = 0.5,
        remember: int = 100_000,
    ) -> None:
        self.store = store
        self.settings = settings
        self.window_s = settings.webhook_batch_ms / 1000.0 if window_s is None else window_s
        self.max_group = max_group
        self.link_every_s = link_every_s
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        # services to re-link, and the earliest instant the deliveries moved in each
        self._dirty: dict[str, datetime | None] = {}
        self._linked_at = time.monotonic()
        # Ids of deliveries known to be committed: a redelivery of one is answered at once.
        self._committed: dict[str, None] = {}
        self._remember = remember
        self.groups = 0
        if count(store, "raw_events"):
            linking.link(store, settings)
        self._thread = threading.Thread(
            target=self._run, name="headway-delivery-writer", daemon=True
        )
        self._thread.start()

    def committed(self, delivery_id: str) -> bool:
        """True when this process has committed that delivery (a redelivery needs no write)."""
        return delivery_id in self._committed

    async def deliver(self, delivery: Delivery) -> Answer:
        """Store `delivery` with the next group; its outcome and note once that committed."""
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Answer] = loop.create_future()
        self._queue.put((delivery, loop, answer))
        return await answer

    def close(self) -> None:
        """Commit what is queued, link, then stop."""
        self._queue.put(None)
        self._thread.join()

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            group = [first]
            deadline = time.monotonic() + self.window_s
            while len(group) < self.max_group:
                try:
                    item = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                group.append(item)
            self._commit(group)
        self._link()

    def _link(self) -> None:
        if self._dirty:
            linking.link(self.store, self.settings, self._dirty, since=self._dirty)
            self._dirty = {}
        self._linked_at = time.monotonic()

    def _commit(self, group: list[_Waiting]) -> None:
        try:
            notes: dict[str, str | None] = {}
            deliveries = [d for d, _, _ in group]
            outcomes = commit(
                self.store, self.settings, deliveries, touched=self._dirty, notes=notes, exact=True
            )
        except Exception as error:
            if len(group) == 1 or isinstance(error, StoreUnavailable):
                # a store that cannot be reached fails every delivery alike: none is stored
                failed = error  # (`error` is unbound once the except block ends)
                _settle(group, lambda answer: answer.set_exception(failed))
                return
            # One bad delivery must not sink the others: commit them one by one.
            for item in group:
                self._commit([item])
            return
        self.groups += 1
        if self._queue.empty() or time.monotonic() - self._linked_at > self.link_every_s:
            try:
                self._link()
            except StoreUnavailable as error:  # committed; links are retried next group
                logger.warning("re-linking %s waits for the store: %s", sorted(self._dirty), error)
            except Exception:  # the deliveries are committed; links are retried next group
                logger.exception("re-linking %s failed; will retry", sorted(self._dirty))
        answers = {}
        for (delivery, _, answer), outcome in zip(group, outcomes, strict=True):
            self._committed[delivery.raw.id] = None
            answers[id(answer)] = (outcome, notes.get(delivery.raw.id, delivery.raw.note))
        _settle(group, lambda answer: answer.set_result(answers[id(answer)]))
        while len(self._committed) > self._remember:
            del self._committed[next(iter(self._committed))]


def _settle(group: list[_Waiting], settle: Callable[[asyncio.Future[Answer]], None]) -> None:
    """`settle` each waiting future, on its own loop: one call (one wake-up) per loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[Answer]]] = {}
    for _, loop, answer in group:
        by_loop.setdefault(loop, []).append(answer)
    for loop, answers in by_loop.items():
        with suppress(RuntimeError):  # a loop closed (the server stopped): nobody waits
            loop.call_soon_threadsafe(_each, answers, settle)


def _each(
    answers: list[asyncio.Future[Answer]], settle: Callable[[asyncio.Future[Answer]], None]
) -> None:
    for answer in answers:
        if not answer.done():  # a request cancelled meanwhile (its client went away)
            settle(answer)


__all__ = ["GroupWriter"]
