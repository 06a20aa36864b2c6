"""A re-import's records from the commits the last import did not reach and what it stored."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from headway.model import Change, Deployment, Service
from headway.sources.git.changes import main_line, main_line_changes, owners
from headway.sources.git.history import Commit, Refs, Tag
from headway.sources.git.options import Options, release_tags
from headway.sources.git.rebased import Merged, fold_rebased, unfolded
from headway.sources.git.records import (
    SOURCE,
    change_id,
    change_record,
    deployment_id,
    deployment_record,
    undeployed_ref,
)
from headway.sources.git.reverts import failures, revert_links

_SHORT = 12


class NeedsFullImport(Exception):
    """The repository moved in a way an import of only what is new cannot follow (a main
    branch that no longer continues from the last import, a tag on commits an earlier change
    owns, a revert of a commit inside an earlier pull request): derive everything again."""


@dataclass(frozen=True, slots=True)
class Stored:
    """A change an earlier import wrote, as far as linking new history to it needs."""

    id: str
    sha: str
    deployment: str | None  # id of the deployment shipping it, None when none does yet
    reverts: str | None  # sha of the change it reverts
    committed: int


class Previous(Protocol):
    """What an earlier import of the same repository established (store and git lookups)."""

    head: str | None  # the main line's commit then
    deployments: dict[str, tuple[str, str | None]]  # deployment id -> (tag's commit, recovers)

    def changes(self, shas: Collection[str]) -> dict[str, Stored]:
        """Those of `shas` that are stored changes."""
        ...

    def reverts(self) -> list[Stored]:
        """Every stored change that reverts another."""
        ...

    def first_with_number(self, number: int) -> str | None:
        """The commit of the stored change with pull request `number` (the first merged)."""
        ...

    def resolve(self, prefix: str) -> str | None:
        """The commit an abbreviated sha names, None when none or several do."""
        ...

    def first_contained_by(self, tag: Tag, earlier: Sequence[Tag]) -> list[str]:
        """Commits `tag` contains and no tag in `earlier` does."""
        ...


@dataclass
class Delta:
    """What a re-import writes: new records, and stored ones whose links moved."""

    service: Service
    added: list[Change]  # new changes, sizes not yet known
    relinked: list[Change]  # stored changes shipped by a new, earlier release (partial records)
    deployments: list[Deployment]  # new releases, and stored ones whose `recovers` changed
    cleared: list[str]  # stored deployments that no longer recover anything
    failed: dict[str, str]  # every failed deployment id -> id of the revert that shows it
    folded: dict[str, list[str]]  # a request merged by rebase -> its earlier commits
    unfolded: dict[str, Change]  # each commit of those requests as a change of its own

    def records(self) -> Iterator[Service | Change | Deployment]:
        yield self.service
        yield from self.deployments
        yield from self.added
        yield from self.relinked


def derive_since(
    commits: dict[str, Commit],
    refs: Refs,
    opts: Options,
    previous: Previous,
    merged: Merged | None = None,
) -> Delta:
    """The records `derive` would change, given only the commits an earlier import did not
    cover (`commits`: those its main branch and release tags do not reach) and what that
    import stored. Raises NeedsFullImport when the history moved in a way only a full
    derivation can follow."""
    repo = opts.repository
    tags = release_tags(refs, opts)
    by_id = {deployment_id(repo, t): t for t in tags}
    for dep_id, (sha, _) in previous.deployments.items():
        if dep_id not in by_id or by_id[dep_id].sha != sha:
            raise NeedsFullImport(f"release {dep_id} is no longer the earliest tag on its commit")
    new_tags = [t for t in tags if deployment_id(repo, t) not in previous.deployments]
    new_ids = {deployment_id(repo, t) for t in new_tags}

    # New main-line commits: the main branch must continue from where it was, and a new
    # release tag's first-parent chain must join the old main line (not an old pull request).
    mainline, on_main, stops = main_line(commits, [refs.head, *(t.sha for t in new_tags)])
    if previous.head and stops[0] != previous.head:
        raise NeedsFullImport("the main branch does not continue from the last import")
    released = {sha for sha, _ in previous.deployments.values()}
    joins = {s for s in stops[1:] if s} - released - {previous.head}
    if joins - set(previous.changes(joins)):
        raise NeedsFullImport("a new release tag's first-parent chain runs through old commits")
    owner, members = owners(commits, mainline, on_main)

    # Earliest release: a new tag ships what it contains and no earlier tag does, new
    # commits and old ones alike (a tag added later on old commits).
    shipped: dict[str, str] = {}
    for i, tag in enumerate(tags):
        if (dep_id := deployment_id(repo, tag)) in new_ids:
            for sha in previous.first_contained_by(tag, tags[:i]):
                shipped.setdefault(sha, dep_id)
    stored = previous.changes([s for s in shipped if s not in commits])
    changes, by_number = main_line_changes(commits, mainline, members, shipped)
    folded = fold_rebased(
        commits,
        mainline,
        changes,
        by_number,
        owner,
        merged or Merged(),
        lambda n: previous.first_with_number(n) is not None,
    )
    if opts.host is not None:  # a number an earlier change carries is that change's request
        for number, sha in by_number.items():
            if previous.first_with_number(number) is None:
                changes[sha].request = number
    ids = {sha: change_id(opts, sha, info.request) for sha, info in changes.items()}

    def id_of(sha: str) -> str:  # of a new change, or a stored one
        if sha in ids:
            return ids[sha]
        return (known.get(sha) or previous.changes([sha])[sha]).id

    def change_of(sha: str) -> str | None:
        if sha in commits:
            main = owner.get(sha)
            return main if main in changes else None
        if sha in stored or previous.changes([sha]):
            return sha
        if previous.resolve(sha) is None:
            return None  # not in the repository at all
        raise NeedsFullImport(f"a new revert names {sha[:_SHORT]}, inside an earlier change")

    old_reverts = previous.reverts()
    reverts = revert_links(
        [commits[s] for s in owner],
        change_of,
        previous.resolve,
        lambda n: previous.first_with_number(n) or by_number.get(n),
        {r.sha for r in old_reverts},
    )
    links = [(r.sha, r.reverts, r.committed) for r in old_reverts if r.reverts]
    links += [(sha, target, commits[sha].committed) for sha, target in reverts.items()]
    known = {**previous.changes({t for _, t, _ in links} - set(commits)), **stored}
    known.update((r.sha, r) for r in old_reverts)

    def deployment_of(sha: str) -> str | None:
        if sha in shipped or sha in commits:
            return shipped.get(sha)
        return known[sha].deployment if sha in known else None

    failed, recovers = failures(links, deployment_of, lambda d: by_id[d].time)
    deployments = [
        deployment_record(opts, t, recovers.get(deployment_id(repo, t))) for t in new_tags
    ]
    cleared = []
    for dep_id, (_, had) in previous.deployments.items():
        if recovers.get(dep_id) != had:
            if recovers.get(dep_id) is None:
                cleared.append(dep_id)
            else:
                deployments.append(deployment_record(opts, by_id[dep_id], recovers[dep_id]))
    nowhere = undeployed_ref(repo)
    return Delta(
        Service(name=opts.service, team=opts.team, repository=repo),
        [
            change_record(
                opts, commits[s], info, id_of(t) if (t := reverts.get(s)) else None, nowhere, None
            )
            for s, info in changes.items()
        ],
        [
            _relinked(opts, change, shipped[sha])
            for sha, change in stored.items()
            if change.deployment != shipped[sha]
        ],
        deployments,
        cleared,
        {dep: id_of(sha) for dep, sha in failed.items()},
        folded,
        unfolded(opts, commits, folded, shipped),
    )


def _relinked(opts: Options, change: Stored, deployment: str) -> Change:
    """A stored change, as far as a new release shipping it changes it."""
    source, _, source_id = change.id.partition(":")
    return Change(
        source=source,
        source_id=source_id,
        service=opts.service,
        repository=opts.host.repository if opts.host and source != SOURCE else opts.repository,
        is_revert=change.reverts is not None,
        deployment_ref=deployment,
    )
