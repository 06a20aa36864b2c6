"""What a pull request merged by rebase took in, kept so that a push delivered later can take
a commit back out (table `folded_changes`).

When a request's `closed` webhook comes after `headway import git`, the direct changes of its
last commit and of the commits just before it are folded into it and removed
(`requests.rebase_merged`); when it comes first, the import folds those commits into it
itself (`git/rebased.py`). On GitHub a commit that headed a push of its own is never one of
them (`requests.pushed_alone`), but that push may be delivered after the fold. Each fold
is kept here, the commits as the direct changes they were stored as (webhooks) or would be
stored as on their own (the import); when a push names one of its commits as its head, the
fold is walked again with what is known now, and a commit it no longer takes is a direct
change again, as kept (the push is then combined with it as with any imported commit): the
request keeps the size and first commit of the commits it still holds, and what named the
commit names it again. That is the store the push delivered first would have given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

import orjson

from headway.ingest import requests
from headway.ingest.combine import folded
from headway.ingest.stored import changes as read_changes
from headway.model import Change
from headway.sources.mapping import SeenCommit
from headway.sources.pull_requests import GITHUB
from headway.store import Store
from headway.store import folds as statements
from headway.store.base import utc_naive
from headway.store.ingest import set_size

_SIZE = ("additions", "deletions", "files")


@dataclass(frozen=True, slots=True)
class Folded:
    """A direct change folded into a request, as it was stored."""

    table: ClassVar[str] = "folded_changes"
    repository: str  # the request's, as its host names it
    sha: str
    request: str
    is_last: bool  # the request's last commit (its merge_sha), not one taken in before it
    record: str  # the direct change, JSON
    named_by: str  # JSON [[table, column, id], ...]: what named it, and names the request since

    @property
    def id(self) -> str:
        return f"{self.repository}@{self.sha}"


Repointed = Mapping[str, Sequence[tuple[str, str, str]]]  # change id -> (table, column, id)


def remember(store: Store, merges: requests.RebaseMerges, repointed: Repointed) -> None:
    """Keep each fold of `merges`, with the records `repointed` from its commits to the
    request (`requests.replace_changes`)."""
    keep(
        store,
        {
            request: (merges.records[request].repository or "", last, members)
            for request, (last, members) in merges.taken.items()
        },
        repointed,
    )


def keep(
    store: Store,
    folds: Mapping[str, tuple[str, Change, Sequence[Change]]],
    repointed: Repointed,
) -> None:
    """Keep each fold: request id -> (its repository as its host names it, the direct change
    of its last commit, those of the commits it took in before it), with the records
    `repointed` from those changes to the request. A fold made again replaces the one kept;
    what named its commits then still does."""
    if not folds:
        return
    named: dict[str, list[list[str]]] = {
        row_id: orjson.loads(refs) for row_id, refs in statements.fold_names(store, folds)
    }
    statements.drop_folds(store, folds)
    rows = []
    for request, (repository, last, members) in sorted(folds.items()):
        for change in (last, *members):
            row_id = f"{repository}@{change.merge_sha}"
            refs = named.get(row_id, [])
            refs += [list(r) for r in repointed.get(change.id, ()) if list(r) not in refs]
            rows.append(
                Folded(
                    repository=repository,
                    sha=change.merge_sha or "",
                    request=request,
                    is_last=change is last,
                    record=_encode(change),
                    named_by=orjson.dumps(refs).decode(),
                )
            )
    store.write(rows)


def take_back(store: Store, commits: Iterable[SeenCommit]) -> None:
    """Walk again each fold that took in a commit one of these pushes was headed by (GitHub's:
    elsewhere heading a push does not keep a commit out, see `requests.pushed_alone`)."""
    heads = sorted({f"{c.repository}@{c.push_head}" for c in commits if c.source == GITHUB})
    for request in sorted(statements.folds_taking(store, heads)):
        _walk_again(store, request)


def _walk_again(store: Store, request_id: str) -> None:
    rows = [
        (is_last, _decode(record), orjson.loads(named_by))
        for is_last, record, named_by in statements.fold(store, request_id)
    ]
    lasts = [change for is_last, change, _ in rows if is_last]
    # newest first, as the fold walked them back from the last commit
    members = sorted(
        (change for is_last, change, _ in rows if not is_last),
        key=lambda c: (-(c.merged_at.timestamp() if c.merged_at else 0.0), c.id),
    )
    request = read_changes(store, {request_id}).get(request_id)
    if len(lasts) != 1 or request is None or not _holds(request, lasts[0], members):
        # the request was removed, or derived again by an import since: the fold is gone
        statements.drop_fold(store, request_id)
        return
    last = lasts[0]
    pushed = requests.pushed_by(store, request.repository or "", last.merge_sha or "")
    kept = requests.taken_in(store, request, last, members, pushed)
    given_back = [m for m in members if m not in kept]
    if not given_back:
        return
    git = folded(last, kept)
    # The request's first commit is then lowered to the earliest its merge's push listed, as
    # every delivery does (`refresh.first_commits`), when that is earlier.
    set_size(
        store, request_id, utc_naive(git.first_commit_at), (git.additions, git.deletions, git.files)
    )
    store.write(given_back)
    named = {change.id: refs for _, change, refs in rows}
    for change in given_back:
        for table, column, row_id in named[change.id]:
            statements.repoint_back(store, table, column, row_id, change.id, request_id)
    if kept:
        forget = [f"{request.repository}@{c.merge_sha}" for c in given_back]
        statements.drop_folded(store, forget)
    else:  # nothing folded in any more
        statements.drop_fold(store, request_id)


def _holds(request: Change, last: Change, members: list[Change]) -> bool:
    """Whether the request is still the fold kept: the same last commit, and the size of them
    all (an import that derived it again since may have taken in other commits)."""
    git = folded(last, members)
    return request.merge_sha == last.merge_sha and all(
        getattr(git, name) in (None, getattr(request, name)) for name in _SIZE
    )


def _encode(change: Change) -> str:
    # orjson writes a dataclass's fields, times in ISO 8601 (an import may keep thousands)
    return orjson.dumps(change).decode()


def _decode(text: str) -> Change:
    known = {f.name: f.type for f in fields(Change)}
    values: dict[str, Any] = {}
    for name, value in orjson.loads(text).items():
        if name not in known:
            continue
        if isinstance(value, str) and "datetime" in str(known[name]):
            value = datetime.fromisoformat(value)
        values[name] = tuple(value) if isinstance(value, list) else value
    return Change(**values)


__all__ = ["Folded", "keep", "remember", "take_back"]
