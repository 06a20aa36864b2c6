"""The audit log is a hash chain: an edited, removed or reordered entry is found and named."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from headway.config import Settings
from headway.store import Store, audit, open_store

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def _change(store: Store, n: int, entity: str = "flag") -> audit.AuditEntry:
    return audit.append(
        store,
        actor=f"token:ana-{n}",
        entity=entity,
        entity_id="new-checkout",
        action="update",
        before={"on": n % 2 == 0},
        after={"on": n % 2 == 1},
        at=T0 + timedelta(minutes=n),
    )


def test_an_untouched_chain_verifies_and_ends_at_the_head(store: Store) -> None:
    written = [_change(store, n) for n in range(1, 4)]
    assert [e.seq for e in written] == [1, 2, 3]
    assert written[1].prev_hash == written[0].hash
    verdict = audit.verify(store)
    assert verdict.intact
    assert (verdict.entries, verdict.head) == (3, written[2].hash)
    [first, *_] = [e.document() for e in audit.entries(store)]
    assert first == {
        "seq": 1,
        "id": written[0].id,
        "occurred_at": "2026-11-02T09:01:00+00:00",
        "actor": "token:ana-1",
        "entity": "flag",
        "entity_id": "new-checkout",
        "action": "update",
        "before": {"on": False},
        "after": {"on": True},
        "prev_hash": "",
        "hash": written[0].hash,
    }


def test_an_edited_entry_fails_its_own_hash(store: Store) -> None:
    written = [_change(store, n) for n in range(1, 4)]
    store.execute("UPDATE audit_log SET actor = 'token:mallory' WHERE seq = 2")
    verdict = audit.verify(store)
    assert not verdict.intact
    assert (verdict.broken_at, verdict.broken_id) == (2, written[1].id)
    assert verdict.problem == "does not match its hash: it was changed after it was written"


def test_a_removed_entry_breaks_the_places(store: Store) -> None:
    written = [_change(store, n) for n in range(1, 4)]
    store.execute("DELETE FROM audit_log WHERE seq = 2")
    verdict = audit.verify(store)
    assert (verdict.broken_at, verdict.broken_id) == (3, written[2].id)
    assert verdict.problem == "is at place 3, not 2: an entry before it was removed"


def test_a_removed_newest_entry_no_longer_matches_the_head(store: Store) -> None:
    [_change(store, n) for n in range(1, 4)]
    store.execute("DELETE FROM audit_log WHERE seq = 3")
    verdict = audit.verify(store)
    assert verdict.broken_at == 3
    assert verdict.problem == (
        "the chain ends at entry 2, but 3 were written: the newest entries were removed"
    )


def test_a_rewritten_entry_with_a_fresh_hash_breaks_the_next_link(store: Store) -> None:
    written = [_change(store, n) for n in range(1, 4)]
    store.execute("UPDATE audit_log SET hash = 'f00d' WHERE seq = 1")
    verdict = audit.verify(store)
    assert (verdict.broken_at, verdict.broken_id) == (1, written[0].id)
    assert "does not match its hash" in (verdict.problem or "")


def _legacy(store: Store, id_: str, minute: int) -> None:
    """An entry as written before the chain existed: no place, no hashes."""
    store.run(
        text(
            "INSERT INTO audit_log (id, occurred_at, actor, entity, entity_id, action, before, "
            "after) VALUES (:id, :at, 'token:old', 'segment', 'beta', 'create', NULL, "
            "'{\"rules\":[]}')"
        ),
        id=id_,
        at=(T0 - timedelta(minutes=minute)).replace(tzinfo=None),
    )


def test_entries_from_before_the_chain_are_sealed_oldest_first(store: Store) -> None:
    _legacy(store, "later", 1)
    _legacy(store, "earlier", 5)
    assert audit.verify(store).intact
    assert audit.verify(store).unsealed == 2
    new = _change(store, 1)
    assert new.seq == 3
    chain = list(audit.entries(store))
    assert [(e.seq, e.id) for e in chain] == [(1, "earlier"), (2, "later"), (3, new.id)]
    verdict = audit.verify(store)
    assert (verdict.intact, verdict.entries, verdict.unsealed) == (True, 3, 0)


def test_an_entry_written_around_the_chain_is_reported(store: Store) -> None:
    _change(store, 1)
    _legacy(store, "sneaked-in", 0)
    verdict = audit.verify(store)
    assert not verdict.intact
    assert verdict.problem == "1 entries have no place in the chain: written around it"


@pytest.mark.postgres
def test_concurrent_writers_on_postgres_keep_one_chain(pg_schema_url: str) -> None:
    settings = Settings(database=pg_schema_url)
    open_store(settings).close()  # migrate once

    def write(worker: int) -> None:
        store = open_store(settings, migrate=False)
        try:
            for n in range(25):
                _change(store, worker * 100 + n)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store = open_store(settings, migrate=False)
    try:
        verdict = audit.verify(store)
        assert (verdict.intact, verdict.entries) == (True, 100)
    finally:
        store.close()
