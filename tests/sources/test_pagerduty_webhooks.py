"""PagerDuty v3 payloads → incidents."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from headway.sources import pagerduty
from headway.sources.mapping import Mapping
from tests.conftest import FIXTURES


def load(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / "pagerduty" / name).read_text())


def test_triggered_and_acknowledged() -> None:
    (t,) = pagerduty.parse("incident.triggered", load("triggered_v3.json"), Mapping()).records
    assert (t.id, t.service, t.severity, t.title) == (
        "pagerduty:PFQZPSY",
        "pig208",
        "high",
        "Test Incident 3",
    )
    assert t.opened_at == datetime(2021, 6, 4, 13, 35, 29, 781000, tzinfo=UTC)
    mapped = Mapping(services={"pig208": {"service": "checkout"}})
    (a,) = pagerduty.parse("incident.acknowledged", load("acknowledged_v3.json"), mapped).records
    assert (a.service, a.acknowledged_at) == (
        "checkout",
        datetime(2021, 6, 4, 13, 55, 30, 394000, tzinfo=UTC),
    )
    assert pagerduty.parse("incident.annotated", load("triggered_v3.json"), Mapping()).ignored


def test_an_incident_keeps_the_page_pagerduty_shows_it_on() -> None:
    (t,) = pagerduty.parse("incident.triggered", load("triggered_v3.json"), Mapping()).records
    # `event.data.html_url` of the fixture, not one of the users' or services' pages
    assert t.url == "https://pig208.pagerduty.com/incidents/PFQZPSY"
