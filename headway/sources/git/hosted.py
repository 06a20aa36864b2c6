"""Pull requests named as their host names them, in a store other sources write to as well:
the service they belong to, and changes an earlier import named otherwise."""

from __future__ import annotations

from dataclasses import replace

from headway.model import record_id
from headway.sources import pull_requests
from headway.sources.git.history import GitError
from headway.sources.git.options import Options
from headway.sources.git.stored import imported_changes, like_prefix, starts_with
from headway.store import Store

# Where other records name a change by its id.
_REFERENCES = (("changes", "reverts"), ("approvals", "change_ref"), ("defects", "change_ref"))


def check_service(store: Store, opts: Options) -> None:
    """Refuse to import into another service than the one webhooks put the same pull requests
    in: one change cannot count for two services."""
    if opts.host is None:
        return
    others = [
        r[0]
        for r in store.query(
            f"SELECT DISTINCT service FROM changes WHERE {starts_with('id')} AND service <> ? "
            "ORDER BY service",
            [like_prefix(opts.host.prefix), opts.service],
        )
    ]
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
    where, params = imported_changes(opts)
    moves: dict[str, tuple[str, str, str]] = {
        old: keys[sha]
        for old, sha in store.query(f"SELECT id, merge_sha FROM changes WHERE {where}", params)
        if sha in keys and record_id(*keys[sha][:2]) != old
    }
    if not moves:
        return
    olds = pull_requests.read(store, moves)
    news = pull_requests.read(store, {record_id(*key[:2]) for key in moves.values()})
    renamed = {}
    for old, (source, source_id, repository) in moves.items():
        moved = replace(olds[old], source=source, source_id=source_id, repository=repository)
        there = news.get(moved.id)
        renamed[old] = pull_requests.from_git(there, moved) if there else moved
    olds_sorted = sorted(renamed)
    for i in range(0, len(olds_sorted), 500):
        chunk = olds_sorted[i : i + 500]
        store.execute(f"DELETE FROM changes WHERE id IN ({', '.join('?' * len(chunk))})", chunk)
    store.write(renamed.values())
    for table, column in _REFERENCES:
        for i in range(0, len(olds_sorted), 500):
            chunk = olds_sorted[i : i + 500]
            for row_id, old in store.query(
                f"SELECT id, {column} FROM {table} "
                f"WHERE {column} IN ({', '.join('?' * len(chunk))})",
                chunk,
            ):
                store.execute(
                    f"UPDATE {table} SET {column} = ? WHERE id = ?", [renamed[old].id, row_id]
                )
