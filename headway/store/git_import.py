"""The statements of `headway import git` (`ingest/git/`): what earlier imports and webhooks
stored for a repository, and what an import remembers of itself. Each is built once: a
constant, or a `ByList` for those over a list of commits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    FromClause,
    Select,
    and_,
    bindparam,
    delete,
    func,
    insert,
    literal_column,
    select,
    update,
)

from headway.store.base import Store
from headway.store.lists import ByList
from headway.store.schema import changes, deployments, seen_commits, settings


def like_prefix(prefix: str) -> str:
    """The LIKE pattern of the values that start with `prefix` (`_starts_with`)."""
    return prefix.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


def _starts_with(column: ColumnElement[str], pattern: BindParameter[str]) -> ColumnElement[bool]:
    # (both engines; DuckDB has no escape character unless one is named)
    return column.like(pattern, escape="\\")


class Imported(NamedTuple):
    """The changes imports of a repository into a service wrote: each names the release that
    first shipped it, or the repository's undeployed marker, as no other source does
    (whatever its id: a pull request is named as its host names it). `refs` is the
    `like_prefix` of what those names start with."""

    service: str
    refs: str


def _imported(t: FromClause) -> ColumnElement[bool]:
    return and_(
        t.c.service == bindparam("service"),
        _starts_with(t.c.deployment_ref, bindparam("refs")),
    )


def _hosted(t: FromClause) -> ColumnElement[bool]:
    """Requests of a host's repository (`host`, `repository`) that reached the main line."""
    return and_(
        t.c.source == bindparam("host"),
        t.c.repository == bindparam("repository"),
        t.c.merge_sha.is_not(None),
    )


# -- what webhooks stored of the same repository (`git.hosted`) -------------------------------

_c = changes
_HOSTED_SERVICES = (
    select(_c.c.service)
    .distinct()
    .where(_starts_with(_c.c.id, bindparam("prefix")), _c.c.service != bindparam("service"))
    .order_by(_c.c.service)
)
_IMPORTED_SHAS = select(_c.c.id, _c.c.merge_sha).where(_imported(_c))
_IMPORTED_SHAS_OF = _IMPORTED_SHAS.where(_c.c.source == bindparam("source"))
_NUMBERS = select(_c.c.merge_sha, _c.c.number).where(_hosted(_c), _c.c.number.is_not(None))
_NUMBERS_AMONG = ByList(lambda shas: _NUMBERS.where(_c.c.merge_sha.in_(shas)))


def _pushed(merged: Any) -> Any:
    return select(seen_commits.c.push_head, seen_commits.c.sha).where(
        seen_commits.c.repository == bindparam("repository"),
        seen_commits.c.push_head.in_(merged),
    )


_h = changes.alias("h")  # (the requests, inside a statement over `changes`)
_PUSHED = _pushed(select(_h.c.merge_sha).where(_hosted(_h)))
_PUSHED_AMONG = ByList(
    lambda shas: _pushed(select(_h.c.merge_sha).where(_hosted(_h), _h.c.merge_sha.in_(shas)))
)
_STORED_AS_DIRECT: Select[Any] = (
    select(literal_column("1"))
    .where(
        _imported(_c),
        _c.c.source == bindparam("source"),
        _c.c.number.is_(None),
        _c.c.merge_sha.in_(select(_h.c.merge_sha).where(_hosted(_h), _h.c.number.is_not(None))),
    )
    .limit(1)
)


def hosted_services(store: Store, prefix: str, service: str) -> list[str]:
    """The services but `service` that hold changes whose ids start with `prefix`."""
    rows = store.rows(_HOSTED_SERVICES, prefix=like_prefix(prefix), service=service)
    return [str(r[0]) for r in rows]


def imported_shas(
    store: Store, imported: Imported, source: str | None = None
) -> list[tuple[str, str]]:
    """(id, merge_sha) of the changes `imported` names (only those of `source`, if given)."""
    if source is None:
        rows = store.rows(_IMPORTED_SHAS, **imported._asdict())
    else:
        rows = store.rows(_IMPORTED_SHAS_OF, **imported._asdict(), source=source)
    return [(str(i), str(sha)) for i, sha in rows]


def hosted_numbers(
    store: Store, host: str, repository: str, among: Collection[str] | None
) -> list[tuple[str, int]]:
    """(merge_sha, number) of the merged requests of `host`'s `repository` that have a number:
    all, or those whose merge_sha is `among` these."""
    values = {"host": host, "repository": repository}
    rows = (
        store.rows(_NUMBERS, **values)
        if among is None
        else _NUMBERS_AMONG.rows(store, among, **values)
    )
    return [(str(sha), int(n)) for sha, n in rows]


def hosted_pushes(
    store: Store, host: str, repository: str, among: Collection[str] | None
) -> list[tuple[str, str]]:
    """(push_head, sha) of the commits listed by pushes headed by the merge commit of a merged
    request of `host`'s `repository`: all, or those whose merge_sha is `among` these."""
    values = {"host": host, "repository": repository}
    rows = (
        store.rows(_PUSHED, **values)
        if among is None
        else _PUSHED_AMONG.rows(store, among, **values)
    )
    return [(str(head), str(sha)) for head, sha in rows]


def stored_as_direct(
    store: Store, imported: Imported, source: str, host: str, repository: str
) -> bool:
    """Whether an import stored a direct change (of `source`, no number) for a commit that
    `host`'s `repository` names as a merged request's merge commit."""
    rows = store.rows(
        _STORED_AS_DIRECT,
        **imported._asdict(),
        source=source,
        host=host,
        repository=repository,
    )
    return bool(rows)


# -- what earlier imports stored (`git.previous`) ---------------------------------------------

_d = deployments
_TAGGED = select(_d.c.id, _d.c.sha, _d.c.recovers).where(
    _d.c.source == bindparam("source"),
    _d.c.service == bindparam("service"),
    _starts_with(_d.c.id, bindparam("prefix")),
)
# The reverted change is named by its id; linking history needs its commit.
_r = changes.alias("r")
_STORED = (
    select(_c.c.id, _c.c.merge_sha, _c.c.deployment_ref, _r.c.merge_sha, _c.c.merged_at)
    .select_from(_c.outerjoin(_r, _r.c.id == _c.c.reverts))
    .where(_imported(_c))
)
_STORED_AMONG = ByList(lambda shas: _STORED.where(_c.c.merge_sha.in_(shas)))
_STORED_REVERTS = _STORED.where(_c.c.reverts.is_not(None))
_FIRST_WITH_NUMBER = (
    select(_c.c.merge_sha)
    .where(_imported(_c), _c.c.number == bindparam("number"))
    .order_by(_c.c.merged_at)
    .limit(1)
)
_WRITTEN = select(_c.c.id, _c.c.deployment_ref, _c.c.reverts, _c.c.is_revert).where(_imported(_c))
_IDS_FROM = select(_c.c.id).where(_starts_with(_c.c.id, bindparam("prefix")))
_PUSHED_SHAS = (
    select(seen_commits.c.sha)
    .distinct()
    .where(seen_commits.c.repository == bindparam("repository"))
)
_PUSHED_SHAS_AMONG = ByList(lambda shas: _PUSHED_SHAS.where(seen_commits.c.sha.in_(shas)))


def tagged(
    store: Store, source: str, service: str, prefix: str
) -> list[tuple[str, str | None, str | None]]:
    """(id, sha, recovers) of the deployments of `source` in `service` whose ids start with
    `prefix` (the releases an import of a repository tagged)."""
    rows = store.rows(_TAGGED, source=source, service=service, prefix=like_prefix(prefix))
    return [(str(i), sha, recovers) for i, sha, recovers in rows]


def stored(
    store: Store, imported: Imported, among: Collection[str] | None = None
) -> list[tuple[str, str, str | None, str | None, datetime]]:
    """(id, merge_sha, deployment_ref, the reverted change's merge_sha, merged_at) of the
    changes `imported` names: those whose merge_sha is `among` these, or those that revert
    one (`among` None)."""
    if among is None:
        return list(store.rows(_STORED_REVERTS, **imported._asdict()))
    return list(_STORED_AMONG.rows(store, among, **imported._asdict()))


def first_with_number(store: Store, imported: Imported, number: int) -> str | None:
    """The merge_sha of the earliest merged of the changes `imported` names with `number`."""
    rows = store.rows(_FIRST_WITH_NUMBER, **imported._asdict(), number=number)
    return str(rows[0][0]) if rows else None


def written(store: Store, imported: Imported) -> list[tuple[str, str | None, str | None, bool]]:
    """(id, deployment_ref, reverts, is_revert) of the changes `imported` names."""
    rows = store.rows(_WRITTEN, **imported._asdict())
    return [(str(i), ref, reverts, bool(is_revert)) for i, ref, reverts, is_revert in rows]


def ids_from(store: Store, prefix: str) -> set[str]:
    """The ids of the changes whose ids start with `prefix`."""
    return {str(r[0]) for r in store.rows(_IDS_FROM, prefix=like_prefix(prefix))}


def pushed_shas(store: Store, repository: str, among: Collection[str] | None = None) -> set[str]:
    """The commits pushes to `repository` listed: all, or those `among` these."""
    if among is None:
        rows = store.rows(_PUSHED_SHAS, repository=repository)
    else:
        rows = _PUSHED_SHAS_AMONG.rows(store, among, repository=repository)
    return {str(r[0]) for r in rows}


# -- what an import writes besides records (`git.importer`, `git.reimport`, `git.run`) --------

_REMEMBERED = select(settings.c.value).where(settings.c.key == bindparam("setting"))
_FORGET = delete(settings).where(settings.c.key == bindparam("setting"))
_REMEMBER = insert(settings).values(key=bindparam("setting"), value=bindparam("text"))
_DROP_DEPLOYMENT = delete(_d).where(_d.c.id == bindparam("deployment"))
_CLEAR_RECOVERS = update(_d).values(recovers=None).where(_d.c.id == bindparam("deployment"))
_COUNTS = select(
    func.count(), func.count().filter(_c.c.deployment_ref == bindparam("undeployed"))
).where(_imported(_c))


def remembered(store: Store, key: str) -> str | None:
    """The value the `settings` table holds under `key`."""
    rows = store.rows(_REMEMBERED, setting=key)
    return str(rows[0][0]) if rows else None


def remember(store: Store, key: str, value: str) -> None:
    """Hold `value` under `key` in the `settings` table, instead of what it held."""
    store.run(_FORGET, setting=key)
    store.run(_REMEMBER, setting=key, text=value)


def drop_deployment(store: Store, deployment_id: str) -> None:
    store.run(_DROP_DEPLOYMENT, deployment=deployment_id)


def clear_recovers(store: Store, deployment_id: str) -> None:
    """The deployment no longer names a deployment it recovers."""
    store.run(_CLEAR_RECOVERS, deployment=deployment_id)


def counts(store: Store, imported: Imported, undeployed: str) -> tuple[int, int]:
    """How many changes `imported` names, and how many of those name `undeployed`."""
    total, nowhere = store.rows(_COUNTS, **imported._asdict(), undeployed=undeployed)[0]
    return int(total), int(nowhere)
