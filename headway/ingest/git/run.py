"""One import as it runs: the store and repository it joins, what it was asked for, what it
reports, and what it leaves for the next import of the same repository to start from."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headway.config import Settings
from headway.sources.git.history import Refs
from headway.sources.git.options import Options
from headway.store import Store
from headway.store import git_import as statements

Progress = Callable[[str, int, int | None], None]


@dataclass
class ImportReport:
    repository: str
    service: str
    up_to_date: bool = False
    commits: int = 0  # commits read: all of them, or on a re-import only those that are new
    changes: int = 0
    deployments: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    undeployed: int = 0
    written: dict[str, int] = field(default_factory=dict)
    removed: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class ImportRun:
    """What every step of one import shares."""

    store: Store
    settings: Settings
    path: Path
    opts: Options
    refs: Refs  # the repository's refs as this import found them
    signature: dict[str, Any]  # the options the import is remembered with (`signature`)
    progress: Progress | None
    started: float  # time.perf_counter() when it started

    @property
    def key(self) -> str:
        """Where the `settings` table remembers imports of this repository into this service."""
        return f"git.import:{self.opts.repository}:{self.opts.service}"

    def report(self) -> ImportReport:
        return ImportReport(self.opts.repository, self.opts.service)

    def finish(self, report: ImportReport) -> ImportReport:
        report.seconds = time.perf_counter() - self.started
        return report

    def tell(self, step: str, done: int = 0, total: int | None = None) -> None:
        if self.progress:
            self.progress(step, done, total)

    def counter(self, step: str) -> Callable[[int], None] | None:
        """What counts the commits read for `step`, when progress is shown."""
        return (lambda n: self.tell(step, n)) if self.progress else None

    def remember(self, signature: dict[str, Any]) -> None:
        """Keep what the next import of this repository starts from (in the write's
        transaction): the refs now, and the options this import was run with."""
        value = json.dumps(
            {
                "tips": self.refs.tips,
                "head": self.refs.head,
                "options": signature,
                "path": str(self.path.resolve()),
            }
        )
        statements.remember(self.store, self.key, value)


def signature(opts: Options, branch: str | None) -> dict[str, Any]:
    """The options an import is remembered with: another import with other ones derives the
    whole history again."""
    remembered: dict[str, Any] = {
        "pattern": opts.tags.pattern,
        "prereleases": opts.tags.prereleases,
        "team": opts.team,
        "environment": opts.environment,
        "deployments": opts.deployments,
        "branch": branch,
    }
    if opts.host is not None:  # (imports before hosts were known are imports without one)
        remembered["host"] = str(opts.host)
    return remembered
