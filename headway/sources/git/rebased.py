"""Pull requests merged by rebase (GitHub's "Rebase and merge", a GitLab fast-forward merge):
no merge commit and no number in the commits, so only the host's webhooks tell the import
which main-line commits were a pull request. A webhook names the request's last commit
(`merge_sha`); that commit, and the rebased commits just before it (`pull_requests.rebased`),
are the request's one change instead of direct commits; on GitHub, a commit that headed a push
of its own is not one of them, however close in time. Each fold is kept (`ingest.folds`) with
its commits as the direct changes they would be on their own, so that a push delivered later
that shows one came by itself takes it back out, as for the folds webhooks make."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from headway.model import Change
from headway.sources import pull_requests
from headway.sources.git.changes import ChangeInfo, own_change
from headway.sources.git.diffs import Sizes, read_sizes
from headway.sources.git.history import Commit
from headway.sources.git.options import Options
from headway.sources.git.records import change_record, undeployed_ref


@dataclass(frozen=True)
class Merged:
    """What webhooks said about a host's merged requests."""

    numbers: dict[str, int] = field(default_factory=dict)  # last commit -> request number
    pushed: dict[str, set[str]] = field(default_factory=dict)  # last commit -> pushed commits
    # commits that headed a push, so came by themselves (GitHub: `ingest.requests.pushed_alone`)
    alone: set[str] = field(default_factory=set)


def fold_rebased(
    commits: dict[str, Commit],
    mainline: list[str],
    changes: dict[str, ChangeInfo],
    by_number: dict[int, str],
    owner: dict[str, str],
    merged: Merged,
    carried: Callable[[int], bool] = lambda _: False,
) -> dict[str, list[str]]:
    """Make each main-line change webhooks name a request's last commit that request, with
    the rebased commits before it folded in (removed from `changes`, owned by it), unless a
    change carries its number already (in `by_number`, or `carried` by a stored one). Returns
    request commit -> the commits folded into it."""
    folded: dict[str, list[str]] = {}
    for sha in mainline:
        info, number = changes.get(sha), merged.numbers.get(sha)
        if info is None or number is None or info.number is not None:
            continue  # not reported, or recognised from its message
        if number in by_number or carried(number):
            continue  # another change is that request
        info.number = number
        by_number[number] = sha
        if len(commits[sha].parents) != 1:
            continue  # a merge commit brought its own commits
        head = commits[sha]
        taken = pull_requests.rebased(
            head.committed,
            _before(commits, changes, merged, head),
            merged.pushed.get(sha, ()),
            merged.alone,
        )
        for member in taken:
            brought = changes.pop(member)
            if brought.first < info.first:
                info.first, info.author = brought.first, brought.author
            owner[member] = sha
        if taken:
            folded[sha] = taken
    return folded


def _before(
    commits: dict[str, Commit], changes: dict[str, ChangeInfo], merged: Merged, head: Commit
) -> Iterator[tuple[str, float, bool]]:
    sha = head.parents[0]
    while sha in changes and sha in commits:
        commit = commits[sha]
        direct = (
            len(commit.parents) == 1 and changes[sha].number is None and sha not in merged.numbers
        )
        yield sha, commit.committed, direct
        if not commit.parents:
            return
        sha = commit.parents[0]


def unfolded(
    opts: Options,
    commits: Mapping[str, Commit],
    folded: dict[str, list[str]],
    shipped: Mapping[str, str],
) -> dict[str, Change]:
    """Each commit of the `folded` requests, the last one too, as the direct change the import
    stores for it when no request takes it in (`shipped`: commit -> its release), size not
    yet known. A revert it makes is left out: git's reverts are the owning change's, here the
    request's (a limit docs/decisions.md names)."""
    nowhere = undeployed_ref(opts.repository)
    shas = [sha for last, members in folded.items() for sha in (last, *members)]
    return {
        sha: change_record(
            opts, commits[sha], own_change(commits[sha], shipped.get(sha)), None, nowhere, None
        )
        for sha in shas
    }


def folds(
    requests: Iterable[Change],
    folded: dict[str, list[str]],
    unfolded: Mapping[str, Change],
    sizes: Sizes,
    merged: Merged,
) -> dict[str, tuple[str, Change, list[Change]]]:
    """What each of `requests` took in by rebase, to keep (`ingest.folds.keep`): request id ->
    (its repository as its host names it, its last commit as a direct change, the folded
    commits as direct changes), each with its own size. Only folds a push delivered later can
    undo: GitHub's (elsewhere heading a push keeps no commit out) with a commit the push of
    the merge did not list (one it listed is the request's whatever comes). A request some
    of whose commits this import did not diff (`sizes`) is left out: a fold kept before
    stays."""
    found = {}
    for request in requests:
        last_sha = request.merge_sha or ""
        shas = [last_sha, *folded.get(last_sha, ())]
        pushed = merged.pushed.get(last_sha, set())
        if (
            request.source != pull_requests.GITHUB
            or all(s in pushed for s in shas[1:])
            or any(s not in sizes for s in shas)
        ):
            continue
        last, *members = (
            replace(unfolded[s], files=sizes[s][0], additions=sizes[s][1], deletions=sizes[s][2])
            for s in shas
        )
        found[request.id] = (request.repository or "", last, members)
    return found


def sum_sizes(
    sizes: dict[str, tuple[int, int, int]], sha: str, folded: dict[str, list[str]]
) -> tuple[int, int, int] | None:
    """The size of the change `sha`: its diff, plus those of the commits folded into it."""
    parts = [sizes.get(s) for s in (sha, *folded.get(sha, ()))]
    if any(p is None for p in parts):
        return None
    files, additions, deletions = (sum(p[i] for p in parts if p) for i in range(3))
    return files, additions, deletions


def with_sizes(
    path: Path, changes: list[Change], folded: dict[str, list[str]]
) -> tuple[list[Change], Sizes]:
    """The changes with their sizes filled in (one `git log --no-walk`), and the size of each
    commit read."""
    need = [
        s
        for c in changes
        if c.merge_sha and c.files is None
        for s in (c.merge_sha, *folded.get(c.merge_sha, ()))
    ]
    if not need:
        return changes, {}
    sized = read_sizes(path, need, walk="--no-walk")
    out = []
    for c in changes:
        s = sum_sizes(sized, c.merge_sha, folded) if c.merge_sha and c.files is None else None
        if s is not None:
            c = replace(c, files=s[0], additions=s[1], deletions=s[2])
        out.append(c)
    return out, sized


__all__ = ["Merged", "fold_rebased", "folds", "sum_sizes", "unfolded", "with_sizes"]
