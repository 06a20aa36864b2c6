"""CDEvents (cdevents.dev, specification 0.4, 0.5 and the 0.6 draft) as canonical records.

`validate(event)` checks an event against its schema and raises `CDEventError` naming the
field; `parse(event)` maps a valid event onto the canonical model. Both are pure, and are what
`headway import cdevents` and the `POST /hooks/cdevents` endpoint call. Every event is also
kept as a RawEvent; types Headway has no meaning for are kept with status `ignored` and a note.

Events about one thing (an incident detected then resolved, a pipeline run started then
finished) share the subject id, so they are one record, which takes the state of the newest
event (`order_of`) whatever order they arrive or are listed in; the earliest
"opened/started/requested" time any of them gives stays (`headway.ordering`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Any

import jsonschema
import referencing
from referencing.jsonschema import DRAFT202012

from headway import values
from headway.model import (
    Approval,
    ApprovalKind,
    Change,
    Deployment,
    DeploymentKind,
    Incident,
    PipelineRun,
    RawEvent,
    Record,
)
from headway.ordering import Order

SOURCE = "cdevents"
SCHEMAS = "headway.sources.cdevents_schemas"
SPEC_VERSIONS = ("0.4", "0.5", "0.6")
_TYPE = re.compile(r"^dev\.cdevents\.([a-z]+)\.([a-z]+)\.(\d+\.\d+\.\d+(?:-[\w.]+)?)$")


class CDEventError(ValueError):
    """An event that cannot be accepted, with the field at fault and how to fix it."""


@dataclass(frozen=True, slots=True)
class ParsedEvent:
    """What one CDEvent means: canonical records (the raw event last), how it was taken, and
    its place among the events about its subject."""

    kind: str  # subject.predicate, e.g. service.deployed
    records: tuple[Record, ...]
    status: str  # accepted | ignored
    note: str | None = None
    order: Order | None = None


# -- validation ------------------------------------------------------------------------------


@cache
def _schemas() -> tuple[dict[str, dict[str, Any]], referencing.Registry[Any]]:
    """Event schemas by `subject.predicate`, and a registry resolving their shared parts."""
    root = resources.files(SCHEMAS)
    events: dict[str, dict[str, Any]] = {}
    resources_: list[tuple[str, referencing.Resource[Any]]] = []
    for folder in (root, root.joinpath("links")):
        for entry in folder.iterdir():
            if not entry.name.endswith(".json"):
                continue
            schema = json.loads(entry.read_text())
            resources_.append((schema["$id"], DRAFT202012.create_resource(schema)))
            type_enum = (
                schema.get("properties", {})
                .get("context", {})
                .get("properties", {})
                .get("type", {})
            )
            if folder is root and "enum" in type_enum:
                m = _TYPE.match(type_enum["enum"][0])
                if m:
                    events[f"{m[1]}.{m[2]}"] = _any_version(schema, m[1], m[2])
    return events, referencing.Registry().with_resources(resources_)


def _any_version(schema: dict[str, Any], subject: str, predicate: str) -> dict[str, Any]:
    """The schema made to accept the event's earlier versions: the same shape, any version of
    its type, and the subject `type` field that 0.4 events carry."""
    schema = copy.deepcopy(schema)
    context = schema["properties"]["context"]["properties"]
    context["type"] = {
        "type": "string",
        "pattern": rf"^dev\.cdevents\.{subject}\.{predicate}\.\d+\.\d+\.\d+(-[\w.]+)?$",
    }
    schema["properties"]["subject"]["properties"]["type"] = {"type": "string"}
    return schema


def _path(parts: Iterable[Any]) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(the event)"


def kind_of(event: Any) -> str:
    """`subject.predicate` of an event, after checking the envelope enough to know it."""
    if not isinstance(event, dict):
        raise CDEventError(
            f"a CDEvent is a JSON object with `context` and `subject`, got {type(event).__name__}"
        )
    context = event.get("context")
    if not isinstance(context, dict) or not isinstance(context.get("type"), str):
        raise CDEventError(
            "field context.type is missing: a CDEvent needs a `context` object with a "
            "`type` like dev.cdevents.service.deployed.0.3.0"
        )
    m = _TYPE.match(context["type"])
    if not m:
        raise CDEventError(
            f"field context.type: {context['type']!r} is not a CDEvents type; expected "
            "dev.cdevents.<subject>.<predicate>.<major>.<minor>.<patch>"
        )
    version = str(context.get("specversion", ""))
    if not version.startswith(tuple(f"{v}." for v in SPEC_VERSIONS)):
        raise CDEventError(
            f"field context.specversion: {version!r} is not a supported CDEvents "
            f'specification; Headway accepts {", ".join(SPEC_VERSIONS)} (e.g. "0.4.1")'
        )
    return f"{m[1]}.{m[2]}"


def validate(event: Any) -> str:
    """Check an event against its CDEvents schema; return its kind. Unknown kinds pass
    (they are kept raw); a known kind with a bad field raises CDEventError naming it."""
    kind = kind_of(event)
    schemas, registry = _schemas()
    schema = schemas.get(kind)
    if schema is not None:
        validator = jsonschema.Draft202012Validator(schema, registry=registry)
        error = jsonschema.exceptions.best_match(validator.iter_errors(event))
        if error is not None:
            raise CDEventError(
                f"{kind} event fails its schema at field {_path(error.absolute_path)}: "
                f"{error.message}; fix the producer so the event matches the CDEvents "
                f"{kind} schema (cdevents.dev)"
            )
    _timestamp(event["context"].get("timestamp"))
    return kind


def _timestamp(value: Any) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise CDEventError(
            f"field context.timestamp: {value!r} is not an RFC 3339 time with a zone "
            "(e.g. 2024-05-01T12:00:00Z)"
        )
    return parsed.astimezone(UTC)


# -- mapping ---------------------------------------------------------------------------------

_OUTCOMES = {
    "success": "success",
    "failure": "failure",
    "error": "failure",
    "cancel": "cancelled",
    "cancelled": "cancelled",
    "canceled": "cancelled",
}
_DECISIONS = {
    "approved": "approved",
    "approve": "approved",
    "rejected": "rejected",
    "reject": "rejected",
}


def parse(
    event: dict[str, Any],
    *,
    default_service: str | None = None,
    received_at: datetime | None = None,
) -> ParsedEvent:
    """Validate one CDEvent and map it onto canonical records (its RawEvent included)."""
    kind = validate(event)
    ctx, subject = event["context"], event["subject"]
    content: dict[str, Any] = subject.get("content") or {}
    at = _timestamp(ctx["timestamp"])
    # CloudEvents makes (source, id) unique per event; the kind is added because producers
    # (and the conformance examples) reuse an id across event types.
    event_id = f"{kind}/{ctx['source']}#{ctx['id']}"
    sid = str(subject["id"])
    records: list[Record] = []
    note = None

    def service(named: Any = None) -> str:
        name = named or default_service
        if not name:
            raise CDEventError(
                f"{kind} event {ctx['id']} names no service; pass --service (or "
                "?service= on the webhook) to say which service it belongs to"
            )
        return str(name)

    subject_name, predicate = kind.split(".")
    if subject_name == "service" and predicate in ("deployed", "upgraded", "rolledback"):
        records.append(
            Deployment(
                source=SOURCE,
                source_id=event_id,
                service=service(sid),
                finished_at=at,
                environment=str(content["environment"]["id"]),
                kind=DeploymentKind.ROLLBACK.value
                if predicate == "rolledback"
                else DeploymentKind.DEPLOY.value,
                version=content.get("artifactId"),
                trigger=ctx.get("chainId"),
            )
        )
    elif kind == "service.removed":
        note = "a service removed from an environment ships nothing; kept as evidence only"
    elif subject_name == "change" and predicate != "abandoned":
        repository = (content.get("repository") or {}).get("id")
        times = {"created": "opened_at", "merged": "merged_at", "reviewed": "first_review_at"}
        extra: dict[str, Any] = {times[predicate]: at} if predicate in times else {}
        if content.get("description"):
            extra["title"] = str(content["description"])[:500]
        records.append(
            Change(
                source=SOURCE,
                source_id=sid,
                service=service(default_service or repository),
                repository=repository,
                **extra,
            )
        )
    elif kind == "change.abandoned":
        note = "an abandoned change never ships; kept as evidence only"
    elif subject_name == "pipelinerun":
        outcome = content.get("outcome")
        run: dict[str, Any] = {
            "queued": {},
            "started": {"started_at": at},
            "finished": {"finished_at": at},
        }.get(predicate, {})
        if predicate == "finished" and outcome:
            run["conclusion"] = _OUTCOMES.get(str(outcome).lower(), str(outcome).lower())
        records.append(
            PipelineRun(
                source=SOURCE,
                source_id=sid,
                service=default_service,
                workflow=content.get("pipelineName"),
                **run,
            )
        )
    elif subject_name == "incident":
        named = (content.get("service") or {}).get("id")
        inc: dict[str, Any] = {"resolved_at": at} if predicate == "resolved" else {}
        records.append(
            Incident(
                source=SOURCE,
                source_id=sid,
                service=service(named),
                opened_at=at,
                title=content.get("description"),
                **inc,
            )
        )
    elif subject_name == "approval":
        decision = _DECISIONS.get(str(content.get("decision", "")).lower())
        records.append(
            Approval(
                source=SOURCE,
                source_id=sid,
                kind=ApprovalKind.DEPLOYMENT_GATE.value,
                service=default_service,
                requested_at=at if predicate == "created" else None,
                decided_at=at
                if predicate == "closed" or (predicate == "updated" and decision)
                else None,
                decision=decision,
                actor=content.get("responder") or content.get("requestor"),
            )
        )
    for record in records:
        if found := values.problem(record):
            raise CDEventError(f"{kind} event {ctx['id']}: {found}")
    status = "accepted" if records or note else "ignored"
    if status == "ignored":
        note = (
            f"CDEvents type {ctx['type']} has no delivery meaning in Headway; kept raw, not mapped"
        )
    records.append(
        RawEvent(
            source=SOURCE,
            source_id=event_id,
            kind=kind,
            received_at=received_at or datetime.now(UTC),
            payload=json.dumps(event, separators=(",", ":"), sort_keys=True),
            status=status,
            note=note,
            default_service=default_service,
        )
    )
    return ParsedEvent(kind, tuple(records), status, note, order_of(kind, ctx["id"], at))


# A subject's stages, for events stamped with the same time (producers, the conformance
# examples among them, send a run's queued, started and finished events in one instant).
_STAGES = {
    "queued": 0,
    "created": 0,
    "detected": 0,
    "started": 1,
    "updated": 1,
    "reported": 1,
    "reviewed": 2,
    "finished": 2,
    "resolved": 2,
    "closed": 2,
    "merged": 3,
    "abandoned": 3,
}


def order_of(kind: str, event_id: Any, at: datetime) -> Order:
    """An event's place among those about its subject: its `context.timestamp`, then its
    subject's stage (a run finishes after it starts), then its type and `context.id`."""
    stage = _STAGES.get(kind.split(".")[1], 0)
    return Order(f"{stage} {kind} {event_id}", at)


__all__ = [
    "SOURCE",
    "CDEventError",
    "ParsedEvent",
    "kind_of",
    "order_of",
    "parse",
    "validate",
]
