"""GitLab webhook payloads → canonical records (mapping documented in docs/webhooks.md).

The event is the payload's `object_kind`. Projects are named by `path_with_namespace`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from headway.model import (
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

SOURCE = "gitlab"

_DEPLOYED = {
    "success": DeploymentStatus.SUCCESS,
    "failed": DeploymentStatus.FAILURE,
    "canceled": DeploymentStatus.CANCELLED,
}
_PIPELINE = {"success": "success", "failed": "failure", "canceled": "cancelled"}


def parse(event: str, payload: dict[str, Any], mapping: Mapping) -> Parsed:
    handler = _HANDLERS.get(event)
    if handler is None:
        return Parsed.ignore(f"GitLab event `{event}` is not used by Headway")
    return handler(payload, mapping)


def _project(payload: dict[str, Any], mapping: Mapping) -> tuple[str, str]:
    project = text(payload, "project.path_with_namespace")
    return project, mapping.service(project)


def _merge_request(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    project, service = _project(payload, mapping)
    mr = get(payload, "object_attributes")
    merged = mr.get("state") == "merged" or mr.get("action") == "merge"
    title = mr.get("title") or ""
    change = Change(
        source=SOURCE,
        source_id=f"{project}!{text(mr, 'iid')}",
        service=service,
        repository=project,
        author=opt(payload, "user.username"),
        number=int(get(mr, "iid")),
        title=title,
        labels=labels_of(payload.get("labels") or mr.get("labels")),
        opened_at=(opened := when(mr, "created_at")),
        # GitLab's merge event carries no merged_at; the event is sent when the merge happens.
        merged_at=(when(mr, "merged_at", required=False) or when(mr, "updated_at"))
        if merged
        else None,
        # A fast-forward merge writes no merge commit: the request's last commit is the one
        # the target branch moved to.
        merge_sha=(mr.get("merge_commit_sha") or opt(mr, "last_commit.id")) if merged else None,
        is_revert=title.startswith('Revert "'),
        # A request closed without a merge was given up; GitLab's event is sent as it happens.
        closed_at=(when(mr, "closed_at", required=False) or when(mr, "updated_at"))
        if not merged and (mr.get("state") == "closed" or mr.get("action") == "close")
        else None,
    )
    # A request's events are ordered by its `updated_at`, then the action: an old `open`
    # sent again after the merge changes nothing.
    changed = when(mr, "updated_at", required=False) or opened
    action = mr.get("action") or mr.get("state")
    return Parsed(records=(change,), order=Order(str(action or ""), changed))


def _push(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    project, service = _project(payload, mapping)
    head = payload.get("after") or payload.get("checkout_sha")
    commits = payload.get("commits") or []
    if not commits or not isinstance(head, str) or set(head) == {"0"}:
        return Parsed.ignore("push lists no commits (a deleted branch or tag)")
    seen = tuple(
        SeenCommit(
            source=SOURCE,
            repository=project,
            push_head=head,
            sha=text(c, "id"),
            committed_at=when(c, "timestamp"),
        )
        for c in commits
    )
    if (
        payload.get("object_kind") == "tag_push"
        and mapping.entry(project).get("deployments") == "tag"
    ):
        tag = str(get(payload, "ref")).removeprefix("refs/tags/")
        deployment = Deployment(
            source=SOURCE,
            source_id=f"{project}/tags/{tag}",
            service=service,
            finished_at=max(c.committed_at for c in seen),
            environment=mapping.production_environments[0],
            sha=head,
            version=tag,
            trigger=payload.get("user_username"),
        )
        return Parsed(
            records=(deployment,), commits=seen, order=Order(head, deployment.finished_at)
        )
    # GitLab sends no push time: the newest commit of the push is the nearest earlier bound.
    reached = max(c.committed_at for c in seen)
    direct = direct_changes(
        project, service, payload, opt(payload, "project.default_branch"), reached
    )
    # A push is immutable: named by its head and time, the same push again is one event.
    return Parsed(records=direct, commits=seen, order=Order(head, reached))


def _pipeline(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    project, service = _project(payload, mapping)
    run = get(payload, "object_attributes")
    status = str(get(run, "status"))
    if status not in _PIPELINE:
        return Parsed.ignore(f"pipeline status `{status}` is not a finished run")
    record = PipelineRun(
        source=SOURCE,
        source_id=f"{project}/pipelines/{text(run, 'id')}",
        service=service,
        repository=project,
        workflow=run.get("name") or run.get("ref"),
        sha=run.get("sha"),
        started_at=when(run, "created_at", required=False),
        finished_at=when(run, "finished_at", required=False),
        conclusion=_PIPELINE[status],
    )
    # A retried pipeline keeps its id and finishes again later: the latest finish applies.
    changed = (
        record.finished_at
        or when(run, "updated_at", required=False)
        or when(run, "created_at", required=False)
    )
    return Parsed(records=(record,), order=Order(text(run, "id"), changed) if changed else None)


def _deployment(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    project, service = _project(payload, mapping)
    status = str(get(payload, "status"))
    if status not in _DEPLOYED:
        return Parsed.ignore(f"deployment status `{status}` is not an outcome")
    environment = text(payload, "environment")
    if not mapping.is_production(environment):
        return Parsed.ignore(
            f"environment `{environment}` is not a production environment "
            "(HEADWAY_PRODUCTION_ENVIRONMENTS)"
        )
    commit_url = str(payload.get("commit_url") or "")
    sha = commit_url.rsplit("/", 1)[-1] if "/commit/" in commit_url else payload.get("short_sha")
    record = Deployment(
        source=SOURCE,
        source_id=f"{project}/deployments/{text(payload, 'deployment_id')}",
        service=service,
        finished_at=when(payload, "status_changed_at"),
        environment=environment,
        status=_DEPLOYED[status].value,
        kind=DeploymentKind.DEPLOY.value,
        sha=sha,
        version=payload.get("ref"),
        trigger=opt(payload, "user.username"),
        evidence=f"GitLab deployment status `{status}`" if status != "success" else None,
    )
    # GitLab sends no id per status change; its time orders them (then the status, so two
    # in one second resolve the same way whatever order they arrive in).
    return Parsed(records=(record,), order=Order(status, record.finished_at))


def _release(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    project, service = _project(payload, mapping)
    if mapping.entry(project).get("deployments") != "release":
        return Parsed.ignore(
            f"releases of {project} are not deployments (set service_map."
            f'"{project}".deployments = "release" to count them)'
        )
    if payload.get("action") != "create":
        return Parsed.ignore(f"release action `{payload.get('action')}` is not a new release")
    record = Deployment(
        source=SOURCE,
        source_id=f"{project}/releases/{text(payload, 'tag')}",
        service=service,
        finished_at=when(payload, "released_at"),
        environment=mapping.production_environments[0],
        started_at=when(payload, "created_at", required=False),
        sha=opt(payload, "commit.id"),
        version=text(payload, "tag"),
    )
    # Only a release's creation counts: the same creation again is the same event.
    created = when(payload, "created_at", required=False) or record.finished_at
    event = str(payload.get("id") or text(payload, "tag"))
    return Parsed(records=(record,), order=Order(event, created))


def _issue(payload: dict[str, Any], mapping: Mapping) -> Parsed:
    project, service = _project(payload, mapping)
    issue = get(payload, "object_attributes")
    labels = labels_of(payload.get("labels") or issue.get("labels"))
    source_id = f"{project}#{text(issue, 'iid')}"
    kind = str(issue.get("issue_type") or issue.get("type") or payload.get("object_kind")).lower()
    closed = when(issue, "closed_at", required=False)
    if kind == "incident" or mapping.labelled(labels, mapping.incident_labels):
        incident = Incident(
            source=SOURCE,
            source_id=source_id,
            service=service,
            opened_at=when(issue, "created_at"),
            resolved_at=closed
            or (
                when(issue, "updated_at", required=False)
                if issue.get("state") == "closed"
                else None
            ),
            severity=issue.get("severity"),
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
            severity=issue.get("severity"),
            title=issue.get("title"),
        )
        return Parsed(records=(defect,))
    return Parsed.ignore(
        "issue is not an incident and has no incident or defect label "
        "(HEADWAY_INCIDENT_LABELS, HEADWAY_DEFECT_LABELS)"
    )


_HANDLERS: dict[str, Callable[[dict[str, Any], Mapping], Parsed]] = {
    "merge_request": _merge_request,
    "push": _push,
    "tag_push": _push,
    "pipeline": _pipeline,
    "deployment": _deployment,
    "release": _release,
    "issue": _issue,
    "incident": _issue,
}


def change_id(project: str, iid: int | str) -> str:
    return record_id(SOURCE, f"{project}!{iid}")


__all__ = ["SOURCE", "change_id", "parse"]
