"""Opsgenie alerts → incidents; mixed timestamp units."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from headway.sources import opsgenie
from headway.sources.mapping import Mapping
from tests.conftest import FIXTURES


def test_create_and_close_with_mixed_units() -> None:
    payload = json.loads((FIXTURES / "opsgenie" / "create.json").read_text())
    (alert,) = opsgenie.parse("Create", payload, Mapping()).records
    # createdAt 1502709956288 ms = 2017-08-14 11:25:56.288 UTC
    assert alert.opened_at == datetime(2017, 8, 14, 11, 25, 56, 288000, tzinfo=UTC)
    assert (alert.service, alert.severity, alert.labels) == ("Server", "3", ("vip",))
    payload["alert"]["tags"] = ["service:billing"]
    (closed,) = opsgenie.parse("Close", payload, Mapping()).records
    # updatedAt 1502709956288000110 ns = the same moment, truncated to µs
    assert (closed.service, closed.resolved_at) == (
        "billing",
        datetime(2017, 8, 14, 11, 25, 56, 288000, tzinfo=UTC),
    )
    assert opsgenie.parse("AddNote", payload, Mapping()).ignored
