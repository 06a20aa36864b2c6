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


def change_record(
    opts: Options,
    commit: Commit,
    info: ChangeInfo,
    reverts: str | None,
    nowhere: str,
    size: tuple[int, int, int] | None,
) -> Change:
    repo = opts.repository
    files, additions, deletions = size or (None, None, None)
    return Change(
        source=SOURCE,
        source_id=f"{repo}/{commit.sha}",
        service=opts.service,
        repository=repo,
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
        reverts=record_id(SOURCE, f"{repo}/{reverts}") if reverts is not None else None,
        deployment_ref=info.deployment or nowhere,
    )
