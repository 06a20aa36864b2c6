"""A group of deliveries another server keeps overtaking is still told apart exactly."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from headway.config import Settings
from headway.ingest import deliveries
from headway.sources import pagerduty
from headway.sources.mapping import Mapping
from headway.store import Store
from tests.api.conftest import fixture

AT = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def _delivery(delivery_id: str, incident: str) -> deliveries.Delivery:
    payload: dict[str, Any] = fixture("pagerduty/triggered_v3.json")
    payload["event"]["id"] = f"E{incident}"
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
