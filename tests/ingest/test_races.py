"""A group of deliveries another server keeps overtaking is still told apart exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from headway.config import Settings
from headway.ingest import deliveries, stored
from headway.sources import pagerduty
from headway.sources.mapping import Mapping
from headway.store import Store
from tests.api.conftest import fixture

AT = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def _delivery(
    delivery_id: str, incident: str, occurred_at: str | None = None
) -> deliveries.Delivery:
    payload: dict[str, Any] = fixture("pagerduty/triggered_v3.json")
    payload["event"]["id"] = f"E{incident}" if occurred_at is None else f"E{delivery_id}"
    if occurred_at is not None:
        payload["event"]["occurred_at"] = occurred_at
    payload["event"]["data"]["id"] = incident
    kind = payload["event"]["event_type"]
    parsed = pagerduty.parse(kind, payload, Mapping())
    raw = deliveries.raw_event("pagerduty", delivery_id, kind, b"{}", AT, parsed)
    return deliveries.Delivery(raw, parsed)


def test_a_group_overtaken_every_time_goes_one_delivery_at_a_time(
    store: Store, engine_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a group whose every try another replica overtakes (as under heavy load)
    real = deliveries._commit
    tries: list[int] = []

    def overtaken(*args: Any, exact: bool) -> list[str]:
        group = args[2]
        tries.append(len(group))
        if exact and len(group) > 1:
            raise deliveries.Raced("another server stored some of these deliveries first")
        return real(*args, exact=exact)

    monkeypatch.setattr(deliveries, "_commit", overtaken)
    group = [_delivery("d1", "P1"), _delivery("d2", "P2"), _delivery("d1", "P1")]
    # When the group writer commits it
    outcomes = deliveries.commit(store, engine_settings, group, touched={}, exact=True)
    # Then after two tries of the group each delivery is written on its own, and each is
    # told apart as if the group had gone through: the repeat of d1 is a duplicate
    assert tries == [3, 3, 1, 1, 1]
    assert outcomes == ["accepted", "accepted", "duplicate"]
    assert store.query("SELECT count(*) FROM raw_events")[0][0] == 2


def test_a_try_another_server_overtook_leaves_no_note_on_the_answer(
    store: Store, engine_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given incident P1 stored from its 12:05 event, and its 12:00 event (d1) stored by
    # another server just after this one read d1 as new
    deliveries.commit(store, engine_settings, [_delivery("d2", "P1", "2026-10-01T12:05:00Z")])
    older = _delivery("d1", "P1", "2026-10-01T12:00:00Z")
    deliveries.commit(store, engine_settings, [older])
    real_reads, real_apply = stored.raw_ids_and_orders, deliveries.apply
    reads: list[int] = []

    def read_before_the_other_server(*args: Any) -> tuple[set[str], dict[str, Any]]:
        reads.append(1)
        known, orders = real_reads(*args)
        return (set(), orders) if len(reads) == 1 else (known, orders)

    def overtaken(*args: Any, **kwargs: Any) -> set[str]:
        if len(reads) == 1:
            raise deliveries.Raced("another server stored some of these deliveries first")
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(stored, "raw_ids_and_orders", read_before_the_other_server)
    monkeypatch.setattr(deliveries, "apply", overtaken)
    notes: dict[str, str | None] = {}
    # When the group writer commits d1: its first try reads it as an older event of P1
    # (noted so), is overtaken and rolled back; the second finds d1 stored
    outcomes = deliveries.commit(
        store, engine_settings, [older], touched={}, notes=notes, exact=True
    )
    # Then d1 is a duplicate, and no note of the rolled-back try reaches its answer
    assert len(reads) == 2
    assert outcomes == ["duplicate"]
    assert notes == {}
