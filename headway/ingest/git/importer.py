"""Importing a repository into the store: what `headway import git` runs.

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
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from headway.config import Settings
from headway.ingest.folds import keep as keep_folds
from headway.ingest.git.hosted import (
    check_service,
    merged_by_webhooks,
    rename_stored,
    replace_stored,
    stored_as_direct,
)
from headway.ingest.git.previous import Written, written
from headway.ingest.git.reimport import import_new
from headway.ingest.git.run import ImportReport, ImportRun, Progress, signature
from headway.ingest.records import ingest
from headway.ingest.requests import merged_with_stored
from headway.model import Change, Deployment, Service, record_id
from headway.sources.git.derivation import derive
from headway.sources.git.diffs import Diffs, Sizes, main_line_walks
from headway.sources.git.history import GitError, open_repository, read_log, read_refs
from headway.sources.git.incremental import NeedsFullImport
from headway.sources.git.options import Options, release_tags
from headway.sources.git.rebased import folds, with_sizes
from headway.sources.git.records import change_key
from headway.sources.git.releases import select_tags
from headway.store import Store
from headway.store import git_import as statements


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
    open_repository(path)
    refs = read_refs(path, branch)
    if opts.deployments:
        select_tags(refs.tags, opts.tags)  # fail on a pattern that matches nothing, first
    check_service(store, opts)
    run = ImportRun(store, settings, path, opts, refs, signature(opts, branch), progress, started)
    remembered = statements.remembered(store, run.key)
    state = json.loads(remembered) if remembered is not None else None
    # Commits stored as direct ones before webhooks said a rebase merge wrote them: only the
    # whole history tells which commits before each request's last one came with it.
    incremental = (
        state is not None
        and state.get("options") == run.signature
        and not stored_as_direct(store, opts)
    )
    if state is not None and incremental and state["tips"] == refs.tips:
        report = run.report()
        report.up_to_date = True
        return run.finish(report)

    if state is not None and incremental:
        try:
            return import_new(run, state)
        except NeedsFullImport:
            pass  # derive everything again; still only changed records are written
    # With another host only the pull requests' names change: their sizes are stored.
    sized = state is not None and {**state["options"], "host": 0} == {**run.signature, "host": 0}
    return _import_all(run, sized)


def _import_all(run: ImportRun, incremental: bool) -> ImportReport:
    """Derive the whole history and write what the store does not hold yet. `incremental`:
    an import with the same options is stored (the history moved in a way a re-import of only
    what is new cannot follow), so few changes are new: they are diffed one by one at the end
    instead of walking the whole main line."""
    # Sizes need diffs, the slowest thing git does. Only main-line commits need them, and they
    # are computed by other git processes from now on, while this one streams the history
    # and Python derives changes; records are then built and written as the sizes arrive.
    diffs = None
    if not incremental:
        walks = main_line_walks(run.refs.head, release_tags(run.refs, run.opts), _diff_processes())
        diffs = Diffs(run.path, walks)
    try:
        return _derive_and_write(run, diffs)
    finally:
        if diffs is not None:
            diffs.close()  # after a failure, git's diffs stop now instead of running on


def _derive_and_write(run: ImportRun, diffs: Diffs | None) -> ImportReport:
    store, path, opts = run.store, run.path, run.opts
    report = run.report()
    commits = {c.sha: c for c in read_log(path, progress=run.counter("Reading history"))}
    report.commits = len(commits)
    if not commits:
        raise GitError(
            f"{path} has no commits reachable from its branches and tags; nothing to import"
        )
    run.tell("Deriving changes and releases")
    merged = merged_by_webhooks(store, opts)  # the whole history: all of them
    derived = derive(commits, run.refs, opts, merged)
    del commits  # what the records need, `derived` holds
    report.changes, report.deployments = len(derived.found), len(derived.deployments)
    report.failed, report.undeployed = derived.failed, derived.undeployed
    # Folds into requests merged by rebase are kept with each commit's own size (`ingest.folds`)
    fold_sizes: dict[str, tuple[int, int, int]] = {}
    rebased: list[Change] = []  # the requests written that took commits in

    def sizes() -> Iterator[Sizes]:
        diffed, total = 0, len(derived.main_line)
        for block in diffs or ():
            diffed += len(block)  # a commit two walks reached counts twice: cap the count
            run.tell("Diffing main-line commits", min(diffed, total), total)
            if derived.unfolded:
                fold_sizes.update((s, block[s]) for s in derived.unfolded.keys() & block.keys())
            yield block
        run.tell("Writing")

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
        sized, read = with_sizes(path, unsized, derived.folded)
        fold_sizes.update(read)
        for c in sized:
            if before.reported(c):
                reported.append(c)
            else:
                yield c
        yield from merged_with_stored(store, reported)  # combined with what webhooks said

    def noting(
        records: Iterator[Service | Deployment | Change],
    ) -> Iterator[Service | Deployment | Change]:
        for record in records:
            if isinstance(record, Change) and record.merge_sha in derived.folded:
                rebased.append(record)
            yield record

    with store.transaction():
        keys = {
            sha: change_key(opts, sha, found[1].request) for sha, found in derived.found.items()
        }
        repointed = {}
        if merged.numbers:  # commits stored as direct ones that a rebase merge wrote
            ids = {sha: record_id(*key[:2]) for sha, key in keys.items()}
            repointed = replace_stored(store, opts, derived.folded, ids)
        rename_stored(store, opts, keys)  # pull requests an earlier import named otherwise
        before = written(store, opts)
        stale = sorted(set(before.deployments) - {d.id for d in derived.deployments})
        for dep_id in stale:  # its tag was deleted, or no longer matches the pattern
            statements.drop_deployment(store, dep_id)
        # Written in chunks as the records are built: the store takes them while git diffs.
        result = ingest(store, run.settings, noting(records(before)), chunk=10_000)
        keep_folds(
            store, folds(rebased, derived.folded, derived.unfolded, fold_sizes, merged), repointed
        )
        run.remember(run.signature)
    report.removed = len(stale)
    report.written = dict(result.new)
    return run.finish(report)


def _diff_processes() -> int:
    """One git process per core, up to four, share the main line's diffs: they walk disjoint
    stretches of it, so together they do no more work than one would."""
    return max(1, min(os.cpu_count() or 1, 4))
