"""A pull or merge request that both `headway import git` and webhooks report is one change,
`github:owner/name#N` or `gitlab:group/project!N`, whichever reports it first.

Each field comes from the source that knows it best, in either order of arrival:

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

A request merged by rebase (GitHub's "Rebase and merge", a GitLab fast-forward merge) leaves no
merge commit and no number in its commits; webhooks name its last commit (`merge_sha`), and
`rebased()` says which main-line commits just before it came with it, for the git import and
webhooks alike (`git/rebased.py`, `rebase_merged()`): those a push headed by the last commit
listed, and those committed within REBASE_WINDOW_S of it. On GitHub a commit that headed a push
of its own is never one of them (`pushed_alone()`): its rebase merge always writes new commits,
which no push but the merge's lists, so a developer's direct push seconds before or after the
merge stays a direct change; delivered after a webhook folded its commit in, it takes the
commit back out (`rebase_folds.py`). GitLab keeps the window alone (a fast-forward merge
without a rebase keeps the commits, and the heads, of its branch's pushes).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from headway.model import Change, columns, field_names
from headway.store import Store

GIT = "git"
GITHUB = "github"
# One rebase writes all of a request's commits at once: GitHub's "Rebase and merge" gives each
# the merge as committer time, GitLab's rebase its own. Direct commits seldom land this close.
REBASE_WINDOW_S = 10
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
    if _direct(git) and _direct(host) and git.merged_at and host.merged_at:  # one direct commit
        values["merged_at"] = max(git.merged_at, host.merged_at)
    return Change(**values)


def read(store: Store, ids: Collection[str]) -> dict[str, Change]:
    """The stored changes among `ids`."""
    found: dict[str, Change] = {}
    names = columns(Change)
    wanted = sorted(ids)
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        for row in store.query(
            f"SELECT {', '.join(names)} FROM changes WHERE id IN ({', '.join('?' * len(chunk))})",
            chunk,
        ):
            found[row[0]] = _change(dict(zip(names[1:], row[1:], strict=True)))
    return found


def _change(row: dict[str, Any]) -> Change:
    for name, value in row.items():
        if isinstance(value, datetime) and value.tzinfo is None:  # stores keep naive UTC
            row[name] = value.replace(tzinfo=UTC)
    row["labels"] = tuple(json.loads(row["labels"])) if row["labels"] else ()
    row["is_revert"] = bool(row["is_revert"])
    return Change(**row)


def merged_with_stored(store: Store, changes: list[Change]) -> list[Change]:
    """The git import's `changes`, each combined with what the store holds under its id."""
    stored = read(store, {c.id for c in changes})
    return [from_git(stored[c.id], c) if c.id in stored else c for c in changes]


def keep_git_facts(store: Store, changes: list[Change]) -> dict[str, Change]:
    """Webhooks' `changes` (requests, and direct commits a push listed), by id, combined with
    what the git import stored for them."""
    stored = read(store, {c.id for c in changes})
    return {
        c.id: from_host(stored[c.id], c)
        for c in changes
        if c.id in stored and imported(stored[c.id])
    }


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
    own (`alone`: given for GitHub only, see `pushed_alone`); the walk stops at the first that
    did not (a merge, another request, an older direct commit, one pushed by itself)."""
    taken = []
    for sha, committed, direct in before:
        if not direct:
            break
        if sha not in pushed and (sha in alone or head_committed - committed > REBASE_WINDOW_S):
            break
        taken.append(sha)
    return taken


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
    heads = "SELECT DISTINCT push_head FROM seen_commits WHERE repository = ?"
    if shas is None:
        return {str(r[0]) for r in store.query(heads, [repository])}
    found: set[str] = set()
    wanted = sorted(shas)
    for i in range(0, len(wanted), 500):
        chunk = wanted[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        found.update(
            str(r[0])
            for r in store.query(f"{heads} AND push_head IN ({marks})", [repository, *chunk])
        )
    return found


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
    return {
        str(r[0])
        for r in store.query(
            "SELECT sha FROM seen_commits WHERE repository = ? AND push_head = ?",
            [repository, head],
        )
    }


def taken_in(
    store: Store, request: Change, last: Change, before: list[Change], pushed: Collection[str]
) -> list[Change]:
    """Those of `before` (the changes stored just before `last`, the direct change of the
    request's last commit, newest first) that the request merged by rebase brought, by what
    the store knows now (`rebased`); `pushed`: what the push of its merge listed."""
    assert last.merged_at is not None
    alone = pushed_alone(
        store, request.source, request.repository or "", {c.merge_sha or "" for c in before}
    )
    taken = set(
        rebased(
            last.merged_at.timestamp(),
            (
                (c.merge_sha or "", c.merged_at.timestamp(), _direct(c))
                for c in before
                if c.merged_at is not None
            ),
            pushed,
            alone,
        )
    )
    return [c for c in before if c.merge_sha in taken]


# Where other records name a change by its id.
_REFERENCES = (("changes", "reverts"), ("approvals", "change_ref"), ("defects", "change_ref"))


def replace_changes(store: Store, moves: dict[str, str]) -> dict[str, list[tuple[str, str, str]]]:
    """Remove the changes `moves` names (old id -> id of the change that replaces it) and
    point the changes, reviews and defects naming them at their replacement. Returns what
    was repointed: old id -> (table, column, row id) of each record that named it."""
    repointed: dict[str, list[tuple[str, str, str]]] = {}
    olds = sorted(moves)
    for i in range(0, len(olds), 500):
        chunk = olds[i : i + 500]
        marks = ", ".join("?" * len(chunk))
        store.execute(f"DELETE FROM changes WHERE id IN ({marks})", chunk)
        for table, column in _REFERENCES:
            for row_id, old in store.query(
                f"SELECT id, {column} FROM {table} WHERE {column} IN ({marks})", chunk
            ):
                store.execute(f"UPDATE {table} SET {column} = ? WHERE id = ?", [moves[old], row_id])
                repointed.setdefault(old, []).append((table, column, row_id))
    return repointed


def _direct(change: Change) -> bool:
    return change.source == GIT and change.number is None


def _imported_direct(store: Store, service: str, sha: str) -> Change | None:
    names = columns(Change)
    rows = store.query(
        f"SELECT {', '.join(names)} FROM changes WHERE service = ? AND source = ? "
        "AND merge_sha = ? AND number IS NULL AND deployment_ref LIKE 'git:%'",
        [service, GIT, sha],
    )
    return _change(dict(zip(names[1:], rows[0][1:], strict=True))) if rows else None


def _imported_before(
    store: Store, service: str, last: Change, pushed: Collection[str]
) -> list[Change]:
    """The changes imports stored in `service` that reached the main line just before `last`
    (within the window, or as early as the earliest pushed commit), newest first."""
    assert last.merged_at is not None
    earliest = last.merged_at - timedelta(seconds=REBASE_WINDOW_S)
    if pushed:
        stored = read(store, {f"{GIT}:{last.repository}/{sha}" for sha in pushed})
        earliest = min([earliest, *(c.merged_at for c in stored.values() if c.merged_at)])
    names = columns(Change)
    rows = store.query(
        f"SELECT {', '.join(names)} FROM changes WHERE service = ? AND id <> ? "
        "AND deployment_ref LIKE 'git:%' AND merged_at >= ? AND merged_at <= ? "
        "ORDER BY merged_at DESC, id",
        [service, last.id, earliest.replace(tzinfo=None), last.merged_at.replace(tzinfo=None)],
    )
    return [_change(dict(zip(names[1:], row[1:], strict=True))) for row in rows]


__all__ = [
    "GIT_FACTS",
    "REBASE_WINDOW_S",
    "RebaseMerges",
    "folded",
    "from_git",
    "from_host",
    "imported",
    "keep_git_facts",
    "merged_with_stored",
    "pushed_alone",
    "pushed_by",
    "read",
    "rebase_merged",
    "rebased",
    "replace_changes",
    "taken_in",
]
