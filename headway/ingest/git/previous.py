"""What earlier imports of a repository stored, read back: for a re-import (`StoredImport`,
store and git) and for a whole-history import to compare its records against (`Written`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

from headway.ingest.stored import in_lists
from headway.model import Change, record_id
from headway.sources.git.history import Tag, commits_between, resolve_commit
from headway.sources.git.incremental import Stored
from headway.sources.git.options import Options
from headway.sources.git.records import SOURCE, undeployed_ref
from headway.store import Store


class StoredImport:
    """The last import of this repository, read back from the store (and git) on demand."""

    def __init__(self, store: Store, path: Path, opts: Options, head: str | None) -> None:
        self.store, self.path, self.head = store, path, head
        self.opts = opts
        tags = record_id(SOURCE, f"{opts.repository}/tag/")
        self.deployments: dict[str, tuple[str, str | None]] = {
            r[0]: (r[1], r[2])
            for r in store.query(
                f"SELECT id, sha, recovers FROM deployments WHERE source = ? AND service = ? "
                f"AND {starts_with('id')}",
                [SOURCE, opts.service, like_prefix(tags)],
            )
        }
        self.nowhere = undeployed_ref(opts.repository)
        self._seen: dict[str, Stored | None] = {}

    # The reverted change is named by its id; linking history needs its commit.
    _SELECT = (
        "SELECT c.id, c.merge_sha, c.deployment_ref, r.merge_sha, c.merged_at "
        "FROM changes c LEFT JOIN changes r ON r.id = c.reverts "
    )

    def _stored(self, row: tuple[Any, ...]) -> Stored:
        change_id, sha, deployment, reverts, merged = row
        if merged.tzinfo is None:  # stores keep naive UTC
            merged = merged.replace(tzinfo=UTC)
        return Stored(
            change_id,
            sha,
            None if deployment == self.nowhere else deployment,
            reverts,
            int(merged.timestamp()),
        )

    def _query(self, condition: str, params: Sequence[Any] = ()) -> list[Stored]:
        sql, where = imported_changes(self.opts, "c")
        return [
            self._stored(row)
            for row in self.store.query(
                f"{self._SELECT} WHERE {sql} AND {condition}", [*where, *params]
            )
        ]

    def changes(self, shas: Collection[str]) -> dict[str, Stored]:
        wanted = [s for s in shas if s not in self._seen]
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            for s in chunk:
                self._seen[s] = None
            for stored in self._query(f"c.merge_sha IN ({', '.join('?' for _ in chunk)})", chunk):
                self._seen[stored.sha] = stored
        return {s: found for s in shas if (found := self._seen.get(s)) is not None}

    def reverts(self) -> list[Stored]:
        return [s for s in self._query("c.reverts IS NOT NULL") if s.reverts is not None]

    def first_with_number(self, number: int) -> str | None:
        sql, where = imported_changes(self.opts)
        rows = self.store.query(
            f"SELECT merge_sha FROM changes WHERE {sql} AND number = ? ORDER BY merged_at LIMIT 1",
            [*where, number],
        )
        return str(rows[0][0]) if rows else None

    def resolve(self, prefix: str) -> str | None:
        return resolve_commit(self.path, prefix)

    def first_contained_by(self, tag: Tag, earlier: Sequence[Tag]) -> list[str]:
        return commits_between(self.path, tag.sha, [t.sha for t in earlier])


@dataclass
class Written:
    """What earlier imports of a repository stored, for a whole-history import to compare
    its records against."""

    changes: dict[str, tuple[str | None, str | None, bool]]  # id -> release, reverts, is_revert
    requests: set[str]  # ids of pull requests the store holds under the host's names
    deployments: dict[str, str | None]  # id -> the deployment it recovers
    pushed: set[str]  # ids of direct changes push webhooks reported (`pushed()`)

    def reported(self, change: Change) -> bool:
        """Whether webhooks reported `change` too: the record to write combines both."""
        return change.id in self.requests or change.id in self.pushed

    def holds(self, change: Change) -> bool:
        """Whether `change` was written before and writing it again would change nothing
        (release, reverted change, is a revert; an empty field never erases a stored one)."""
        if (stored := self.changes.get(change.id)) is None:
            return False
        deployment, reverts, is_revert = stored
        return (
            change.deployment_ref == deployment
            and change.reverts in (None, reverts)
            and (is_revert or not change.is_revert)
        )


def written(store: Store, opts: Options) -> Written:
    where, params = imported_changes(opts)
    tags = record_id(SOURCE, f"{opts.repository}/tag/")
    host = opts.host
    return Written(
        {
            r[0]: (r[1], r[2], bool(r[3]))
            for r in store.query(
                f"SELECT id, deployment_ref, reverts, is_revert FROM changes WHERE {where}", params
            )
        },
        {
            r[0]
            for r in store.query(
                f"SELECT id FROM changes WHERE {starts_with('id')}", [like_prefix(host.prefix)]
            )
        }
        if host
        else set(),
        {
            r[0]: r[1]
            for r in store.query(
                "SELECT id, recovers FROM deployments WHERE source = ? AND service = ? "
                f"AND {starts_with('id')}",
                [SOURCE, opts.service, like_prefix(tags)],
            )
        },
        pushed(store, opts),
    )


def pushed(store: Store, opts: Options, among: Iterable[Change] | None = None) -> set[str]:
    """Ids of the direct changes push webhooks may have reported for this repository: the
    commits they listed (`seen_commits`), named as both name a direct commit; only those of
    the changes `among` (a re-import's new ones), or all."""
    named = record_id(SOURCE, f"{opts.repository}/")
    query = "SELECT DISTINCT sha FROM seen_commits WHERE repository = ?"
    if among is None:
        rows = store.query(query, [opts.repository])
    else:  # a direct change's id names its commit
        shas = {c.id[len(named) :] for c in among if c.id.startswith(named)}
        rows = [
            row
            for marks, part in in_lists(shas)
            for row in store.query(f"{query} AND sha IN ({marks})", [opts.repository, *part])
        ]
    return {f"{named}{sha}" for (sha,) in rows}


def like_prefix(prefix: str) -> str:
    """The pattern for `starts_with`."""
    return prefix.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_") + "%"


def starts_with(column: str) -> str:
    """`column` starts with the prefix a `like_prefix` parameter holds (both engines; DuckDB
    has no escape character unless one is named)."""
    return f"{column} LIKE ? ESCAPE '\\'"


def imported_changes(opts: Options, table: str | None = None) -> tuple[str, list[Any]]:
    """(SQL condition, parameters) selecting the changes imports of this repository into this
    service wrote: each names the release that first shipped it, or the repository's
    undeployed marker, as no other source does (whatever its id: a pull request is named as
    its host names it)."""
    of = f"{table}." if table else ""
    return (
        f"{of}service = ? AND {starts_with(f'{of}deployment_ref')}",
        [opts.service, like_prefix(record_id(SOURCE, f"{opts.repository}/"))],
    )
