"""The whole history's records: changes, the earliest release shipping each, failures."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from headway.model import Change, Deployment, Service
from headway.sources.git.changes import ChangeInfo, main_line, main_line_changes, owners
from headway.sources.git.diffs import Sizes
from headway.sources.git.history import Commit, Refs
from headway.sources.git.options import Options, release_tags
from headway.sources.git.rebased import Merged, fold_rebased, sum_sizes, unfolded
from headway.sources.git.records import (
    change_id,
    change_record,
    deployment_id,
    deployment_record,
    undeployed_ref,
)
from headway.sources.git.reverts import failures, resolve_prefix, revert_links


@dataclass
class Derived:
    """The records a history makes. Change records are built by `changes`, as sizes arrive."""

    opts: Options
    service: Service
    deployments: list[Deployment]
    failed: dict[str, str]  # failed deployment id -> id of the revert that shows it
    undeployed: int
    main_line: list[str]  # the main-line commits: those whose diff is a change's size
    # change -> (commit, what it is, id of the change it reverts)
    found: dict[str, tuple[Commit, ChangeInfo, str | None]]
    folded: dict[str, list[str]]  # a request merged by rebase -> its earlier commits
    unfolded: dict[str, Change]  # each commit of those requests as a change of its own

    def changes(self, sizes: Iterable[Sizes] = ()) -> Iterator[Change]:
        """Every change record, each built as soon as a block of `sizes` holds its size (so
        they can be written while git is still diffing); changes no block sizes come last,
        their sizes unknown."""
        nowhere = undeployed_ref(self.opts.repository)
        left = dict(self.found)
        part_of = {m: sha for sha, members in self.folded.items() for m in members}
        parts: dict[str, tuple[int, int, int]] = {}
        for block in sizes:
            for sha, size in block.items():
                change_sha = part_of.get(sha, sha)
                if change_sha not in left:
                    continue
                if change_sha in self.folded:  # sized once all its commits are
                    parts[sha] = size
                    if (total := sum_sizes(parts, change_sha, self.folded)) is None:
                        continue
                    size = total
                yield change_record(self.opts, *left.pop(change_sha), nowhere, size)
        for change in left.values():
            yield change_record(self.opts, *change, nowhere, None)


def derive(
    commits: dict[str, Commit],
    refs: Refs,
    opts: Options,
    merged: Merged | None = None,
) -> Derived:
    """Canonical records from a history snapshot (and the requests webhooks reported merged
    by rebase, `merged`). Pure: same history, same records."""
    repo = opts.repository
    tags = [t for t in release_tags(refs, opts) if t.sha in commits]
    mainline, on_main, _ = main_line(commits, [refs.head, *(t.sha for t in tags)])
    owner, members = owners(commits, mainline, on_main)

    # Earliest release containing each commit: walk from each tag in time order, stopping at
    # commits an earlier tag already reached (their ancestors are all reached too).
    first_tag: dict[str, str] = {}
    for tag in tags:
        dep_id = deployment_id(repo, tag)
        stack = [tag.sha]
        while stack:
            c = stack.pop()
            if c in first_tag or c not in commits:
                continue
            first_tag[c] = dep_id
            stack.extend(commits[c].parents)

    changes, by_number = main_line_changes(commits, mainline, members, first_tag)
    folded = fold_rebased(commits, mainline, changes, by_number, owner, merged or Merged())
    for number, sha in by_number.items():
        changes[sha].request = number
    ids = {sha: change_id(opts, sha, info.request) for sha, info in changes.items()}

    def change_of(sha: str) -> str | None:
        main = owner.get(sha)
        return main if main in changes else None

    reverts = revert_links(
        [commits[s] for s in owner],
        change_of,
        lambda prefix: resolve_prefix(prefix, commits),
        by_number.get,
        (),
    )
    times = {deployment_id(repo, t): t.time for t in tags}
    failed, recovers = failures(
        [(sha, target, commits[sha].committed) for sha, target in reverts.items()],
        lambda sha: changes[sha].deployment,
        times.__getitem__,
    )
    return Derived(
        opts,
        Service(name=opts.service, team=opts.team, repository=repo),
        [deployment_record(opts, t, recovers.get(deployment_id(repo, t))) for t in tags],
        {dep: ids[sha] for dep, sha in failed.items()},
        sum(1 for c in changes.values() if c.deployment is None),
        mainline,
        {
            sha: (commits[sha], info, ids[t] if (t := reverts.get(sha)) else None)
            for sha, info in changes.items()
        },
        folded,
        unfolded(opts, commits, folded, first_tag),
    )
