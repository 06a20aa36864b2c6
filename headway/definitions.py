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
from headway.store import Store, audit
from headway.store import definitions as statements

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


# The attribution window of `dora`, in hours: the value that blames the most incidents on
# their true cause and the fewest on another deployment in the simulator (docs/definitions.md).
ATTRIBUTION_WINDOW_HOURS = 0.5

Rounding = Literal["exact", "ceil_minute", "trunc_minute", "trunc_hour"]


class WindowRules(_Part):
    end: Literal["exclusive", "inclusive"] = Field(
        "exclusive",
        description="Whether a record exactly at the period's end counts (DevLake's "
        "BETWEEN counts it).",
    )


class AttributionRules(_Part):
    rule: Literal["named_or_window", "latest_before", "named"] = Field(
        "named_or_window",
        description="named_or_window: the deployment the incident names, else the service's "
        "latest successful deployment finished at most window_hours before it opened; "
        "latest_before: that deployment however long before, names ignored; named: only "
        "the deployment it names.",
    )
    window_hours: float = Field(ATTRIBUTION_WINDOW_HOURS, gt=0, le=24 * 365)


class ShippingRules(_Part):
    first_deployment: Literal["ships", "ships_nothing"] = Field(
        "ships",
        description="ships_nothing: a deployment with no earlier successful deployment of "
        "its service has no commit range, so it ships no change.",
    )


class SpanRules(_Part):
    negative: Literal["left_out", "zero"] = Field(
        "left_out",
        description="A span whose end comes before its start: left out (and counted) or "
        "counted as zero.",
    )


class LeadTimeRules(_Part):
    start: Literal["first_commit", "opened", "merged"] = "first_commit"
    changes: Literal["all", "pull_requests"] = Field(
        "all", description="pull_requests: commits pushed straight to the main line are left out."
    )
    measure: Literal["span", "sum_of_parts"] = Field(
        "span",
        description="sum_of_parts: first commit → opened, opened → merged and merged → "
        "deployed, each rounded and each left out when negative, added up.",
    )
    rounding: Rounding = "exact"
    zero: Literal["kept", "dropped"] = Field(
        "kept", description="dropped: a lead time of zero (after rounding) is left out too."
    )


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
    start: Literal["failed_deployment", "incident_opened", "incident_opened_or_cause"] = Field(
        "failed_deployment",
        description="incident_opened_or_cause: the earlier of the incident opening and the "
        "deployment it names finishing.",
    )
    end: Literal["first_fix", "incident_resolved"] = "first_fix"
    incidents: Literal["attributed", "all"] = Field(
        "attributed", description="With start=incident_opened: which incidents count."
    )
    resolved_in_window: bool = Field(
        False,
        description="With end=incident_resolved: an incident counts only when it was also "
        "resolved inside the period, its end included as the window says (DevLake's "
        "dashboard filters resolution_date).",
    )
    rounding: Rounding = "exact"


class FlowRules(_Part):
    changes: Literal["shipped", "merged"] = Field(
        "shipped",
        description="merged: every change merged in the period gets its stages, shipped or "
        "not; only deploy wait needs a deployment.",
    )
    review_start: Literal["first_review", "first_review_by_other"] = "first_review"
    review_end: Literal["approved", "merged"] = Field(
        "approved", description="merged: review runs to the merge, with no approval stage."
    )


class SummaryRules(_Part):
    median: Literal["interpolated", "lower", "mean"] = "interpolated"


class FrequencyRules(_Part):
    bucket: Literal["day", "week", "month"] = "day"
    days: Literal["period", "back_from_end"] = Field(
        "period",
        description="The days the deployment-days-per-week median counts: the period's days, "
        "or DevLake's spine (the end's date and each day before it while later than the "
        "start).",
    )
    week_start: Literal["monday", "sunday"] = Field(
        "monday",
        description="The day the deployment-days-per-week median's weeks start: Monday "
        "(DevLake's WEEKDAY) or Sunday (Four Keys' TIMESTAMP_TRUNC(day, WEEK)).",
    )


class Definition(_Part):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    version: int = Field(1, ge=1)
    description: str = ""
    window: WindowRules = WindowRules()
    deployments: DeploymentRules = DeploymentRules()
    shipping: ShippingRules = ShippingRules()
    spans: SpanRules = SpanRules()
    lead_time: LeadTimeRules = LeadTimeRules()
    flow: FlowRules = FlowRules()
    attribution: AttributionRules = AttributionRules()
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
        version=2,
        description=(
            "dora.dev: production deployments of any kind; lead time from the first commit; "
            "a deployment failed if it needed immediate intervention (incident, rollback, "
            "hotfix, revert, automatic rollout rollback); an incident naming no deployment is "
            "blamed on the latest one at most 30 minutes before it; recovery from the failed "
            "deployment to its first fix; negative spans left out and counted; interpolated "
            "median."
        ),
    ),
    "fourkeys": Definition(
        name="fourkeys",
        version=3,
        description=(
            "Google Four Keys: every successful deployment in any environment; lead time from "
            "the change's first commit in whole minutes, truncated, zero or less dropped; a "
            "deployment failed only if an incident names it; time to restore from the "
            "incident opening (or its root-cause deployment, if earlier) to its resolution in "
            "whole hours, over all resolved incidents; interpolated median; weekly buckets; "
            "the median number of deployment days per Sunday-started week."
        ),
        deployments=DeploymentRules(
            environments=("*",), include_releases=False, include_rollbacks=True
        ),
        lead_time=LeadTimeRules(start="first_commit", rounding="trunc_minute", zero="dropped"),
        attribution=AttributionRules(rule="named"),
        failure=FailureRules(rules=("incident",)),
        recovery=RecoveryRules(
            start="incident_opened_or_cause",
            end="incident_resolved",
            incidents="all",
            rounding="trunc_hour",
        ),
        summary=SummaryRules(median="interpolated"),
        frequency=FrequencyRules(bucket="week", week_start="sunday"),
    ),
    "devlake": Definition(
        name="devlake",
        version=3,
        description=(
            "Apache DevLake DORA plugin: successful production deployments, the period's end "
            "included; a pull request ships with the deployment whose commit range holds its "
            "merge, and a service's first deployment ships nothing; lead time is the pull "
            "request's cycle time (coding + open-to-merge + deploy, each in whole minutes "
            "rounded up, a negative part left out); review runs from the first review by "
            "someone other than the author to the merge, and every change merged in the "
            "period gets its flow stages, shipped or not; an incident is blamed on the latest "
            "successful production deployment before it, however long before; recovery from "
            "that deployment (finished in the period) to the incident's resolution (in the "
            "period too) in whole minutes; lower median."
        ),
        window=WindowRules(end="inclusive"),
        deployments=DeploymentRules(include_releases=False, include_rollbacks=True),
        shipping=ShippingRules(first_deployment="ships_nothing"),
        lead_time=LeadTimeRules(
            start="first_commit",
            changes="pull_requests",
            measure="sum_of_parts",
            rounding="ceil_minute",
        ),
        flow=FlowRules(changes="merged", review_start="first_review_by_other", review_end="merged"),
        attribution=AttributionRules(rule="latest_before"),
        failure=FailureRules(rules=("incident",)),
        recovery=RecoveryRules(
            start="failed_deployment",
            end="incident_resolved",
            rounding="trunc_minute",
            resolved_in_window=True,
        ),
        summary=SummaryRules(median="lower"),
        frequency=FrequencyRules(bucket="week", days="back_from_end"),
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
    row = statements.active(store)
    if row is None:
        return PRESETS[DEFAULT]
    return _from_row(*row)


def _from_row(name: str, version: int, body: str) -> Definition:
    return Definition.model_validate({"name": name, "version": version, **json.loads(body)})


def resolve(store: Store, ref: str) -> Definition:
    """A stored definition or a preset: `dora`, `fourkeys@1`, `mine`, `mine@3`.

    Never a file, whatever `ref` looks like: this is what HTTP requests reach, and a request
    must not name a file on the server (`resolve_local` reads files, for the CLI)."""
    name, _, version = ref.partition("@")
    for row_name, row_version, body in statements.versions(store, name):
        if not version or str(row_version) == version:
            return _from_row(row_name, row_version, body)
    if name in PRESETS and version in ("", str(PRESETS[name].version)):
        return PRESETS[name]
    stored = statements.names(store)
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
    rows = [(number, text) for _, number, text in statements.versions(store, definition.name)]
    body = json.dumps(definition.body(), sort_keys=True)
    version = definition.version
    for row_version, row_body in rows:
        if json.loads(row_body) == definition.body():
            version = row_version
            break
    else:
        if rows:
            version = max(r[0] for r in rows) + 1
    now = datetime.now(UTC)
    with store.transaction():
        before = active(store)
        statements.insert_definition(
            store,
            id=uuid.uuid4().hex,
            name=definition.name,
            version=version,
            body=body,
            author=author,
            at=now.replace(tzinfo=None),
            reason=reason,
        )
        audit.append(
            store,
            actor=author,
            entity="definition",
            entity_id=f"{definition.name}@{version}",
            action="activate",
            before={"definition": f"{before.name}@{before.version}"},
            after={"definition": f"{definition.name}@{version}", "reason": reason},
            at=now,
        )
    return definition.model_copy(update={"version": version})


def history(store: Store) -> list[dict[str, Any]]:
    return statements.history(store)


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
