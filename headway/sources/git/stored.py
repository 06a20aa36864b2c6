"""What the last import of a repository stored, read back for a re-import (store and git)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import UTC
from pathlib import Path
from typing import Any

from headway.model import record_id
from headway.sources.git.history import Tag, commits_between, resolve_commit
from headway.sources.git.incremental import Stored
from headway.sources.git.options import Options
from headway.sources.git.records import SOURCE, undeployed_ref
from headway.store import Store


class StoredImport:
    """The last import of this repository, read back from the store (and git) on demand."""

    def __init__(self, store: Store, path: Path, opts: Options, head: str | None) -> None:
        self.store, self.path, self.head = store, path, head
        self.where = [SOURCE, opts.service, opts.repository]
        self.prefix = record_id(SOURCE, f"{opts.repository}/")
        tags = record_id(SOURCE, f"{opts.repository}/tag/")
        self.deployments: dict[str, tuple[str, str | None]] = {
            r[0]: (r[1], r[2])
            for r in store.query(
                "SELECT id, sha, recovers FROM deployments "
                "WHERE source = ? AND service = ? AND id LIKE ?",
                [SOURCE, opts.service, like_prefix(tags)],
            )
            if r[0].startswith(tags)
        }
        self.nowhere = undeployed_ref(opts.repository)
        self._seen: dict[str, Stored | None] = {}

    _COLUMNS = "merge_sha, deployment_ref, reverts, merged_at"

    def _stored(self, row: tuple[Any, ...]) -> Stored:
        sha, deployment, reverts, merged = row
        if merged.tzinfo is None:  # stores keep naive UTC
            merged = merged.replace(tzinfo=UTC)
        return Stored(
            sha,
            None if deployment == self.nowhere else deployment,
            reverts[len(self.prefix) :] if reverts else None,
            int(merged.timestamp()),
        )

    def changes(self, shas: Collection[str]) -> dict[str, Stored]:
        wanted = [s for s in shas if s not in self._seen]
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            for s in chunk:
                self._seen[s] = None
            ids = [self.prefix + s for s in chunk]
            for row in self.store.query(
                f"SELECT {self._COLUMNS} FROM changes WHERE source = ? AND service = ? "
                f"AND repository = ? AND id IN ({', '.join('?' for _ in ids)})",
                [*self.where, *ids],
            ):
                self._seen[row[0]] = self._stored(row)
        return {s: found for s in shas if (found := self._seen.get(s)) is not None}

    def reverts(self) -> list[Stored]:
        return [
            self._stored(row)
            for row in self.store.query(
                f"SELECT {self._COLUMNS} FROM changes WHERE source = ? AND service = ? "
                "AND repository = ? AND reverts IS NOT NULL",
                self.where,
            )
        ]

    def first_with_number(self, number: int) -> str | None:
        rows = self.store.query(
            "SELECT merge_sha FROM changes WHERE source = ? AND service = ? AND repository = ? "
            "AND number = ? ORDER BY merged_at LIMIT 1",
            [*self.where, number],
        )
        return str(rows[0][0]) if rows else None

    def resolve(self, prefix: str) -> str | None:
        return resolve_commit(self.path, prefix)

    def first_contained_by(self, tag: Tag, earlier: Sequence[Tag]) -> list[str]:
        return commits_between(self.path, tag.sha, [t.sha for t in earlier])


def like_prefix(prefix: str) -> str:
    return prefix.replace("%", r"\%").replace("_", r"\_") + "%"
