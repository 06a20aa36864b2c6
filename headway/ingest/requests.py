"""Webhooks' merged requests over what `headway import git` stored: a request merged by rebase
(GitHub's "Rebase and merge", a GitLab fast-forward merge) leaves no merge commit and no number
in its commits, so when its webhook comes after the import, the direct changes the import
stored for its last commit and for those just before it that came with it
(`sources.pull_requests.rebased`) are folded into it and removed; what named them names the
request (`replace_changes`). On GitHub a commit that headed a push of its own is never one of
them (`pushed_alone`); delivered after the fold, that push takes it back out (`folds`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import timedelta

from headway.ingest.combine import folded, from_git, from_host, taken
from headway.ingest.stored import changes as read_changes
from headway.ingest.stored import row_change
from headway.model import Change
from headway.sources.pull_requests import GIT, GITHUB, REBASE_WINDOW_S
from headway.store import Store
from headway.store import folds as statements


def merged_with_stored(store: Store, found: list[Change]) -> list[Change]:
    """The git import's changes `found`, each combined with what the store holds under its id."""
    stored = read_changes(store, {c.id for c in found})
    return [from_git(stored[c.id], c) if c.id in stored else c for c in found]


def pushed_alone(
    store: Store, host: str, repository: str, shas: Collection[str] | None = None
) -> set[str]:
    """Those of `shas` (all, when None) that headed a push (a push webhook's `after`), for a
    GitHub repository.

    GitHub's "Rebase and merge" always writes new commits, and only the push of the merge lists
    them, headed by the last: a commit that headed a push before was pushed by itself (the
    newest of a direct push), not written by the rebase. GitLab may fast-forward a merge request
    whose commits keep the shas their own pushes to its branch had as heads, so there the
    window alone decides."""
    if host != GITHUB or (shas is not None and not shas):
        return set()
    return statements.push_heads(store, repository, shas)


@dataclass(frozen=True)
class RebaseMerges:
    """What webhooks' merged requests take from the direct changes the git import stored."""

    records: dict[str, Change] = field(default_factory=dict)  # the requests, by id
    moves: dict[str, str] = field(default_factory=dict)  # direct change id -> the request's id
    # request id -> the direct change of its last commit, and those folded in before it
    taken: dict[str, tuple[Change, list[Change]]] = field(default_factory=dict)


def rebase_merged(store: Store, changes: list[Change]) -> RebaseMerges:
    """Webhooks' merged requests whose commits `headway import git` stored as direct changes
    (it ran before the webhook came): each request, combined with the git facts of those
    commits, and the direct changes it replaces."""
    found = RebaseMerges()
    for change in changes:
        if change.source == GIT or change.number is None or not change.merge_sha:
            continue
        last = _imported_direct(store, change.service, change.merge_sha)
        if last is None or last.merged_at is None:
            continue
        pushed = pushed_by(store, change.repository or "", change.merge_sha)
        near = _imported_before(store, change.service, last, pushed)
        members = taken_in(store, change, last, near, pushed)
        found.records[change.id] = from_host(folded(last, members), change)
        for old in (last, *members):
            found.moves[old.id] = change.id
        if members:
            found.taken[change.id] = (last, members)
    return found


def pushed_by(store: Store, repository: str, head: str) -> set[str]:
    """The commits the pushes headed by `head` listed."""
    return statements.pushed_by(store, repository, head)


def taken_in(
    store: Store, request: Change, last: Change, before: list[Change], pushed: Collection[str]
) -> list[Change]:
    """Those of `before` (the changes stored just before `last`, the direct change of the
    request's last commit, newest first) that the request merged by rebase brought, by what
    the store knows now (`combine.taken`); `pushed`: what the push of its merge listed."""
    alone = pushed_alone(
        store, request.source, request.repository or "", {c.merge_sha or "" for c in before}
    )
    return taken(last, before, pushed, alone)


def replace_changes(store: Store, moves: dict[str, str]) -> dict[str, list[tuple[str, str, str]]]:
    """Remove the changes `moves` names (old id -> id of the change that replaces it) and
    point the changes, reviews and defects naming them at their replacement. Returns what
    was repointed: old id -> (table, column, row id) of each record that named it."""
    return statements.replace_changes(store, moves)


# What `headway import git` stored names a release of its own (or its undeployed marker).
_IMPORTED = f"{GIT}:%"


def _imported_direct(store: Store, service: str, sha: str) -> Change | None:
    row = statements.imported_direct(store, service, sha, GIT, _IMPORTED)
    return row_change(row) if row else None


def _imported_before(
    store: Store, service: str, last: Change, pushed: Collection[str]
) -> list[Change]:
    """The changes imports stored in `service` that reached the main line just before `last`
    (within the window, or as early as the earliest pushed commit), newest first."""
    assert last.merged_at is not None
    earliest = last.merged_at - timedelta(seconds=REBASE_WINDOW_S)
    if pushed:
        stored = read_changes(store, {f"{GIT}:{last.repository}/{sha}" for sha in pushed})
        earliest = min([earliest, *(c.merged_at for c in stored.values() if c.merged_at)])
    rows = statements.imported_between(
        store,
        service,
        last.id,
        _IMPORTED,
        earliest.replace(tzinfo=None),
        last.merged_at.replace(tzinfo=None),
    )
    return [row_change(row) for row in rows]


__all__ = [
    "RebaseMerges",
    "merged_with_stored",
    "pushed_alone",
    "pushed_by",
    "rebase_merged",
    "replace_changes",
    "taken_in",
]
