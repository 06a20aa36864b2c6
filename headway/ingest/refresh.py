"""Fields of stored changes that records written together decide, refreshed after a write:
a request's first commit (from the pushes that listed its commits), a direct commit that a
request merged by rebase or fast-forward wrote after all, and a change's first review and
approval (from every code review seen for it)."""

from __future__ import annotations

from headway.ingest.combine import folded, imported
from headway.ingest.requests import replace_changes
from headway.ingest.stored import changes as read_changes
from headway.model import Change
from headway.sources.mapping import GIT
from headway.store import Store
from headway.store import ingest as statements
from headway.store.base import utc_naive


def first_commits(store: Store, repositories: set[str]) -> None:
    """A merged request's first commit: the earliest commit of the push its merge commit
    headed. (A commit that reached the main line directly is its own first commit.)"""
    statements.first_commits(store, repositories, GIT)


def merged_by_request(store: Store, repositories: set[str]) -> None:
    """A commit taken for a direct push belongs to a pull or merge request after all when its
    push's head is that request's merge commit (a rebase or fast-forward merge writes no
    request number in the commits); the request is the change. Either arrival order.

    When `headway import git` stored the commit (the request's merge came after the import
    and did not take it: a GitLab fast-forward merge's commits keep their own times, and
    the push saying they came with it was not there yet), its size is added to the request
    the import sized, and its first commit counts, as if the import had folded it; what
    named it names the request."""
    moves: dict[str, str] = {}
    for direct, request_id in statements.merged_by_request(store, repositories, GIT):
        moves.setdefault(direct, request_id)
    if not moves:
        return
    stored = read_changes(store, {*moves, *moves.values()})
    taken: dict[str, list[Change]] = {}
    for direct, request_id in moves.items():
        if imported(stored[direct]):
            taken.setdefault(request_id, []).append(stored[direct])
    for request_id, members in sorted(taken.items()):
        request = stored[request_id]
        git = folded(request, members)
        # a size the host gave (the request not imported yet) counts every commit already
        sized = git if imported(request) else request
        statements.set_size(
            store,
            request_id,
            utc_naive(git.first_commit_at),
            (sized.additions, sized.deletions, sized.files),
        )
    replace_changes(store, moves)


def reviews(store: Store, changes: set[str]) -> None:
    """A change's first review and first approval, from every code review seen for it."""
    statements.reviews(store, changes)


__all__ = ["first_commits", "merged_by_request", "reviews"]
