"""GitHub webhook payloads → canonical records (mapping documented in docs/webhooks.md).

`parse(event, payload, mapping)` is pure: the event name comes from `X-GitHub-Event`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from headway.model import (
    Approval,
    ApprovalKind,
    Change,
    Defect,
    Deployment,
    DeploymentKind,
    DeploymentStatus,
    Incident,
    PipelineRun,
    record_id,
)
from headway.ordering import Order
from headway.sources.mapping import (
    Mapping,
    Parsed,
    SeenCommit,
    direct_changes,
    get,
    labels_of,
    opt,
    text,
    when,
)

SOURCE = "github"

_REVERTS = re.compile(r"\bReverts\s+([\w.-]+/[\w.-]+)#(\d+)")
_FINISHED = {
    "success": DeploymentStatus.SUCCESS,
    "failure": DeploymentStatus.FAILURE,
    "error": DeploymentStatus.FAILURE,
}
_CONCLUSIONS = {
    "success": "success",
    "failure": "failure",
    "timed_out": "failure",
    "startup_failure": "failure",
    "cancelled": "cancelled",
}


def change_id(repository: str, number: int | str) -> str:
    return record_id(SOURCE, f"{repository}#{number}")


def parse(event: str, payload: dict[str, Any], mapping: Mapping) -> Parsed:
    handler = _HANDLERS.get(event)
    if handler is None:
        return Parsed.ignore(f"GitHub event `{event}` is not used by Headway")
    return handler(payload, mapping)


def _repo(payload: dict[str, Any], mapping: Mapping) -> tuple[str, str]:
    repository = text(payload, "repository.full_name")
    return repository, mapping.service(repository)


def _pull_request(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    repository, service = _repo(payload, mapping)
    pr = get(payload, "pull_request")
    number = get(pr, "number")
    merged = bool(pr.get("merged")) or pr.get("merged_at") is not None
    title = pr.get("title") or ""
    reverted = _REVERTS.search(pr.get("body") or "")
    change = Change(
        source=SOURCE,
        source_id=f"{repository}#{number}",
        service=service,
        repository=repository,
        author=opt(pr, "user.login"),
        number=int(number),
        title=title,
        labels=labels_of(pr.get("labels")),
        opened_at=when(pr, "created_at"),
        merged_at=when(pr, "merged_at") if merged else None,
        merge_sha=pr.get("merge_commit_sha") if merged else None,
        additions=pr.get("additions"),
        deletions=pr.get("deletions"),
        files=pr.get("changed_files"),
        is_revert=title.startswith('Revert "') or reverted is not None,
        reverts=change_id(reverted.group(1), reverted.group(2)) if reverted else None,
        closed_at=when(pr, "closed_at", required=False) if _closed(pr, merged) else None,
    )
    # A request's events are ordered by its `updated_at`, then the action (a merge as
    # `merged`), so an old `opened` sent again after the merge changes nothing.
    changed = when(pr, "updated_at", required=False) or max(
        t for t in (change.opened_at, change.merged_at, change.closed_at) if t is not None
    )
    action = "merged" if merged and payload.get("action") == "closed" else payload.get("action")
    return Parsed(records=(change,), order=Order(str(action or ""), changed))


def _closed(pr: dict[str, Any], merged: bool) -> bool:
    """Closed without being merged: given up, so no longer work in progress."""
    return not merged and pr.get("state") == "closed"


def _review(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    if payload.get("action") != "submitted":
        return Parsed.ignore(f"pull_request_review action `{payload.get('action')}` is not used")
    repository, service = _repo(payload, mapping)
    review = get(payload, "review")
    state = str(get(review, "state")).lower()
    approval = Approval(
        source=SOURCE,
        source_id=f"{repository}#review-{text(review, 'id')}",
        kind=ApprovalKind.CODE_REVIEW.value,
        change_ref=change_id(repository, text(payload, "pull_request.number")),
        service=service,
        requested_at=when(payload, "pull_request.created_at", required=False),
        decided_at=(submitted := when(review, "submitted_at")),
        decision={"approved": "approved", "changes_requested": "rejected"}.get(state, state),
        actor=opt(review, "user.login"),
    )
    # A submitted review never changes: the same review again is the same event.
    return Parsed(records=(approval,), order=Order(text(review, "id"), submitted))


def _push(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    repository, service = _repo(payload, mapping)
    head = payload.get("after")
    commits = payload.get("commits") or []
    if payload.get("deleted") or not commits or not isinstance(head, str):
        return Parsed.ignore("push lists no commits (a deleted branch or a tag)")
    seen = tuple(
        SeenCommit(
            source=SOURCE,
            repository=repository,
            push_head=head,
            sha=text(c, "id"),
            committed_at=when(c, "timestamp"),
        )
        for c in commits
    )
    # The push's own time: `repository.pushed_at` (epoch seconds), else its head commit's.
    reached = (
        when(payload, "repository.pushed_at", required=False)
        or when(payload, "head_commit.timestamp", required=False)
        or max(c.committed_at for c in seen)
    )
    direct = direct_changes(
        repository, service, payload, opt(payload, "repository.default_branch"), reached
    )
    # A push is immutable: named by its head and time, the same push again is one event.
    return Parsed(records=direct, commits=seen, order=Order(head, reached))


def _deployment_status(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    repository, service = _repo(payload, mapping)
    status = get(payload, "deployment_status")
    deployment = get(payload, "deployment")
    state = str(get(status, "state")).lower()
    if state not in _FINISHED:
        return Parsed.ignore(
            f"deployment status `{state}` is not an outcome (success, failure, error)"
        )
    environment = (
        text(status, "environment")
        if status.get("environment")
        else text(deployment, "environment")
    )
    if not mapping.is_production(environment):
        return Parsed.ignore(
            f"environment `{environment}` is not a production environment "
            "(HEADWAY_PRODUCTION_ENVIRONMENTS)"
        )
    task = str(deployment.get("task") or "")
    description = str(deployment.get("description") or "")
    rollback = "rollback" in task.lower() or description.lower().startswith("rollback")
    record = Deployment(
        source=SOURCE,
        source_id=f"{repository}/deployments/{text(deployment, 'id')}",
        service=service,
        finished_at=when(status, "created_at"),
        environment=environment,
        started_at=when(deployment, "created_at", required=False),
        status=_FINISHED[state].value,
        kind=(DeploymentKind.ROLLBACK if rollback else DeploymentKind.DEPLOY).value,
        sha=deployment.get("sha"),
        version=deployment.get("ref"),
        trigger=opt(deployment, "creator.login"),
        evidence=f"GitHub deployment status `{state}`" if state != "success" else None,
    )
    # Statuses of one deployment are ordered by their own time, then id (ids only grow).
    changed = when(status, "updated_at", required=False) or record.finished_at
    return Parsed(records=(record,), order=Order(text(status, "id"), changed))


def _pipeline(kind: str) -> Callable[[dict[str, Any], Mapping], Parsed]:
    def handler(payload: dict[str, Any], mapping: Mapping) -> Parsed:
        if payload.get("action") != "completed":
            return Parsed.ignore(f"{kind} action `{payload.get('action')}` is not a finished run")
        repository, service = _repo(payload, mapping)
        run = get(payload, kind)
        conclusion = str(run.get("conclusion") or "").lower()
        if kind == "workflow_run":
            workflow = run.get("name") or opt(payload, "workflow.name") or run.get("path")
            started = when(run, "run_started_at", required=False) or when(run, "created_at")
        else:
            workflow = opt(run, "app.name") or "check suite"
            started = when(run, "created_at")
        record = PipelineRun(
            source=SOURCE,
            source_id=f"{repository}/{kind}/{text(run, 'id')}",
            service=service,
            repository=repository,
            workflow=workflow or None,
            sha=run.get("head_sha"),
            started_at=started,
            finished_at=(finished := when(run, "updated_at")),
            conclusion=_CONCLUSIONS.get(conclusion, conclusion or None),
        )
        # A re-run keeps the run's id: its attempt and `updated_at` say which result is newer.
        attempt = run.get("run_attempt")
        event = str(attempt) if isinstance(attempt, int) and not isinstance(attempt, bool) else ""
        return Parsed(records=(record,), order=Order(event, finished))

    return handler


def _release(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    repository, service = _repo(payload, mapping)
    if mapping.entry(repository).get("deployments") != "release":
        return Parsed.ignore(
            f"releases of {repository} are not deployments (set service_map."
            f'"{repository}".deployments = "release" to count them)'
        )
    release = get(payload, "release")
    if payload.get("action") != "published" or release.get("draft") or release.get("prerelease"):
        return Parsed.ignore("only published, final releases count as deployments")
    record = Deployment(
        source=SOURCE,
        source_id=f"{repository}/releases/{text(release, 'id')}",
        service=service,
        finished_at=when(release, "published_at"),
        environment=mapping.production_environments[0],
        started_at=when(release, "created_at", required=False),
        version=text(release, "tag_name"),
        trigger=opt(release, "author.login"),
    )
    # Only a publication counts, and publishing again (after unpublishing) moves
    # `published_at`: a replay of one is the same event.
    changed = when(release, "updated_at", required=False) or record.finished_at
    return Parsed(records=(record,), order=Order(text(release, "id"), changed))


def _deployment_review(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    repository, service = _repo(payload, mapping)
    action = payload.get("action")
    if action not in ("requested", "approved", "rejected"):
        return Parsed.ignore(f"deployment_review action `{action}` is not used")
    run = get(payload, "workflow_run")
    environment = opt(payload, "environment") or opt(payload, "workflow_job_run.environment")
    decided = action != "requested"
    approval = Approval(
        source=SOURCE,
        source_id=f"{repository}/runs/{text(run, 'id')}/gate/{environment or 'default'}",
        kind=ApprovalKind.DEPLOYMENT_GATE.value,
        service=service,
        requested_at=when(payload, "since", required=False) or when(run, "created_at"),
        decided_at=when(run, "updated_at") if decided else None,
        decision=action if decided else None,
        actor=opt(payload, "approver.login") if decided else None,
    )
    # A late `requested` after the decision keeps only its request time.
    changed = approval.decided_at or approval.requested_at
    return Parsed(records=(approval,), order=Order(str(action), changed) if changed else None)


def _issue(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    repository, service = _repo(payload, mapping)
    issue = get(payload, "issue")
    labels = labels_of(issue.get("labels"))
    source_id = f"{repository}/issues/{text(issue, 'number')}"
    if mapping.labelled(labels, mapping.incident_labels):
        incident = Incident(
            source=SOURCE,
            source_id=source_id,
            service=service,
            opened_at=when(issue, "created_at"),
            resolved_at=when(issue, "closed_at", required=False),
            title=issue.get("title"),
            labels=labels,
        )
        changed = when(issue, "updated_at", required=False)
        return Parsed(records=(incident,), order=Order("", changed) if changed else None)
    if mapping.labelled(labels, mapping.defect_labels):
        defect = Defect(
            source=SOURCE,
            source_id=source_id,
            service=service,
            found_at=when(issue, "created_at"),
            title=issue.get("title"),
        )
        return Parsed(records=(defect,))
    return Parsed.ignore(
        "issue has no incident or defect label (HEADWAY_INCIDENT_LABELS, HEADWAY_DEFECT_LABELS)"
    )


_HANDLERS: dict[str, Callable[[dict[str, Any], Mapping], Parsed]] = {
    "pull_request": _pull_request,
    "pull_request_review": _review,
    "push": _push,
    "deployment_status": _deployment_status,
    "workflow_run": _pipeline("workflow_run"),
    "check_suite": _pipeline("check_suite"),
    "release": _release,
    "deployment_review": _deployment_review,
    "issues": _issue,
    "deployment": lambda _p, _m: Parsed.ignore(
        "a deployment is recorded when its deployment_status reports the outcome"
    ),
    "ping": lambda _p, _m: Parsed.ignore("ping: the webhook is connected"),
}

__all__ = ["SOURCE", "change_id", "parse"]
