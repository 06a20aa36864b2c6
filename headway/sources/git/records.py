"""Canonical records (changes, deployments) built from what the history says."""

from __future__ import annotations

from datetime import UTC, datetime

from headway.model import Change, Deployment, record_id
from headway.sources.git.changes import ChangeInfo
from headway.sources.git.history import Commit, Tag
from headway.sources.git.options import Options

SOURCE = "git"


def undeployed_ref(repository: str) -> str:
    """A deployment_ref meaning "git says no release contains this yet": it names no
    deployment, so linking leaves the change unshipped instead of guessing by time."""
    return record_id(SOURCE, f"{repository}/undeployed")


def instant(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def deployment_id(repository: str, tag: Tag) -> str:
    return record_id(SOURCE, f"{repository}/tag/{tag.name}")


def deployment_record(opts: Options, tag: Tag, recovers: str | None) -> Deployment:
    return Deployment(
        source=SOURCE,
        source_id=f"{opts.repository}/tag/{tag.name}",
        service=opts.service,
        finished_at=instant(tag.time),
        environment=opts.environment,
        sha=tag.sha,
        version=tag.name,
        trigger="tag",
        recovers=recovers,
    )


def change_key(opts: Options, sha: str, request: int | None) -> tuple[str, str, str]:
    """(source, source_id, repository) of a change: pull request `request` named as the
    host's webhooks name it, else the main-line commit (`git:<repository>/<sha>`)."""
    if request is not None and opts.host is not None:
        return opts.host.kind, opts.host.source_id(request), opts.host.repository
    return SOURCE, f"{opts.repository}/{sha}", opts.repository


def change_id(opts: Options, sha: str, request: int | None) -> str:
    source, source_id, _ = change_key(opts, sha, request)
    return record_id(source, source_id)


def change_record(
    opts: Options,
    commit: Commit,
    info: ChangeInfo,
    reverts: str | None,
    nowhere: str,
    size: tuple[int, int, int] | None,
) -> Change:
    """The change a main-line commit is; `reverts` is the id of the change it reverts."""
    source, source_id, repository = change_key(opts, commit.sha, info.request)
    files, additions, deletions = size or (None, None, None)
    return Change(
        source=source,
        source_id=source_id,
        service=opts.service,
        repository=repository,
        author=info.author,
        number=info.number,
        title=info.title[:500],
        first_commit_at=instant(info.first),
        merged_at=instant(commit.committed),
        merge_sha=commit.sha,
        additions=additions,
        deletions=deletions,
        files=files,
        is_revert=reverts is not None,
        reverts=reverts,
        deployment_ref=info.deployment or nowhere,
    )
