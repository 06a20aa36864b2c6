"""What earlier imports of a repository stored, read back: for a re-import (`StoredImport`,
store and git) and for a whole-history import to compare its records against (`Written`)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any, cast

from headway.model import Change, record_id
from headway.sources.git.history import Tag, commits_between, resolve_commit
from headway.sources.git.incremental import Stored
from headway.sources.git.options import Options
from headway.sources.git.records import SOURCE, undeployed_ref
from headway.store import Store
from headway.store import git_import as statements
from headway.store.git_import import Imported, like_prefix


class StoredImport:
    """The last import of this repository, read back from the store (and git) on demand."""

    def __init__(self, store: Store, path: Path, opts: Options, head: str | None) -> None:
        self.store, self.path, self.head = store, path, head
        self.opts = opts
        tags = record_id(SOURCE, f"{opts.repository}/tag/")
        self.deployments: dict[str, tuple[str, str | None]] = {
            dep_id: (cast(str, sha), recovers)  # (a release the import tagged has its commit)
            for dep_id, sha, recovers in statements.tagged(store, SOURCE, opts.service, tags)
        }
        self.nowhere = undeployed_ref(opts.repository)
        self._seen: dict[str, Stored | None] = {}

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

    def changes(self, shas: Collection[str]) -> dict[str, Stored]:
        wanted = [s for s in shas if s not in self._seen]
        for s in wanted:
            self._seen[s] = None
        for row in statements.stored(self.store, imported_changes(self.opts), wanted):
            stored = self._stored(row)
            self._seen[stored.sha] = stored
        return {s: found for s in shas if (found := self._seen.get(s)) is not None}

    def reverts(self) -> list[Stored]:
        rows = statements.stored(self.store, imported_changes(self.opts))
        return [s for s in map(self._stored, rows) if s.reverts is not None]

    def first_with_number(self, number: int) -> str | None:
        return statements.first_with_number(self.store, imported_changes(self.opts), number)

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
    tags = record_id(SOURCE, f"{opts.repository}/tag/")
    host = opts.host
    return Written(
        {
            change_id: (release, reverts, is_revert)
            for change_id, release, reverts, is_revert in statements.written(
                store, imported_changes(opts)
            )
        },
        statements.ids_from(store, host.prefix) if host else set(),
        {
            dep_id: recovers
            for dep_id, _, recovers in statements.tagged(store, SOURCE, opts.service, tags)
        },
        pushed(store, opts),
    )


def pushed(store: Store, opts: Options, among: Iterable[Change] | None = None) -> set[str]:
    """Ids of the direct changes push webhooks may have reported for this repository: the
    commits they listed (`seen_commits`), named as both name a direct commit; only those of
    the changes `among` (a re-import's new ones), or all."""
    named = record_id(SOURCE, f"{opts.repository}/")
    # a direct change's id names its commit
    shas = None if among is None else {c.id[len(named) :] for c in among if c.id.startswith(named)}
    return {f"{named}{sha}" for sha in statements.pushed_shas(store, opts.repository, shas)}


def imported_changes(opts: Options) -> Imported:
    """The changes imports of this repository into this service wrote (`Imported`)."""
    return Imported(opts.service, like_prefix(record_id(SOURCE, f"{opts.repository}/")))
