"""Canonical delivery records: the contract between sources and analysis.

Every record names the system it came from (`source`) and its id there (`source_id`);
`id` joins the two, so delivering the same record twice is an upsert, never a duplicate.
References between records (a change's deployment, an incident's cause) hold such ids.
All timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import Any, ClassVar


class DeploymentStatus(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"


class DeploymentKind(StrEnum):
    DEPLOY = "deploy"
    ROLLBACK = "rollback"
    HOTFIX = "hotfix"
    RELEASE = "release"  # a feature-flag release: exposure changed, no code shipped


class ApprovalKind(StrEnum):
    CODE_REVIEW = "code_review"
    CHANGE_ADVISORY = "change_advisory"
    SECURITY = "security"
    DEPLOYMENT_GATE = "deployment_gate"
    ROLLOUT_STAGE = "rollout_stage"


class Context(StrEnum):
    """Operating context (risk tier) of a service; metrics are compared only within one."""

    REGULATED = "regulated"
    CUSTOMER_FACING = "customer-facing"
    INTERNAL = "internal"


def record_id(source: str, source_id: str) -> str:
    return f"{source}:{source_id}"


@dataclass(frozen=True, slots=True)
class Service:
    table: ClassVar[str] = "services"
    name: str
    team: str | None = None
    context: str = Context.CUSTOMER_FACING.value
    repository: str | None = None
    owners: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return self.name


@dataclass(frozen=True, slots=True)
class Change:
    """A pull/merge request, or a commit that reached the main line directly."""

    table: ClassVar[str] = "changes"
    source: str
    source_id: str
    service: str
    repository: str | None = None
    author: str | None = None
    number: int | None = None
    title: str | None = None
    labels: tuple[str, ...] = ()
    first_commit_at: datetime | None = None
    opened_at: datetime | None = None
    first_review_at: datetime | None = None
    approved_at: datetime | None = None
    merged_at: datetime | None = None
    merge_sha: str | None = None
    additions: int | None = None
    deletions: int | None = None
    files: int | None = None
    is_revert: bool = False
    reverts: str | None = None  # id of the change this one reverts
    deployment_ref: str | None = None  # id of the deployment the source says shipped it
    closed_at: datetime | None = None  # a request closed without being merged

    @property
    def id(self) -> str:
        return record_id(self.source, self.source_id)


@dataclass(frozen=True, slots=True)
class Approval:
    table: ClassVar[str] = "approvals"
    source: str
    source_id: str
    kind: str = ApprovalKind.CODE_REVIEW.value
    change_ref: str | None = None
    deployment_ref: str | None = None
    service: str | None = None
    requested_at: datetime | None = None
    decided_at: datetime | None = None
    decision: str | None = None  # approved | rejected
    actor: str | None = None

    @property
    def id(self) -> str:
        return record_id(self.source, self.source_id)


@dataclass(frozen=True, slots=True)
class PipelineRun:
    table: ClassVar[str] = "pipeline_runs"
    source: str
    source_id: str
    service: str | None = None
    repository: str | None = None
    workflow: str | None = None
    sha: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    conclusion: str | None = None  # success | failure | cancelled
    deployment_ref: str | None = None

    @property
    def id(self) -> str:
        return record_id(self.source, self.source_id)


@dataclass(frozen=True, slots=True)
class Deployment:
    table: ClassVar[str] = "deployments"
    source: str
    source_id: str
    service: str
    finished_at: datetime
    environment: str = "production"
    started_at: datetime | None = None
    status: str = DeploymentStatus.SUCCESS.value
    kind: str = DeploymentKind.DEPLOY.value
    sha: str | None = None
    version: str | None = None
    trigger: str | None = None
    recovers: str | None = None  # id of the failed deployment a rollback/hotfix repairs
    evidence: str | None = None  # why the source says this deployment failed

    @property
    def id(self) -> str:
        return record_id(self.source, self.source_id)


@dataclass(frozen=True, slots=True)
class Incident:
    table: ClassVar[str] = "incidents"
    source: str
    source_id: str
    service: str
    opened_at: datetime
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    severity: str | None = None
    customer_impact: bool | None = None
    title: str | None = None
    labels: tuple[str, ...] = ()
    cause_ref: str | None = None  # id of the deployment the source names as the cause
    url: str | None = None  # where the source shows it (checked before it is ever linked)

    @property
    def id(self) -> str:
        return record_id(self.source, self.source_id)


@dataclass(frozen=True, slots=True)
class Defect:
    table: ClassVar[str] = "defects"
    source: str
    source_id: str
    service: str
    found_at: datetime
    severity: str | None = None
    title: str | None = None
    change_ref: str | None = None
    deployment_ref: str | None = None

    @property
    def id(self) -> str:
        return record_id(self.source, self.source_id)


@dataclass(frozen=True, slots=True)
class RawEvent:
    """A payload exactly as it arrived, kept so everything can be re-derived later."""

    table: ClassVar[str] = "raw_events"
    source: str
    source_id: str
    kind: str
    received_at: datetime
    payload: str
    status: str = "accepted"  # accepted | ignored | rejected
    note: str | None = None
    # the service the sender named for an event that names none (CDEvents `?service=`)
    default_service: str | None = None

    @property
    def id(self) -> str:
        return record_id(self.source, self.source_id)


Record = Service | Change | Approval | PipelineRun | Deployment | Incident | Defect | RawEvent

RECORD_TYPES: dict[str, type[Any]] = {
    "service": Service,
    "change": Change,
    "approval": Approval,
    "pipeline_run": PipelineRun,
    "deployment": Deployment,
    "incident": Incident,
    "defect": Defect,
}


_NAMES: dict[type[Any], tuple[str, ...]] = {}
_ROW_MAKERS: dict[type[Any], tuple[Any, tuple[int, ...]]] = {}


def field_names(record_type: type[Any]) -> tuple[str, ...]:
    names = _NAMES.get(record_type)
    if names is None:
        names = _NAMES[record_type] = tuple(f.name for f in fields(record_type))
    return names


def columns(record_type: type[Any]) -> tuple[str, ...]:
    """Column names of a record's table, in declaration order, `id` first."""
    names = field_names(record_type)
    return names if record_type is Service else ("id", *names)


def _row_maker(record_type: type[Any]) -> tuple[Any, tuple[int, ...]]:
    maker = _ROW_MAKERS.get(record_type)
    if maker is None:
        lists = tuple(
            i for i, f in enumerate(fields(record_type)) if str(f.type).startswith("tuple")
        )
        maker = _ROW_MAKERS[record_type] = (attrgetter(*field_names(record_type)), lists)
    return maker


def as_row(record: Any) -> tuple[Any, ...]:
    """The record as a table row: `id` first (except services), lists as JSON text."""
    getter, lists = _row_maker(type(record))
    values = getter(record)
    if lists:
        values = list(values)
        for i in lists:
            values[i] = json.dumps(values[i]) if values[i] else "[]"
    return tuple(values) if record.table == "services" else (record.id, *values)


def list_of(stored: Any) -> list[str]:
    """A list column read back (the inverse of `as_row`): its strings, or [] when the stored
    text is empty or not a JSON list, as a value written around Headway may be."""
    if not stored:
        return []
    try:
        value = json.loads(stored)
    except (TypeError, ValueError, RecursionError):
        return []
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


__all__ = [
    "RECORD_TYPES",
    "Approval",
    "ApprovalKind",
    "Change",
    "Context",
    "Defect",
    "Deployment",
    "DeploymentKind",
    "DeploymentStatus",
    "Incident",
    "PipelineRun",
    "RawEvent",
    "Record",
    "Service",
    "as_row",
    "columns",
    "field_names",
    "list_of",
    "record_id",
]
