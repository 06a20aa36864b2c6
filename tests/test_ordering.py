"""Events about one record apply in their source's order, whatever order they arrive in."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from headway import deliveries
from headway.config import Settings
from headway.model import Deployment, Incident
from headway.ordering import Order, stale_part
from headway.sources import pagerduty
from headway.sources.mapping import Mapping
from headway.store import Store
from tests.api.conftest import fixture

AT = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def test_events_compare_by_time_then_by_id_numerically() -> None:
    assert Order("10", AT).newer_than(Order("9", AT))  # 10 > 9, not "10" < "9"
    assert Order("1", AT.replace(minute=1)).newer_than(Order("999", AT))
    assert not Order("7", AT).newer_than(Order("7", AT))  # the same event again


def test_a_stale_event_keeps_only_first_moments() -> None:
    # A deployment's every field is its latest state: a stale status says nothing.
    assert stale_part(Deployment("github", "1", "shop", AT, status="failure")) is None
    # An incident's opening and acknowledgement are first moments: they still count.
    late = Incident("pagerduty", "P1", "shop", AT, acknowledged_at=AT, title="old", severity="P1")
    assert stale_part(late) == Incident("pagerduty", "P1", "shop", AT, acknowledged_at=AT)


def _event(kind: str, event_id: str, occurred: str) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("pagerduty/triggered_v3.json"))
    payload["event"].update(id=event_id, event_type=kind, occurred_at=occurred)
    return payload


EVENTS = [
    ("incident.triggered", "01A", "2026-10-01T12:00:00Z"),
    ("incident.acknowledged", "01B", "2026-10-01T12:05:00Z"),
    ("incident.resolved", "01C", "2026-10-01T12:30:00Z"),
]


@pytest.mark.parametrize("arrival", list(itertools.permutations(range(3))))
def test_an_incident_ends_the_same_whatever_order_its_events_arrive_in(
    store: Store, engine_settings: Settings, arrival: tuple[int, ...]
) -> None:
    # Given PagerDuty's triggered, acknowledged and resolved events, delivered in any order,
    # each once and then each again under another delivery id
    for n, i in enumerate([*arrival, *arrival]):
        kind, event_id, occurred = EVENTS[i]
        payload = _event(kind, event_id, occurred)
        parsed = pagerduty.parse(kind, payload, Mapping())
        raw = deliveries.raw_event("pagerduty", f"d{n}", kind, b"{}", AT, parsed)
        deliveries.commit(store, engine_settings, [deliveries.Delivery(raw, parsed)])
    # Then it is acknowledged at 12:05 and resolved at 12:30, the newest event's state
    [(acknowledged, resolved)] = store.query("SELECT acknowledged_at, resolved_at FROM incidents")
    assert (acknowledged, resolved) == (datetime(2026, 10, 1, 12, 5), datetime(2026, 10, 1, 12, 30))
