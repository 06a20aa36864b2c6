"""The delivery evidence a rollout leaves, ingested like any source's records.

A completed rollout is a `release` deployment; a rollback is that release, failed, plus the
`rollback` deployment that recovered it; an approved stage is an approval of the release.
"""

from __future__ import annotations

from datetime import datetime

from headway.model import Approval, ApprovalKind, Deployment, DeploymentKind
from headway.rollouts.store import Rollout

SOURCE = "headway"  # `source` of the deployments and approvals rollouts write
CONTROLLER = "headway"  # the actor recorded for the controller's own moves


def release(rollout: Rollout, finished_at: datetime, evidence: str | None) -> Deployment:
    """The rollout as a release of its treatment, from its start to `finished_at`."""
    plan = rollout.parsed_plan
    return Deployment(
        source=SOURCE,
        source_id=f"rollout/{rollout.id}",
        service=rollout.service,
        environment=rollout.environment,
        started_at=rollout.started_at,
        finished_at=finished_at,
        status="success",
        kind=DeploymentKind.RELEASE.value,
        version=f"{plan.flag}={plan.treatment}",
        trigger="rollout",
        evidence=evidence,
    )


def recovery(
    rollout: Rollout, release_id: str, actor: str, reason: str, now: datetime
) -> Deployment:
    """The rollback back to the control variant, recovering the release `release_id`."""
    plan = rollout.parsed_plan
    return Deployment(
        source=SOURCE,
        source_id=f"rollout/{rollout.id}/rollback",
        service=rollout.service,
        environment=rollout.environment,
        started_at=now,
        finished_at=now,
        status="success",
        kind=DeploymentKind.ROLLBACK.value,
        version=f"{plan.flag}={plan.control}",
        trigger="rollout",
        recovers=release_id,
        evidence=f"{'automatic' if actor == CONTROLLER else 'manual'} rollback: {reason}",
    )


def stage_approval(rollout: Rollout, actor: str, asked: datetime, now: datetime) -> Approval:
    """`actor`'s approval, at `now`, of the stage after the current one, asked for at `asked`."""
    return Approval(
        source=SOURCE,
        source_id=f"rollout/{rollout.id}/stage/{rollout.stage_index + 1}",
        kind=ApprovalKind.ROLLOUT_STAGE.value,
        deployment_ref=f"{SOURCE}:rollout/{rollout.id}",
        service=rollout.service,
        requested_at=asked,
        decided_at=now,
        decision="approved",
        actor=actor,
    )
