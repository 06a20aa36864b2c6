"""A pull or merge request that both `headway import git` and webhooks report is one change,
`github:owner/name#N` or `gitlab:group/project!N`, whichever reports it first.

Each field comes from the source that knows it best, in either order of arrival:

- git: when the work started (`first_commit_at`, the earlier of the two when webhooks saw the
  commits pushed too), the merge (`merged_at`, `merge_sha`), the size, and the release that
  first shipped it (`deployment_ref`);
- the host: who opened it and what it is called (`author`, `title`, `labels`), when it was
  opened, first reviewed and approved.

A revert either one recognises is kept (`is_revert`; `reverts`, git's when both name one).
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

from headway.model import Change, columns, field_names
from headway.store import Store

GIT = "git"
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
    """Webhooks' `changes`, by id, combined with what the git import stored for them."""
    stored = read(store, {c.id for c in changes if c.source != GIT})
    return {
        c.id: from_host(stored[c.id], c)
        for c in changes
        if c.id in stored and imported(stored[c.id])
    }


__all__ = [
    "GIT_FACTS",
    "from_git",
    "from_host",
    "imported",
    "keep_git_facts",
    "merged_with_stored",
    "read",
]
