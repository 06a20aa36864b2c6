"""Pull and merge requests as both `headway import git` and webhooks see them (pure rules).

A request merged by rebase (GitHub's "Rebase and merge", a GitLab fast-forward merge) leaves no
merge commit and no number in its commits; webhooks name its last commit (`merge_sha`), and
`rebased()` says which main-line commits just before it came with it, for the git import and
webhooks alike (`git/rebased.py`, `ingest.requests.rebase_merged`): those a push headed by the
last commit listed, and those committed within REBASE_WINDOW_S of it. On GitHub a commit that
headed a push of its own is never one of them: its rebase merge always writes new commits,
which no push but the merge's lists, so a developer's direct push seconds before or after the
merge stays a direct change; delivered after a webhook folded its commit in, it takes the
commit back out (`ingest.folds`). GitLab keeps the window alone (a fast-forward merge without
a rebase keeps the commits, and the heads, of its branch's pushes). How the two sources'
records of one request combine is `ingest.combine`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

GIT = "git"
GITHUB = "github"
# One rebase writes all of a request's commits at once: GitHub's "Rebase and merge" gives each
# the merge as committer time, GitLab's rebase its own. Direct commits seldom land this close.
REBASE_WINDOW_S = 10


def rebased(
    head_committed: float,
    before: Iterable[tuple[str, float, bool]],
    pushed: Collection[str],
    alone: Collection[str] = (),
) -> list[str]:
    """The commits a request merged by rebase brought before its last commit.

    `before` walks the main line back from that commit, newest first, as (sha, committer time
    in seconds, is a direct commit: one parent and no request number). A commit came with the
    request when it is direct and a push whose head was the last commit listed it (`pushed`),
    or it was committed within REBASE_WINDOW_S of the last one and did not head a push of its
    own (`alone`: given for GitHub only, see `ingest.requests.pushed_alone`); the walk stops at the first that
    did not (a merge, another request, an older direct commit, one pushed by itself)."""
    taken = []
    for sha, committed, direct in before:
        if not direct:
            break
        if sha not in pushed and (sha in alone or head_committed - committed > REBASE_WINDOW_S):
            break
        taken.append(sha)
    return taken


__all__ = ["GIT", "GITHUB", "REBASE_WINDOW_S", "rebased"]
