"""One change that two sources report, combined: which fields the git import gives and which
the host's webhooks give, in either order of arrival (pure; `reconcile` and the git import
call it with what is stored).

A pull or merge request that both `headway import git` and webhooks report is one change,
`github:owner/name#N` or `gitlab:group/project!N`, whichever reports it first. Each field
comes from the source that knows it best:

- git: when the work started (`first_commit_at`, the earlier of the two when webhooks saw the
  commits pushed too), the merge (`merged_at`, `merge_sha`), the size, and the release that
  first shipped it (`deployment_ref`);
- the host: who opened it and what it is called (`author`, `title`, `labels`), when it was
  opened, first reviewed and approved.

A revert either one recognises is kept (`is_revert`; `reverts`, git's when both name one).

A commit pushed straight to the main line is one change too, `git:<repository>/<sha>` from
both the import and push webhooks, and is combined the same way, the push speaking for the
host: git gives its size and release, the push the author's login and the title. Its
`merged_at` is the later of the two: git's commit time and the push's are both moments it had
reached the main line by, and the push's is the closer (GitHub's push time; GitLab's newest
commit of the push).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

from headway.model import Change, field_names
from headway.sources.pull_requests import GIT, rebased

GIT_FACTS = ("merged_at", "merge_sha", "additions", "deletions", "files", "deployment_ref")
_IDENTITY = ("source", "source_id", "service", "repository")


def imported(change: Change) -> bool:
    """Whether `headway import git` wrote this change: only it names the release (or the
    repository's undeployed marker, `git:<repository>/undeployed`) in `deployment_ref`."""
    return (change.deployment_ref or "").startswith(f"{GIT}:")


def from_git(stored: Change, change: Change) -> Change:
    """The record the git import writes for `change`, stored already as `stored`."""
    values: dict[str, Any] = {}
    for name in field_names(Change):
        new, old = getattr(change, name), getattr(stored, name)
        if name in GIT_FACTS or name in _IDENTITY:
            values[name] = old if new is None else new
        elif name not in ("first_commit_at", "is_revert", "reverts"):
            values[name] = new if old in (None, ()) else old  # the host's word
    return _combined(values, git=change, host=stored)


def from_host(stored: Change, change: Change) -> Change:
    """The record a webhook writes for `change` when the git import wrote `stored`."""
    values = {name: getattr(change, name) for name in field_names(Change)}
    for name in GIT_FACTS:
        values[name] = getattr(stored, name) if getattr(stored, name) is not None else values[name]
    return _combined(values, git=stored, host=change)


def _combined(values: dict[str, Any], git: Change, host: Change) -> Change:
    starts = [t for t in (git.first_commit_at, host.first_commit_at) if t is not None]
    values["first_commit_at"] = min(starts) if starts else None
    values["is_revert"] = git.is_revert or host.is_revert
    values["reverts"] = git.reverts or host.reverts
    if direct(git) and direct(host) and git.merged_at and host.merged_at:  # one direct commit
        values["merged_at"] = max(git.merged_at, host.merged_at)
    return Change(**values)


def folded(request: Change, members: Iterable[Change]) -> Change:
    """A request whose git facts are those of its rebased commits taken together: the earliest
    commit starts it, and its size is theirs added up (a file two commits touch counts twice)."""
    values = {name: getattr(request, name) for name in field_names(Change)}
    for member in members:
        if member.first_commit_at is not None and (
            values["first_commit_at"] is None or member.first_commit_at < values["first_commit_at"]
        ):
            values["first_commit_at"] = member.first_commit_at
        for name in ("additions", "deletions", "files"):
            mine, theirs = values[name], getattr(member, name)
            values[name] = None if mine is None or theirs is None else mine + theirs
    return Change(**values)


def taken(
    last: Change, before: Sequence[Change], pushed: Collection[str], alone: Collection[str]
) -> list[Change]:
    """Those of `before` (the changes stored just before `last`, the direct change of a
    request's last commit, newest first) that the request merged by rebase brought
    (`pull_requests.rebased`): `pushed` is what the push of its merge listed, `alone` the
    commits that headed a push of their own."""
    assert last.merged_at is not None
    shas = set(
        rebased(
            last.merged_at.timestamp(),
            (
                (c.merge_sha or "", c.merged_at.timestamp(), direct(c))
                for c in before
                if c.merged_at is not None
            ),
            pushed,
            alone,
        )
    )
    return [c for c in before if c.merge_sha in shas]


def direct(change: Change) -> bool:
    """Whether `change` is a commit pushed straight to the main line (no request number)."""
    return change.source == GIT and change.number is None


__all__ = ["GIT_FACTS", "direct", "folded", "from_git", "from_host", "imported", "taken"]
