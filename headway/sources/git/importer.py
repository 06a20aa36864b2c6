"""Importing a repository into the store: the service behind `headway import git`.

A repository is remembered in the `settings` table (its refs and the import options), so
importing it again costs two cheap git calls when nothing moved, and otherwise reads only the
commits the last import did not reach and writes only records that are new or whose links
changed (a release tagged on old commits, a change reverted since).
"""

from __future__ import annotations

import gc
import json
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from headway.config import Settings
from headway.ingest import ingest
from headway.model import Change, Deployment, Service, record_id
from headway.sources.git.derivation import derive
from headway.sources.git.diffs import Diffs, Sizes, main_line_walks
from headway.sources.git.history import (
    GitError,
    Refs,
    is_ancestor,
    open_repository,
    read_log,
    read_refs,
)
from headway.sources.git.hosted import (
    check_service,
    merged_by_webhooks,
    rename_stored,
    replace_stored,
    stored_as_direct,
)
from headway.sources.git.incremental import NeedsFullImport, derive_since
from headway.sources.git.options import Options, release_tags
from headway.sources.git.rebased import with_sizes
from headway.sources.git.records import SOURCE, change_key, undeployed_ref
from headway.sources.git.releases import select_tags
from headway.sources.git.stored import StoredImport, Written, imported_changes, pushed, written
from headway.sources.pull_requests import merged_with_stored
from headway.store import Store

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


def repository_name(path: Path) -> str:
    name = path.resolve().name
    return name[:-4] if name.endswith(".git") and len(name) > 4 else name


def _state_key(repository: str, service: str) -> str:
    return f"git.import:{repository}:{service}"


def _signature(opts: Options, branch: str | None) -> dict[str, Any]:
    signature: dict[str, Any] = {
        "pattern": opts.tags.pattern,
        "prereleases": opts.tags.prereleases,
        "team": opts.team,
        "environment": opts.environment,
        "deployments": opts.deployments,
        "branch": branch,
    }
    if opts.host is not None:  # (imports before hosts were known are imports without one)
        signature["host"] = str(opts.host)
    return signature


def import_repository(
    store: Store,
    settings: Settings,
    path: Path,
    opts: Options,
    branch: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a repository's delivery history; all or nothing, safe to repeat."""
    with _collector_paused():
        return _import(store, settings, path, opts, branch, progress)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """An import builds hundreds of thousands of small objects (commits, changes, rows) that
    form no cycles; the cycle collector would rescan them again and again as they pile up
    (about 15 % of the Python time on a 100,000-commit history)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import(
    store: Store,
    settings: Settings,
    path: Path,
    opts: Options,
    branch: str | None,
    progress: Progress | None,
) -> ImportReport:
    started = time.perf_counter()
    report = ImportReport(opts.repository, opts.service)
    open_repository(path)
    refs = read_refs(path, branch)
    if opts.deployments:
        select_tags(refs.tags, opts.tags)  # fail on a pattern that matches nothing, first
    check_service(store, opts)
    key = _state_key(opts.repository, opts.service)
    rows = store.query("SELECT value FROM settings WHERE key = ?", [key])
    state = json.loads(rows[0][0]) if rows else None
    signature = _signature(opts, branch)
    # Commits stored as direct ones before webhooks said a rebase merge wrote them: only the
    # whole history tells which commits before each request's last one came with it.
    incremental = (
        state is not None
        and state.get("options") == signature
        and not stored_as_direct(store, opts)
    )
    if state is not None and incremental and state["tips"] == refs.tips:
        report.up_to_date = True
        report.seconds = time.perf_counter() - started
        return report

    if state is not None and incremental:
        try:
            return _import_new(store, settings, path, opts, refs, state, report, progress, started)
        except NeedsFullImport:
            pass  # derive everything again; still only changed records are written
    # With another host only the pull requests' names change: their sizes are stored.
    sized = state is not None and {**state["options"], "host": 0} == {**signature, "host": 0}
    return _import_all(store, settings, path, opts, refs, signature, sized, progress, started)


def _import_all(
    store: Store,
    settings: Settings,
    path: Path,
    opts: Options,
    refs: Refs,
    signature: dict[str, Any],
    incremental: bool,
    progress: Progress | None,
    started: float,
) -> ImportReport:
    """Derive the whole history and write what the store does not hold yet. `incremental`:
    an import with the same options is stored (the history moved in a way a re-import of only
    what is new cannot follow), so few changes are new: they are diffed one by one at the end
    instead of walking the whole main line."""
    report = ImportReport(opts.repository, opts.service)
    key = _state_key(opts.repository, opts.service)
    # Sizes need diffs, the slowest thing git does. Only main-line commits need them, and they
    # are computed by other git processes from now on, while this one streams the history
    # and Python derives changes; records are then built and written as the sizes arrive.
    diffs = None
    if not incremental:
        walks = main_line_walks(refs.head, release_tags(refs, opts), _diff_processes())
        diffs = Diffs(path, walks)
    try:
        return _derive_and_write(
            store, settings, path, opts, refs, signature, progress, started, report, key, diffs
        )  # fmt: skip
    finally:
        if diffs is not None:
            diffs.close()  # after a failure, git's diffs stop now instead of running on


def _derive_and_write(
    store: Store,
    settings: Settings,
    path: Path,
    opts: Options,
    refs: Refs,
    signature: dict[str, Any],
    progress: Progress | None,
    started: float,
    report: ImportReport,
    key: str,
    diffs: Diffs | None,
) -> ImportReport:
    commits = {
        c.sha: c
        for c in read_log(
            path, progress=(lambda n: progress("Reading history", n, None)) if progress else None
        )
    }
    report.commits = len(commits)
    if not commits:
        raise GitError(
            f"{path} has no commits reachable from its branches and tags; nothing to import"
        )
    if progress:
        progress("Deriving changes and releases", 0, None)
    merged = merged_by_webhooks(store, opts)  # the whole history: all of them
    derived = derive(commits, refs, opts, merged)
    del commits  # what the records need, `derived` holds
    report.changes, report.deployments = len(derived.found), len(derived.deployments)
    report.failed, report.undeployed = derived.failed, derived.undeployed

    def sizes() -> Iterator[Sizes]:
        diffed, total = 0, len(derived.main_line)
        for block in diffs or ():
            diffed += len(block)  # a commit two walks reached counts twice: cap the count
            if progress:
                progress("Diffing main-line commits", min(diffed, total), total)
            yield block
        if progress:
            progress("Writing", 0, None)

    def records(before: Written) -> Iterator[Service | Deployment | Change]:
        yield derived.service
        for d in derived.deployments:
            if d.id not in before.deployments or before.deployments[d.id] != d.recovers:
                yield d
        unsized, reported = [], []
        for c in derived.changes(sizes()):
            if before.holds(c):
                continue  # written before, and nothing about it moved
            if c.id not in before.changes and c.files is None:
                unsized.append(c)  # this derivation follows an earlier import, or a walk missed it
            elif before.reported(c):
                reported.append(c)
            else:
                yield c
        for c in with_sizes(path, unsized, derived.folded):
            if before.reported(c):
                reported.append(c)
            else:
                yield c
        yield from merged_with_stored(store, reported)  # combined with what webhooks said

    with store.transaction():
        keys = {
            sha: change_key(opts, sha, found[1].request) for sha, found in derived.found.items()
        }
        if merged.numbers:  # commits stored as direct ones that a rebase merge wrote
            ids = {sha: record_id(*key[:2]) for sha, key in keys.items()}
            replace_stored(store, opts, derived.folded, ids)
        rename_stored(store, opts, keys)  # pull requests an earlier import named otherwise
        before = written(store, opts)
        stale = sorted(set(before.deployments) - {d.id for d in derived.deployments})
        for dep_id in stale:  # its tag was deleted, or no longer matches the pattern
            store.execute("DELETE FROM deployments WHERE id = ?", [dep_id])
        # Written in chunks as the records are built: the store takes them while git diffs.
        result = ingest(store, settings, records(before), chunk=10_000)
        _remember(store, key, refs, signature, path)
    report.removed = len(stale)
    report.written = dict(result.new)
    report.seconds = time.perf_counter() - started
    return report


def _diff_processes() -> int:
    """One git process per core, up to four, share the main line's diffs: they walk disjoint
    stretches of it, so together they do no more work than one would."""
    return max(1, min(os.cpu_count() or 1, 4))


def _remember(store: Store, key: str, refs: Refs, signature: dict[str, Any], path: Path) -> None:
    value = json.dumps(
        {"tips": refs.tips, "head": refs.head, "options": signature, "path": str(path.resolve())}
    )
    store.execute("DELETE FROM settings WHERE key = ?", [key])
    store.execute("INSERT INTO settings (key, value) VALUES (?, ?)", [key, value])


def _import_new(
    store: Store,
    settings: Settings,
    path: Path,
    opts: Options,
    refs: Refs,
    state: dict[str, Any],
    report: ImportReport,
    progress: Progress | None,
    started: float,
) -> ImportReport:
    """Re-import reading only commits the last import's main line and releases do not reach.

    Raises NeedsFullImport when the refs moved in a way that needs the whole history: a tag
    deleted or moved, or a main branch that no longer continues from the last import."""
    old_tips: dict[str, str] = state["tips"]
    for ref, obj in old_tips.items():
        if ref.startswith("refs/tags/") and refs.tips.get(ref) != obj:
            raise NeedsFullImport(f"{ref} was deleted or moved")
    # Imports before the main-line commit was remembered on its own kept it as tips["HEAD"]
    # (and not at all with --branch).
    head = state.get("head", old_tips.get("HEAD"))
    if not head:
        raise NeedsFullImport("the last import's main-line commit is not known")
    if not refs.head or not is_ancestor(path, head, refs.head):
        raise NeedsFullImport("the main branch was rewritten")
    previous = StoredImport(store, path, opts, head)
    seen = sorted({previous.head or "", *(s for s, _ in previous.deployments.values())} - {""})

    def tick(done: int) -> None:
        if progress:
            progress("Reading new history", done, None)

    commits = {c.sha: c for c in read_log(path, revisions=["--all", "--not", *seen], progress=tick)}
    if progress:
        progress("Deriving changes and releases", 0, None)
    delta = derive_since(commits, refs, opts, previous, merged_by_webhooks(store, opts, commits))
    added = with_sizes(path, delta.added, delta.folded)
    # Pull requests and direct commits webhooks reported too are combined with what they said.
    new = [*added, *delta.relinked]
    listed = pushed(store, opts, [c for c in new if c.source == SOURCE])
    hosted = [c for c in new if c.source != SOURCE or c.id in listed]
    unhosted = [c for c in new if c.source == SOURCE and c.id not in listed]
    if progress:
        progress("Writing", 0, None)
    with store.transaction():
        for dep_id in delta.cleared:  # a new, earlier release now ships the recovering revert
            store.execute("UPDATE deployments SET recovers = NULL WHERE id = ?", [dep_id])
        result = ingest(
            store,
            settings,
            [delta.service, *delta.deployments, *unhosted, *merged_with_stored(store, hosted)],
        )
        _remember(store, _state_key(opts.repository, opts.service), refs, state["options"], path)
    where, params = imported_changes(opts)
    report.changes, report.undeployed = (
        int(n)
        for n in store.query(
            "SELECT count(*), count(*) FILTER (WHERE deployment_ref = ?) FROM changes "
            f"WHERE {where}",
            [undeployed_ref(opts.repository), *params],
        )[0]
    )
    report.commits = len(commits)
    report.deployments = len(previous.deployments) + sum(
        1 for d in delta.deployments if d.id not in previous.deployments
    )
    report.failed = delta.failed
    report.written = dict(result.new)
    report.seconds = time.perf_counter() - started
    return report
