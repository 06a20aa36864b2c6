"""PagerDuty v3 webhook payloads → incidents (mapping documented in docs/webhooks.md).

The event is `event.event_type`; the PagerDuty service's name (`data.service.summary`) goes
through the service map, so a PagerDuty service can stand for a Headway service of another name.
"""

from __future__ import annotations

from typing import Any

from headway.model import Incident
from headway.ordering import Order
from headway.sources.mapping import Mapping, Parsed, get, opt, text, when

SOURCE = "pagerduty"

_USED = ("incident.triggered", "incident.acknowledged", "incident.resolved")


def parse(event: str, payload: dict[str, Any], mapping: Mapping) -> Parsed:
    if event not in _USED:
        return Parsed.ignore(
            f"PagerDuty event `{event}` is not used by Headway (used: {', '.join(_USED)})"
        )
    envelope = get(payload, "event")
    data = get(envelope, "data")
    at = when(envelope, "occurred_at")
    service = mapping.service(text(data, "service.summary"))
    # v3 incident data carries created_at; older payloads do not, and then the triggering
    # event's time is the opening time (an incident opens no later than any event about it).
    opened = when(data, "created_at", required=False) or at
    incident = Incident(
        source=SOURCE,
        source_id=text(data, "id"),
        service=service,
        opened_at=opened,
        acknowledged_at=at if event == "incident.acknowledged" else None,
        resolved_at=at if event == "incident.resolved" else None,
        severity=opt(data, "priority.summary") or data.get("urgency"),
        title=data.get("title"),
        url=page if isinstance(page := data.get("html_url"), str) else None,
    )
    return Parsed(records=(incident,), order=Order(text(envelope, "id"), at))


__all__ = ["SOURCE", "parse"]
