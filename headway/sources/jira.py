"""Jira issue webhooks → incidents and escaped defects (mapping in docs/webhooks.md).

The event is `webhookEvent`. An issue whose type is one of HEADWAY_JIRA_INCIDENT_TYPES is an
incident (resolved when Jira sets its resolution date); one whose type or label is a defect
label (Bug, by default) is an escaped defect. The service is the first component the service
map knows, else the project key through the service map.
"""

from __future__ import annotations

from typing import Any

from headway.model import Defect, Incident
from headway.ordering import Order
from headway.sources.mapping import Mapping, Parsed, get, labels_of, opt, text, when

SOURCE = "jira"

_USED = ("jira:issue_created", "jira:issue_updated")


def parse(event: str, payload: dict[str, Any], mapping: Mapping) -> Parsed:
    if event not in _USED:
        return Parsed.ignore(
            f"Jira event `{event}` is not used by Headway (used: {', '.join(_USED)})"
        )
    issue = get(payload, "issue")
    fields = get(issue, "fields")
    kind = text(fields, "issuetype.name")
    labels = labels_of(fields.get("labels"))
    components = labels_of(fields.get("components"))
    known = [c for c in components if mapping.entry(c)]
    service = mapping.service(known[0] if known else text(fields, "project.key"))
    key = text(issue, "key")
    if kind.lower() in {t.lower() for t in mapping.jira_incident_types} or mapping.labelled(
        labels, mapping.incident_labels
    ):
        incident = Incident(
            source=SOURCE,
            source_id=key,
            service=service,
            opened_at=when(fields, "created"),
            resolved_at=when(fields, "resolutiondate", required=False),
            severity=opt(fields, "priority.name"),
            title=fields.get("summary"),
            labels=labels,
        )
        # the issue's own `updated` time; the delivery's `timestamp` when it has none
        changed = when(fields, "updated", required=False) or when(
            payload, "timestamp", required=False
        )
        return Parsed(records=(incident,), order=Order(event, changed) if changed else None)
    if mapping.labelled((kind, *labels), mapping.defect_labels):
        defect = Defect(
            source=SOURCE,
            source_id=key,
            service=service,
            found_at=when(fields, "created"),
            severity=opt(fields, "priority.name"),
            title=fields.get("summary"),
        )
        return Parsed(records=(defect,))
    return Parsed.ignore(
        f"issue type `{kind}` is neither an incident type "
        "(HEADWAY_JIRA_INCIDENT_TYPES) nor a defect (HEADWAY_DEFECT_LABELS)"
    )


__all__ = ["SOURCE", "parse"]
