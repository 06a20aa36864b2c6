"""A re-import: reads only the commits the last import's main line and releases do not reach,
and writes the records they add or move (`incremental` derives them)."""

from __future__ import annotations

from typing import Any

from headway.ingest.folds import keep as keep_folds
from headway.ingest.git.hosted import merged_by_webhooks
from headway.ingest.git.previous import StoredImport, imported_changes, pushed
from headway.ingest.git.run import ImportReport, ImportRun
from headway.ingest.records import ingest
from headway.ingest.requests import merged_with_stored
from headway.sources.git.history import GitError, is_ancestor, read_log
from headway.sources.git.incremental import NeedsFullImport, derive_since
from headway.sources.git.rebased import folds, with_sizes
from headway.sources.git.records import SOURCE, undeployed_ref
from headway.store import git_import as statements
from headway.values import sha_problem


def import_new(run: ImportRun, state: dict[str, Any]) -> ImportReport:
    """Import what is new since the last import, whose remembered `state` has the same options.

    Raises NeedsFullImport when the refs moved in a way that needs the whole history: a tag
    deleted or moved, or a main branch that no longer continues from the last import."""
    store, path, opts, refs = run.store, run.path, run.opts, run.refs
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
    for dep_id, (sha, _) in sorted(previous.deployments.items()):
        if sha is not None and (problem := sha_problem(sha)) is not None:
            raise GitError(
                f"the store's deployment {dep_id} has sha {sha!r}, not one this import wrote "
                f"(expected {problem}); nothing was imported. Write that deployment again "
                "with its right sha (`headway import jsonl`), or delete it, and import again"
            )
    seen = sorted({previous.head or "", *(s for s, _ in previous.deployments.values())} - {""})
    commits = {
        c.sha: c
        for c in read_log(
            path,
            excluded=seen,
            progress=run.counter("Reading new history"),
        )
    }
    run.tell("Deriving changes and releases")
    merged = merged_by_webhooks(store, opts, commits)
    delta = derive_since(commits, refs, opts, previous, merged)
    added, sizes = with_sizes(path, delta.added, delta.folded)
    # Pull requests and direct commits webhooks reported too are combined with what they said.
    new = [*added, *delta.relinked]
    listed = pushed(store, opts, [c for c in new if c.source == SOURCE])
    hosted = [c for c in new if c.source != SOURCE or c.id in listed]
    unhosted = [c for c in new if c.source == SOURCE and c.id not in listed]
    run.tell("Writing")
    with store.transaction():
        for dep_id in delta.cleared:  # a new, earlier release now ships the recovering revert
            statements.clear_recovers(store, dep_id)
        result = ingest(
            store,
            run.settings,
            [delta.service, *delta.deployments, *unhosted, *merged_with_stored(store, hosted)],
        )
        # kept with each commit's own size, so that a push shown later to have come by itself
        # takes its commit back out (`ingest.folds`)
        keep_folds(store, folds(added, delta.folded, delta.unfolded, sizes, merged), {})
        run.remember(state["options"])
    report = run.report()
    report.changes, report.undeployed = statements.counts(
        store, imported_changes(opts), undeployed_ref(opts.repository)
    )
    report.commits = len(commits)
    report.deployments = len(previous.deployments) + sum(
        1 for d in delta.deployments if d.id not in previous.deployments
    )
    report.failed = delta.failed
    report.written = dict(result.new)
    return run.finish(report)
