"""Reverts, failures and recoveries: which change a revert undoes, which release it failed
and which release recovered."""

from __future__ import annotations

import re
from collections.abc import Callable, Collection

from headway.sources.git.changes import PR_MERGE, SQUASH
from headway.sources.git.history import Commit

_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
_REVERT_TITLE = re.compile(r'^Revert "(.*)"')


def revert_links(
    candidates: list[Commit],
    change_of: Callable[[str], str | None],
    expand: Callable[[str], str | None],
    number: Callable[[int], str | None],
    earlier: Collection[str],
) -> dict[str, str]:
    """Reverting change -> reverted change, among `candidates` (commits owned by changes).
    `earlier` holds reverting changes found before, so that reverting one is a reland."""
    reverts: dict[str, str] = {}
    for commit in sorted(
        (c for c in candidates if "Revert" in c.message or "revert" in c.message),
        key=lambda c: c.committed,
    ):
        mine = change_of(commit.sha)
        if mine is None or mine in reverts:
            continue
        target = _reverted(commit, expand, number, change_of)
        if target is None or target == mine:
            continue
        if target in reverts or target in earlier:  # reverting a revert: a reland, not a failure
            continue
        reverts[mine] = target
    return reverts


def failures(
    reverts: list[tuple[str, str, int]],
    deployment_of: Callable[[str], str | None],
    deployed_at: Callable[[str], int],
) -> tuple[dict[str, str], dict[str, str]]:
    """(failed deployment -> first revert showing it, recovering deployment -> the failed one)
    from (revert, reverted change, revert's commit time) triples.

    The release that first shipped a change failed when it did not also ship the revert: the
    revert reaches users in a later release (which recovers it) or in none yet. A release
    shipping both, or a change reverted before any release, put nothing broken in front of
    users."""
    failed: dict[str, str] = {}
    recovers: dict[str, str] = {}
    for revert, target, _ in sorted(reverts, key=lambda r: r[2]):
        shipped = deployment_of(target)
        if shipped is None:
            continue  # reverted before any release contained it: nobody saw it fail
        fix = deployment_of(revert)
        if fix is not None and deployed_at(fix) <= deployed_at(shipped):
            continue  # shipped together with its revert (or after it)
        failed.setdefault(shipped, revert)
        if fix is not None:
            recovers.setdefault(fix, shipped)
    return failed, recovers


def _reverted(
    commit: Commit,
    expand: Callable[[str], str | None],
    number: Callable[[int], str | None],
    change_of: Callable[[str], str | None],
) -> str | None:
    """The change a commit reverts: by the sha git writes, else by the PR number in the title."""
    for sha in _REVERTS.findall(commit.message):
        full = sha if len(sha) == 40 else expand(sha)
        if full and (target := change_of(full)):
            return target
    if m := _REVERT_TITLE.match(commit.subject):
        inner = m[1]
        for pattern in (SQUASH, PR_MERGE):
            if (n := pattern.search(inner)) and (
                found := number(int(n[2] if pattern is SQUASH else n[1]))
            ):
                return found
    return None


def resolve_prefix(prefix: str, commits: dict[str, Commit]) -> str | None:
    """The one commit whose sha starts with `prefix`; None when none or several do."""
    found = [s for s in commits if s.startswith(prefix)]
    return found[0] if len(found) == 1 else None
