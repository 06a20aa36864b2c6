"""Opsgenie alert webhooks → incidents (mapping documented in docs/webhooks.md).

The event is the payload's `action`. An alert belongs to the service named by a
`service:<name>` tag, else its `entity`, else the integration's name, through the service map.
Opsgenie mixes timestamp units in one payload (createdAt in ms, updatedAt in ns); the shared
timestamp reader judges each by magnitude.
"""

from __future__ import annotations

from typing import Any

from headway.model import Incident
from headway.ordering import Order
from headway.sources.mapping import Mapping, Parsed, PayloadError, get, text, when

SOURCE = "opsgenie"

_USED = ("Create", "Acknowledge", "Close")


def parse(event: str, payload: dict[str, Any], mapping: Mapping) -> Parsed:
    if event not in _USED:
        return Parsed.ignore(
            f"Opsgenie action `{event}` is not used by Headway (used: {', '.join(_USED)})"
        )
    alert = get(payload, "alert")
    tags = [t for t in alert.get("tags") or [] if isinstance(t, str)]
    named = [t.split(":", 1)[1] for t in tags if t.lower().startswith("service:")]
    origin = (named[0] if named else None) or alert.get("entity") or payload.get("integrationName")
    if not origin:
        raise PayloadError(
            "cannot tell the alert's service: add a `service:<name>` tag or an "
            "entity (field `alert.entity`)"
        )
    changed = when(alert, "updatedAt", required=False) or when(alert, "createdAt")
    incident = Incident(
        source=SOURCE,
        source_id=text(alert, "alertId"),
        service=mapping.service(str(origin)),
        opened_at=when(alert, "createdAt"),
        acknowledged_at=changed if event == "Acknowledge" else None,
        resolved_at=changed if event == "Close" else None,
        severity=str(alert["priority"]) if alert.get("priority") is not None else None,
        title=alert.get("message"),
        labels=tuple(tags),
    )
    # Opsgenie sends no event id; the alert's `updatedAt` (then the action) orders its events.
    return Parsed(records=(incident,), order=Order(event, changed))


__all__ = ["SOURCE", "parse"]
