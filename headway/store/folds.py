"""The statements for requests merged by rebase (`ingest.requests`, `ingest.folds`): the pushes
that listed commits, the direct changes the git import stored for them, moving what named
those changes to the request, and the folds kept so that a push delivered later can take a
commit back out. Each is built once (a constant or a `ByList`)."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Table, bindparam, delete, select, update

from headway.store.base import Store
from headway.store.ingest import CHANGE_ROW
from headway.store.lists import ByList, chunks
from headway.store.schema import approvals, changes, defects, folded_changes, seen_commits

_PUSH_HEADS = (
    select(seen_commits.c.push_head)
    .distinct()
    .where(seen_commits.c.repository == bindparam("repository"))
)
_PUSH_HEADS_AMONG = ByList(lambda shas: _PUSH_HEADS.where(seen_commits.c.push_head.in_(shas)))
_PUSHED_BY = select(seen_commits.c.sha).where(
    seen_commits.c.repository == bindparam("repository"),
    seen_commits.c.push_head == bindparam("head"),
)


def push_heads(store: Store, repository: str, among: Collection[str] | None = None) -> set[str]:
    """The commits that headed a push to `repository`: all, or those `among` these."""
    if among is None:
        return {str(r[0]) for r in store.rows(_PUSH_HEADS, repository=repository)}
    return {str(r[0]) for r in _PUSH_HEADS_AMONG.rows(store, among, repository=repository)}


def pushed_by(store: Store, repository: str, head: str) -> set[str]:
    """The commits the pushes headed by `head` listed."""
    return {str(r[0]) for r in store.rows(_PUSHED_BY, repository=repository, head=head)}


_IMPORTED_DIRECT = select(*CHANGE_ROW).where(
    changes.c.service == bindparam("service"),
    changes.c.source == bindparam("git"),
    changes.c.merge_sha == bindparam("sha"),
    changes.c.number.is_(None),
    changes.c.deployment_ref.like(bindparam("imported")),
)
_IMPORTED_BETWEEN = (
    select(*CHANGE_ROW)
    .where(
        changes.c.service == bindparam("service"),
        changes.c.id != bindparam("last"),
        changes.c.deployment_ref.like(bindparam("imported")),
        changes.c.merged_at >= bindparam("earliest"),
        changes.c.merged_at <= bindparam("latest"),
    )
    .order_by(changes.c.merged_at.desc(), changes.c.id)
)


def imported_direct(
    store: Store, service: str, sha: str, git: str, imported: str
) -> tuple[Any, ...] | None:
    """The direct change (source `git`, no number, its `deployment_ref` LIKE `imported`) of
    commit `sha` in `service`, as `CHANGE_COLUMNS`, or None."""
    rows = store.rows(_IMPORTED_DIRECT, service=service, git=git, sha=sha, imported=imported)
    return rows[0] if rows else None


def imported_between(
    store: Store, service: str, last: str, imported: str, earliest: datetime, latest: datetime
) -> list[tuple[Any, ...]]:
    """The changes of `service` but `last` whose `deployment_ref` is LIKE `imported`, merged
    from `earliest` to `latest` (naive UTC), newest first, as `CHANGE_COLUMNS`."""
    return store.rows(
        _IMPORTED_BETWEEN,
        service=service,
        last=last,
        imported=imported,
        earliest=earliest,
        latest=latest,
    )


# Where other records name a change by its id.
REFERENCES = (("changes", "reverts"), ("approvals", "change_ref"), ("defects", "change_ref"))
_REFERRING: dict[str, Table] = {"changes": changes, "approvals": approvals, "defects": defects}


def _naming(t: Table, column: str) -> ByList:
    return ByList(lambda ids: select(t.c.id, t.c[column]).where(t.c[column].in_(ids)))


_NAMING = {(t, c): _naming(_REFERRING[t], c) for t, c in REFERENCES}
_REPOINT = {
    (t, c): update(_REFERRING[t])
    .values({c: bindparam("to")})
    .where(_REFERRING[t].c.id == bindparam("row"))
    for t, c in REFERENCES
}
_REPOINT_BACK = {
    (t, c): update(_REFERRING[t])
    .values({c: bindparam("to")})
    .where(_REFERRING[t].c.id == bindparam("row"), _REFERRING[t].c[c] == bindparam("was"))
    for t, c in REFERENCES
}
_DROP_CHANGES = ByList(lambda ids: delete(changes).where(changes.c.id.in_(ids)))


def replace_changes(
    store: Store, moves: Mapping[str, str]
) -> dict[str, list[tuple[str, str, str]]]:
    """Remove the changes `moves` names (old id -> id of the change that replaces it) and
    point the records naming them (`REFERENCES`) at their replacement. Returns what was
    repointed: old id -> (table, column, row id) of each record that named it."""
    repointed: dict[str, list[tuple[str, str, str]]] = {}
    for part in chunks(moves):
        _DROP_CHANGES.run(store, part)
        for table, column in REFERENCES:
            for row_id, old in _NAMING[(table, column)].rows(store, part):
                store.run(_REPOINT[(table, column)], to=moves[old], row=row_id)
                repointed.setdefault(old, []).append((table, column, str(row_id)))
    return repointed


def repoint_back(store: Store, table: str, column: str, row_id: str, to: str, was: str) -> None:
    """Point `table.column` of row `row_id` at `to` again, if it still names `was`."""
    store.run(_REPOINT_BACK[(table, column)], to=to, row=row_id, was=was)


_f = folded_changes
_FOLD_NAMES = ByList(lambda ids: select(_f.c.id, _f.c.named_by).where(_f.c.request.in_(ids)))
_DROP_FOLDS = ByList(lambda ids: delete(_f).where(_f.c.request.in_(ids)))
_FOLDS_TAKING = ByList(
    lambda ids: select(_f.c.request).distinct().where(_f.c.id.in_(ids), ~_f.c.is_last)
)
_FOLD = select(_f.c.is_last, _f.c.record, _f.c.named_by).where(_f.c.request == bindparam("request"))
_DROP_FOLD = delete(_f).where(_f.c.request == bindparam("request"))
_DROP_FOLDED = ByList(lambda ids: delete(_f).where(_f.c.id.in_(ids)))


def fold_names(store: Store, requests: Collection[str]) -> list[tuple[str, str]]:
    """(id, named_by) of the commits folded into these requests."""
    return [(str(i), str(n)) for i, n in _FOLD_NAMES.rows(store, requests)]


def drop_folds(store: Store, requests: Collection[str]) -> None:
    """Forget the folds of these requests."""
    _DROP_FOLDS.run(store, requests)


def folds_taking(store: Store, ids: Collection[str]) -> set[str]:
    """The requests whose folds took in one of these commits (ids `repository@sha`) before
    their last one."""
    return {str(r[0]) for r in _FOLDS_TAKING.rows(store, ids)}


def fold(store: Store, request: str) -> list[tuple[bool, str, str]]:
    """(is_last, record, named_by) of each commit folded into `request`."""
    return [(bool(i), str(r), str(n)) for i, r, n in store.rows(_FOLD, request=request)]


def drop_fold(store: Store, request: str) -> None:
    store.run(_DROP_FOLD, request=request)


def drop_folded(store: Store, ids: Collection[str]) -> None:
    """Forget these folded commits (ids `repository@sha`)."""
    _DROP_FOLDED.run(store, ids)
