"""Metric definitions: what counts as a deployment, a failure, a recovery, and how to summarise.

A definition is a small versioned document. Three presets reproduce the tools teams migrate
from (`dora`, `fourkeys`, `devlake`; see docs/definitions.md for their sources). Every
definition made active is stored with its author, time and reason, so a number can always be
traced to the rules that produced it, and a change of rules is visible in the history.
"""

from __future__ import annotations

import json
import tomllib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from headway.names import UnknownName
from headway.store import Store

FailureRule = Literal[
    "incident", "rollback", "hotfix", "revert", "failed_status", "rollout_rollback"
]


class _Part(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DeploymentRules(_Part):
    environments: tuple[str, ...] = Field(
        ("production",), description='"*" means every environment.'
    )
    statuses: tuple[Literal["success", "failure", "cancelled"], ...] = ("success",)
    include_releases: bool = Field(True, description="Flag releases count as deployments.")
    include_rollbacks: bool = Field(True, description="Rollback deployments count too.")


class LeadTimeRules(_Part):
    start: Literal["first_commit", "opened", "merged"] = "first_commit"


class FailureRules(_Part):
    rules: tuple[FailureRule, ...] = (
        "incident",
        "rollback",
        "hotfix",
        "revert",
        "rollout_rollback",
    )
    revert_window_days: float = Field(
        30, gt=0, description="A revert later than this is not a failure of the deployment."
    )


class RecoveryRules(_Part):
    start: Literal["failed_deployment", "incident_opened"] = "failed_deployment"
    end: Literal["first_fix", "incident_resolved"] = "first_fix"
    incidents: Literal["attributed", "all"] = Field(
        "attributed", description="With start=incident_opened: which incidents count."
    )


class SummaryRules(_Part):
    median: Literal["interpolated", "lower", "mean"] = "interpolated"


class FrequencyRules(_Part):
    bucket: Literal["day", "week", "month"] = "day"


class Definition(_Part):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: int = Field(1, ge=1)
    description: str = ""
    deployments: DeploymentRules = DeploymentRules()
    lead_time: LeadTimeRules = LeadTimeRules()
    failure: FailureRules = FailureRules()
    recovery: RecoveryRules = RecoveryRules()
    summary: SummaryRules = SummaryRules()
    frequency: FrequencyRules = FrequencyRules()

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def body(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"name", "version"})


PRESETS: dict[str, Definition] = {
    "dora": Definition(
        name="dora",
        description=(
            "dora.dev: production deployments of any kind; lead time from the first commit; "
            "a deployment failed if it needed immediate intervention (incident, rollback, "
            "hotfix, revert, automatic rollout rollback); recovery from the failed deployment "
            "to its first fix; interpolated median."
        ),
    ),
    "fourkeys": Definition(
        name="fourkeys",
        description=(
            "Google Four Keys: every successful deployment in any environment; lead time from "
            "commit (per change, from its first commit); a deployment failed only if an "
            "incident names it; time to restore is incident opened to resolved over all "
            "resolved incidents; interpolated median; weekly buckets."
        ),
        deployments=DeploymentRules(
            environments=("*",), include_releases=False, include_rollbacks=True
        ),
        lead_time=LeadTimeRules(start="first_commit"),
        failure=FailureRules(rules=("incident",)),
        recovery=RecoveryRules(start="incident_opened", end="incident_resolved", incidents="all"),
        summary=SummaryRules(median="interpolated"),
        frequency=FrequencyRules(bucket="week"),
    ),
    "devlake": Definition(
        name="devlake",
        description=(
            "Apache DevLake DORA plugin: successful production deployments; lead time is the "
            "pull request cycle time from its first commit; a deployment failed if an incident "
            "is attributed to it; recovery from the failed deployment to the incident's "
            "resolution; lower median."
        ),
        deployments=DeploymentRules(include_releases=False, include_rollbacks=True),
        lead_time=LeadTimeRules(start="first_commit"),
        failure=FailureRules(rules=("incident",)),
        recovery=RecoveryRules(start="failed_deployment", end="incident_resolved"),
        summary=SummaryRules(median="lower"),
        frequency=FrequencyRules(bucket="week"),
    ),
}
DEFAULT = "dora"


class DefinitionError(ValueError):
    pass


class UnknownDefinition(DefinitionError, UnknownName):
    """No stored definition or preset has this name (or version)."""


def parse(data: dict[str, Any], origin: str) -> Definition:
    try:
        return Definition.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
        )
        raise DefinitionError(f"{origin}: {problems}") from None


def load_file(path: Path) -> Definition:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise DefinitionError(f"{path}: cannot read a TOML definition ({error})") from None
    return parse(data, str(path))


def to_toml(definition: Definition) -> str:
    lines = [
        f'name = "{definition.name}"',
        f"version = {definition.version}",
        f"description = {json.dumps(definition.description)}",
    ]
    for section, values in definition.body().items():
        if not isinstance(values, dict):
            continue
        lines.append(f"\n[{section}]")
        for key, value in values.items():
            lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def active(store: Store) -> Definition:
    rows = store.query(
        "SELECT name, version, body FROM definitions ORDER BY created_at DESC, version DESC LIMIT 1"
    )
    if not rows:
        return PRESETS[DEFAULT]
    return _from_row(*rows[0])


def _from_row(name: str, version: int, body: str) -> Definition:
    return Definition.model_validate({"name": name, "version": version, **json.loads(body)})


def resolve(store: Store, ref: str) -> Definition:
    """A stored definition or a preset: `dora`, `fourkeys@1`, `mine`, `mine@3`.

    Never a file, whatever `ref` looks like: this is what HTTP requests reach, and a request
    must not name a file on the server (`resolve_local` reads files, for the CLI)."""
    name, _, version = ref.partition("@")
    rows = store.query(
        "SELECT name, version, body FROM definitions WHERE name = ? ORDER BY version DESC",
        [name],
    )
    for row_name, row_version, body in rows:
        if not version or str(row_version) == version:
            return _from_row(row_name, row_version, body)
    if name in PRESETS and version in ("", str(PRESETS[name].version)):
        return PRESETS[name]
    stored = {r[0] for r in store.query("SELECT DISTINCT name FROM definitions")}
    raise UnknownDefinition(
        f"unknown definition {ref!r}",
        f"the presets are {', '.join(PRESETS)}; `headway definitions history` lists the "
        "stored ones",
        "known",
        {*PRESETS, *stored},
    )


def resolve_local(store: Store, ref: str) -> Definition:
    """As `resolve`, or the TOML file `ref` names (a path: it has a `/` or ends in .toml).
    Only the CLI calls this, for the user running it, who can read the file anyway."""
    if is_path(ref):
        return load_file(Path(ref))
    return resolve(store, ref)


def is_path(ref: str) -> bool:
    return ref.endswith(".toml") or "/" in ref


def set_active(store: Store, definition: Definition, *, author: str, reason: str) -> Definition:
    """Make `definition` active. A changed body under an existing name gets the next version."""
    if not reason.strip():
        raise DefinitionError("--reason is required: say why the definition changes")
    rows = store.query(
        "SELECT version, body FROM definitions WHERE name = ? ORDER BY version DESC",
        [definition.name],
    )
    body = json.dumps(definition.body(), sort_keys=True)
    version = definition.version
    for row_version, row_body in rows:
        if json.loads(row_body) == definition.body():
            version = row_version
            break
    else:
        if rows:
            version = max(r[0] for r in rows) + 1
    with store.transaction():
        store.execute(
            "INSERT INTO definitions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                uuid.uuid4().hex,
                definition.name,
                version,
                body,
                author,
                datetime.now(UTC).replace(tzinfo=None),
                reason,
            ],
        )
    return definition.model_copy(update={"version": version})


def history(store: Store) -> list[dict[str, Any]]:
    return store.query_dicts(
        "SELECT name, version, author, created_at, reason FROM definitions ORDER BY created_at"
    )


def changed_fields(a: Definition, b: Definition) -> list[tuple[str, Any, Any]]:
    """Each rule that differs between two definitions, as (dotted path, a's value, b's value)."""
    out = []
    body_a, body_b = a.body(), b.body()
    for section in body_a:
        if isinstance(body_a[section], dict):
            for key in body_a[section]:
                if body_a[section][key] != body_b[section][key]:
                    out.append((f"{section}.{key}", body_a[section][key], body_b[section][key]))
    return out
