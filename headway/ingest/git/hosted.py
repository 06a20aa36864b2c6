"""Pull requests named as their host names them, in a store other sources write to as well:
the service they belong to, and changes an earlier import named otherwise."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from headway.ingest.combine import from_git
from headway.ingest.git.previous import imported_changes
from headway.ingest.requests import pushed_alone, replace_changes
from headway.ingest.stored import changes as read_changes
from headway.model import record_id
from headway.sources.git.history import GitError
from headway.sources.git.options import Options
from headway.sources.git.rebased import Merged
from headway.sources.git.records import SOURCE
from headway.store import Store
from headway.store import git_import as statements


def check_service(store: Store, opts: Options) -> None:
    """Refuse to import into another service than the one webhooks put the same pull requests
    in: one change cannot count for two services."""
    if opts.host is None:
        return
    others = statements.hosted_services(store, opts.host.prefix, opts.service)
    if others:
        raise GitError(
            f"pull requests of {opts.host} are stored in service {', '.join(others)} (webhooks "
            f"name the service through service_map), not {opts.service}; import with "
            f"--service {others[0]}, or map {opts.host.repository} to service {opts.service} in "
            "service_map and run `headway reprocess`"
        )


def rename_stored(store: Store, opts: Options, keys: dict[str, tuple[str, str, str]]) -> None:
    """Changes an earlier import of this repository stored under another name than the one
    `keys` (commit -> source, source_id, repository) gives them now: a pull request named by
    its merge commit before its host was known, or by another host. Each moves to its new
    name (combined with a webhook's record of the same pull request, if there is one), and
    the changes, reviews and defects naming it follow."""
    moves: dict[str, tuple[str, str, str]] = {
        old: keys[sha]
        for old, sha in statements.imported_shas(store, imported_changes(opts))
        if sha in keys and record_id(*keys[sha][:2]) != old
    }
    if not moves:
        return
    olds = read_changes(store, moves)
    news = read_changes(store, {record_id(*key[:2]) for key in moves.values()})
    renamed = {}
    for old, (source, source_id, repository) in moves.items():
        moved = replace(olds[old], source=source, source_id=source_id, repository=repository)
        there = news.get(moved.id)
        renamed[old] = from_git(there, moved) if there else moved
    replace_changes(store, {old: new.id for old, new in renamed.items()})
    store.write(renamed.values())


def merged_by_webhooks(store: Store, opts: Options, among: Iterable[str] | None = None) -> Merged:
    """The merged requests of the import's host that webhooks reported, by last commit: only
    those whose last commit is `among` the commits given (a re-import's new ones), or all."""
    if opts.host is None:
        return Merged()
    host = (opts.host.kind, opts.host.repository)
    # The store holds every request webhooks ever reported; a re-import needs a few of them.
    shas = None if among is None else set(among)
    numbers = dict(statements.hosted_numbers(store, *host, shas))
    pushed: dict[str, set[str]] = {}
    for head, sha in statements.hosted_pushes(store, *host, shas):
        pushed.setdefault(head, set()).add(sha)
    alone = pushed_alone(store, opts.host.kind, opts.host.repository, shas)
    return Merged(numbers, pushed, alone)


def stored_as_direct(store: Store, opts: Options) -> bool:
    """Whether an earlier import stored a direct change for a commit webhooks since named a
    request's last commit (the next import must derive the whole history)."""
    if opts.host is None:
        return False
    return statements.stored_as_direct(
        store, imported_changes(opts), SOURCE, opts.host.kind, opts.host.repository
    )


def replace_stored(
    store: Store, opts: Options, folded: dict[str, list[str]], ids: dict[str, str]
) -> dict[str, list[tuple[str, str, str]]]:
    """Remove the direct changes an earlier import stored for commits now folded into a
    request or named as its last commit (`ids`: commit -> its change's id now); what named them
    names the request. Returns what was repointed (`requests.replace_changes`)."""
    owner = {m: sha for sha, members in folded.items() for m in members}
    moves = {}
    for change_id, sha in statements.imported_shas(store, imported_changes(opts), SOURCE):
        target = ids.get(owner.get(sha, sha))
        if target is not None and target != change_id:
            moves[change_id] = target
    return replace_changes(store, moves)
