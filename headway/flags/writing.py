"""How the flag service writes: one transaction, a version row and an audit row per change,
then every listener of the store told.

A change runs in one store transaction (flag row, version row, audit row, and on PostgreSQL a
NOTIFY that other replicas receive on commit); then `on_change` and every callback registered
with `on_store_change` run, so this process's SDK streams push the new configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import orjson

from headway.flags import store as rows
from headway.flags.model import EnvironmentConfig, Flag, Serve
from headway.flags.salvage import read_flag
from headway.store import Store
from headway.store.flags import notify_change

__all__ = ["Conflict", "FlagWriter", "NotFound", "on_store_change"]


class NotFound(LookupError):
    pass


class Conflict(RuntimeError):
    """The change was based on a stale version, or the key already exists."""


def _utcnow() -> datetime:
    return datetime.now(UTC)


# Callbacks run after any flag change committed through any FlagService on a given store, so
# that a service created elsewhere (the rollout controller's, say) still wakes this process's
# SDK streams. Other processes learn of changes through PostgreSQL NOTIFY.
_store_listeners: WeakKeyDictionary[Store, list[Callable[[], object]]] = WeakKeyDictionary()


def on_store_change(store: Store, callback: Callable[[], object]) -> Callable[[], None]:
    """Call `callback` after every flag change on `store`; returns a function that stops it."""
    _store_listeners.setdefault(store, []).append(callback)

    def remove() -> None:
        callbacks = _store_listeners.get(store, [])
        if callback in callbacks:
            callbacks.remove(callback)

    return remove


class FlagWriter:
    """The store, clock and change callback every part of the flag service shares."""

    def __init__(
        self,
        store: Store,
        *,
        clock: Callable[[], datetime] = _utcnow,
        on_change: Callable[[], object] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.on_change = on_change

    @contextmanager
    def _writing(self) -> Iterator[Store]:
        with self.store.transaction() as tx:
            yield tx
            if self.store.dialect == "postgres":
                # Delivered to every replica's listener when the transaction commits.
                notify_change(tx)
            # After the outermost transaction commits: SDKs never hear of a change that a
            # larger transaction around this one could still roll back.
            tx.after_commit(self._announce)

    def _announce(self) -> None:
        if self.on_change is not None:
            self.on_change()
        for callback in list(_store_listeners.get(self.store, ())):
            callback()

    @staticmethod
    def _off_config(flag: Flag) -> EnvironmentConfig:
        """Switched off, serving the `false`/first variant: the safe state of a new environment.

        Switched on, a boolean flag serves its `true` variant, as in every other flag system;
        other types serve their first variant until told otherwise. Only configurations made
        here follow this: a stored one says what it serves and keeps serving it.
        """
        off = next((v.key for v in flag.variants if v.value is False), flag.variants[0].key)
        on = next((v.key for v in flag.variants if v.value is True), off)
        return EnvironmentConfig(enabled=False, off_variant=off, default=Serve(variant=on))

    def _save(
        self,
        tx: Store,
        flag: Flag,
        before: Flag | None,
        actor: str,
        action: str,
        comment: str | None,
        at: datetime,
    ) -> Flag:
        flag = flag.model_copy(update={"version": (before.version if before else 0) + 1})
        rows.save_flag(tx, flag, actor=actor, action=action, comment=comment, at=at)
        rows.insert_audit(
            tx,
            actor=actor,
            entity="flag",
            entity_id=flag.key,
            action=action,
            before=before.model_dump(mode="json") if before else None,
            after=flag.model_dump(mode="json"),
            at=at,
        )
        return flag

    def _save_raw(
        self,
        tx: Store,
        record: rows.StoredFlag,
        mutate: Callable[[dict[str, Any]], None],
        actor: str,
        action: str,
        comment: str | None,
        at: datetime,
    ) -> Flag:
        """Change a stored document that does not validate only where `mutate` does, keeping
        the rest as it is for its owner to repair."""
        before = record.flag
        doc = dict(record.document)
        mutate(doc)
        doc["version"] = before.version + 1
        flag, _ = read_flag(before.key, orjson.dumps(doc))
        flag = flag.model_copy(update={"version": before.version + 1})
        if isinstance(doc.get("archived"), bool):
            flag = flag.model_copy(update={"archived": doc["archived"]})
        rows.save_document(tx, flag, doc, actor=actor, action=action, comment=comment, at=at)
        rows.insert_audit(
            tx,
            actor=actor,
            entity="flag",
            entity_id=flag.key,
            action=action,
            before=record.document,
            after=doc,
            at=at,
        )
        return flag
