"""Delivery history from a git repository: changes, deployments (release tags), failures.

Reading is `git for-each-ref` for the refs, one streaming `git log` (NUL-separated fields)
for the commits, and `git log --numstat` over the main line only for the changes' sizes.
Everything else is pure Python over that snapshot (`derive`): pull requests from merge and
squash commits, the earliest release tag containing each change (one walk of the commit
graph), and reverts of shipped changes. `derive_since` does the same for a re-import, from
the commits the last import did not reach and what it stored.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from headway.model import Change, Deployment, Service, record_id

SOURCE = "git"


class GitError(ValueError):
    """A repository or option that cannot be imported, with what to do about it."""


# -- reading --------------------------------------------------------------------------------


@dataclass(slots=True)
class Commit:
    sha: str
    parents: tuple[str, ...]
    author: str
    authored: int  # unix seconds: exact whatever the offset the commit was written with
    committed: int
    message: str

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0].strip()


@dataclass(frozen=True, slots=True)
class Tag:
    name: str
    sha: str  # the commit it points at (annotated tags peeled)
    time: int  # tagger date for annotated tags, commit date for lightweight ones
    annotated: bool


@dataclass(slots=True)
class Refs:
    head: str | None  # commit of the main line
    head_name: str
    tags: list[Tag]
    tips: dict[str, str]  # every branch and tag ref -> object id, to notice any change


def _git(repo: Path, *args: str, check: bool = True, input: str | None = None) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
            input=input,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
        )
    except FileNotFoundError:
        raise GitError(
            "git is not installed or not on PATH; install git to import a repository"
        ) from None
    if check and done.returncode != 0:
        raise GitError(f"git {' '.join(args)} failed in {repo}: {done.stderr.strip()}")
    return done.stdout


def open_repository(path: Path) -> Path:
    """Check that `path` is a complete, non-empty repository; return its git directory."""
    if not path.exists():
        raise GitError(f"{path} does not exist; pass the path of a git working tree or bare clone")
    try:
        git_dir = _git(path, "rev-parse", "--absolute-git-dir").strip()
    except GitError:
        raise GitError(
            f"{path} is not a git repository (no .git directory or bare repository found); "
            "pass the path of a git working tree or of a bare clone (`git clone --bare URL`)"
        ) from None
    if _git(path, "rev-parse", "--is-shallow-repository").strip() == "true":
        shallow = Path(git_dir, "shallow")
        cut = len(shallow.read_text().split()) if shallow.exists() else 0
        raise GitError(
            f"{path} is a shallow clone: the history behind its {cut} cut-off commit(s) is missing, "
            "so first commits, older releases and the changes they shipped cannot be known; "
            "run `git fetch --unshallow --tags` in it (or clone without --depth) and import again"
        )
    if not _git(
        path, "for-each-ref", "--count=1", "refs/heads", "refs/tags", "refs/remotes"
    ).strip():
        raise GitError(f"{path} has no commits (an empty history); commit or fetch something first")
    return Path(git_dir)


def read_refs(path: Path, branch: str | None = None) -> Refs:
    fmt = (
        "%(refname)%00%(objecttype)%00%(objectname)%00%(*objectname)%00%(*objecttype)"
        "%00%(taggerdate:unix)%00%(committerdate:unix)"
    )
    tips: dict[str, str] = {}
    tags: list[Tag] = []
    branches: dict[str, str] = {}
    for line in _git(
        path, "for-each-ref", f"--format={fmt}", "refs/heads", "refs/tags", "refs/remotes"
    ).splitlines():
        ref, kind, obj, peeled, peeled_kind, tagged, committed = line.split("\0")
        tips[ref] = obj
        if ref.startswith("refs/tags/"):
            if kind == "commit":
                tags.append(Tag(ref[10:], obj, int(committed), False))
            elif kind == "tag" and peeled_kind == "commit" and tagged:
                tags.append(Tag(ref[10:], peeled, int(tagged), True))
        else:
            branches[ref] = obj
    if branch:
        for candidate in (
            f"refs/heads/{branch}",
            f"refs/remotes/{branch}",
            f"refs/remotes/origin/{branch}",
        ):
            if candidate in branches:
                return Refs(branches[candidate], branch, tags, tips)
        raise GitError(
            f"--branch {branch}: no such branch; branches are: "
            + ", ".join(sorted(r.split("/", 2)[2] for r in branches)[:10])
        )
    head = _git(path, "rev-parse", "--verify", "-q", "HEAD^{commit}", check=False).strip() or None
    name = _git(path, "symbolic-ref", "-q", "--short", "HEAD", check=False).strip() or "HEAD"
    if head is None and branches:  # HEAD names an unborn branch; fall back to main or master
        for candidate in ("refs/heads/main", "refs/heads/master", *sorted(branches)):
            if candidate in branches:
                head, name = branches[candidate], candidate.split("/", 2)[2]
                break
    tips["HEAD"] = head or ""
    return Refs(head, name, tags, tips)


_LOG_FORMAT = "%x1e%H%x00%P%x00%an%x00%at%x00%ct%x00%B%x00"


def read_log(
    path: Path,
    *,
    revisions: Sequence[str] = ("--all",),
    progress: Callable[[int], None] | None = None,
) -> Iterator[Commit]:
    """Stream every commit of `revisions` from one `git log` process (no diffs)."""
    args = ["git", "-C", str(path), "log", f"--format={_LOG_FORMAT}", *revisions, "--"]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "LC_ALL": "C"}
    )
    assert proc.stdout is not None
    tail = b""
    count = 0
    try:
        while chunk := proc.stdout.read(1 << 20):
            buffer = tail + chunk
            cut = buffer.rfind(b"\x1e")  # complete commits before it, the next one after
            if cut <= 0:
                tail = buffer
                continue
            commits = _commits(buffer[:cut])
            tail = buffer[cut:]
            yield from commits
            count += len(commits)
            if progress:
                progress(count)
        if tail:
            commits = _commits(tail)
            yield from commits
            if progress:
                progress(count + len(commits))
    finally:
        proc.stdout.close()
        err = ""
        if proc.stderr:
            err = proc.stderr.read().decode("utf-8", "replace")
            proc.stderr.close()
        if proc.wait() != 0 and err:
            raise GitError(f"git log failed in {path}: {err.strip()}")


def _commits(raw: bytes) -> list[Commit]:
    """Commits from whole records of `git log --format=_LOG_FORMAT` output: six NUL-ended
    fields each (a commit message cannot hold a NUL), parsed in one pass over the text."""
    fields = iter(raw.decode("utf-8", "replace").split("\0"))
    return [
        Commit(
            sha.lstrip("\n\x1e"),
            tuple(parents.split()),
            author,
            int(authored),
            int(committed),
            message.strip(),
        )
        # zip stops at the newline git writes after the last record's final NUL
        for sha, parents, author, authored, committed, message in zip(
            fields, fields, fields, fields, fields, fields, strict=False
        )
    ]


def read_sizes(
    path: Path, shas: Sequence[str], *, walk: str = "--first-parent", workers: int = 1
) -> dict[str, tuple[int, int, int]]:
    """(files, additions, deletions) of commits: those on the first-parent chains from `shas`,
    or with walk="--no-walk" just `shas`. A merge's size is its diff against the first
    parent, like a pull request's.

    Diffs are the slowest thing git does, so a first-parent walk can be shared by `workers`
    git processes: each walks the same commits in the same order and diffs only its own
    stretch of them (--skip, --max-count)."""
    if not shas:
        return {}
    if workers < 2 or walk != "--first-parent":
        return _numstat(path, shas, [walk])
    counted = subprocess.run(
        ["git", "-C", str(path), "rev-list", "--first-parent", "--count", "--stdin"],
        input="\n".join(shas) + "\n",
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    if counted.returncode != 0:
        raise GitError(f"git rev-list --count failed in {path}: {counted.stderr.strip()}")
    share = -(-int(counted.stdout) // workers)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        parts = pool.map(
            lambda i: _numstat(path, shas, [walk, f"--skip={i * share}", f"--max-count={share}"]),
            range(workers),
        )
        sizes: dict[str, tuple[int, int, int]] = {}
        for part in parts:
            sizes.update(part)
    return sizes


def _numstat(path: Path, shas: Sequence[str], walk: list[str]) -> dict[str, tuple[int, int, int]]:
    args = [
        "git",
        "-C",
        str(path),
        "-c",
        "core.quotepath=off",
        "log",
        "--format=%x1e%H%x00",
        "--numstat",
        "--diff-merges=first-parent",
        "--no-renames",
        *walk,
        "--stdin",
        "--",
    ]
    done = subprocess.run(
        args,
        input="\n".join(shas).encode() + b"\n",
        capture_output=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    if done.returncode != 0:
        raise GitError(
            f"git log --numstat failed in {path}: {done.stderr.decode('utf-8', 'replace').strip()}"
        )
    sizes = {}
    for part in done.stdout.split(b"\x1e")[1:]:
        sha, stats = part.split(b"\0", 1)
        files = additions = deletions = 0
        for line in stats.splitlines():
            if line:
                added, deleted, _ = line.split(b"\t", 2)
                files += 1
                additions += int(added) if added != b"-" else 0  # "-" marks a binary file
                deletions += int(deleted) if deleted != b"-" else 0
        sizes[sha.decode()] = (files, additions, deletions)
    return sizes


def resolve_commit(path: Path, prefix: str) -> str | None:
    """The commit an abbreviated sha names; None when none does, or several."""
    found = _git(path, "rev-parse", "--verify", "-q", f"{prefix}^{{commit}}", check=False)
    return found.strip() or None


def is_ancestor(path: Path, old: str, new: str) -> bool:
    """Whether `old` is `new` or one of its ancestors (False when either is unknown)."""
    done = subprocess.run(
        ["git", "-C", str(path), "merge-base", "--is-ancestor", old, new], capture_output=True
    )
    return done.returncode == 0


def commits_between(path: Path, tip: str, excluded: Sequence[str]) -> list[str]:
    """Commits `tip` contains and none of `excluded` does (`git rev-list tip ^excluded…`)."""
    revisions = "\n".join([tip, *(f"^{sha}" for sha in excluded)]) + "\n"
    return _git(path, "rev-list", "--stdin", input=revisions).split()


def main_line_tips(refs: Refs, tags: Sequence[Tag]) -> list[str]:
    """Where the main line starts: the main branch and every release tag. Only commits on
    their first-parent chains become changes, so only those need a diff."""
    return sorted({refs.head or "", *(t.sha for t in tags)} - {""})


# -- which tags are releases ----------------------------------------------------------------

_VERSION = re.compile(
    r"^(?:[A-Za-z][\w.+-]*?[-_/@])?v?(?P<core>\d+(?:\.\d+)+)"
    r"(?P<suffix>(?:[-._+]?[A-Za-z]+[-._]?\d*)*)$"
)
_PRE = re.compile(
    r"(?:^|[-._+\d])(a|b|c|rc|alpha|beta|pre|preview|dev|snapshot|nightly|canary)(?:[-._]?\d*)$|"
    r"(?:^|[-._+\d])(a|b|c|rc|alpha|beta|pre|preview|dev|snapshot|nightly|canary)[-._]?\d*[-._+]",
    re.IGNORECASE,
)
_POST = re.compile(r"^[-._+]?(post|final|release|ga|lts)[-._]?\d*$", re.IGNORECASE)


def release_kind(name: str) -> str | None:
    """'release', 'prerelease', or None when the tag does not look like a version at all."""
    m = _VERSION.match(name)
    if not m:
        return None
    suffix = m["suffix"]
    if not suffix or _POST.match(suffix):
        return "release"
    if _PRE.search(suffix):
        return "prerelease"
    return None


@dataclass(frozen=True, slots=True)
class TagRule:
    pattern: str | None = None  # a glob (v*), or a regular expression prefixed with re:
    prereleases: bool = False

    def describe(self) -> str:
        what = self.pattern or "release-like version tags (v1.2.3, 1.2, release-1.2)"
        return what + ("" if self.prereleases else ", pre-releases excluded")

    def matches(self, name: str) -> tuple[bool, bool]:
        """(matches the pattern, and is a pre-release that is being left out)."""
        kind = release_kind(name)
        if self.pattern is None:
            matched = kind is not None
        elif self.pattern.startswith("re:"):
            matched = re.search(self.pattern[3:], name) is not None
        else:
            matched = fnmatch.fnmatchcase(name, self.pattern)
        if matched and kind == "prerelease" and not self.prereleases:
            return True, True
        return matched, False


def select_tags(tags: list[Tag], rule: TagRule) -> list[Tag]:
    """Release tags in time order; one deployment per commit (the earliest tag on it)."""
    if rule.pattern and rule.pattern.startswith("re:"):
        try:
            re.compile(rule.pattern[3:])
        except re.error as error:
            raise GitError(
                f"--deploy-tags {rule.pattern!r} is not a valid regular expression: {error}"
            ) from None
    chosen: dict[str, Tag] = {}
    skipped_pre = []
    for tag in sorted(tags, key=lambda t: (t.time, t.name)):
        matched, pre = rule.matches(tag.name)
        if pre:
            skipped_pre.append(tag.name)
        elif matched and tag.sha not in chosen:
            chosen[tag.sha] = tag
    if not chosen:
        if not tags:
            raise GitError(
                "the repository has no tags, so no deployments can be found; tag your "
                "releases (git tag -a v1.0.0) or import changes only with --no-deployments"
            )
        sample = ", ".join(t.name for t in sorted(tags, key=lambda t: -t.time)[:8])
        hint = (
            (
                f"; {len(skipped_pre)} pre-release tag(s) matched but are left out, add --prereleases "
                "to count them"
            )
            if skipped_pre
            else ""
        )
        raise GitError(
            f"no tag matches {rule.describe()}{hint}; the repository's newest tags are: "
            f"{sample}; pass --deploy-tags with a glob such as 'v*' or 're:^release-'"
        )
    return sorted(chosen.values(), key=lambda t: (t.time, t.name))


# -- deriving changes, deployments, failures ------------------------------------------------

_PR_MERGE = re.compile(r"^Merge pull request #(\d+) from (\S+)")
_MR_MERGE = re.compile(r"See merge request (?:\S+)?!(\d+)")
_BITBUCKET = re.compile(r"\(pull request #(\d+)\)")
_SQUASH = re.compile(r"^(.*\S)\s+\(#(\d+)\)$")
_REVERTS = re.compile(r"This reverts commit ([0-9a-f]{7,40})")
_REVERT_TITLE = re.compile(r'^Revert "(.*)"')
_SHORT = 12


@dataclass
class Options:
    service: str
    repository: str
    team: str | None = None
    environment: str = "production"
    tags: TagRule = field(default_factory=TagRule)
    deployments: bool = True


@dataclass
class Derived:
    service: Service
    changes: list[Change]
    deployments: list[Deployment]
    failed: dict[str, str]  # failed deployment id -> id of the revert that shows it
    undeployed: int = 0

    def records(self) -> Iterator[Service | Change | Deployment]:
        yield self.service
        yield from self.deployments
        yield from self.changes


def release_tags(refs: Refs, opts: Options) -> list[Tag]:
    return select_tags(refs.tags, opts.tags) if opts.deployments else []


def undeployed_ref(repository: str) -> str:
    """A deployment_ref meaning "git says no release contains this yet": it names no
    deployment, so linking leaves the change unshipped instead of guessing by time."""
    return record_id(SOURCE, f"{repository}/undeployed")


def _time(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


Sizes = Mapping[str, tuple[int, int, int]]  # sha -> (files, additions, deletions)


def derive(
    commits: dict[str, Commit],
    refs: Refs,
    opts: Options,
    sizes: Callable[[], Sizes] | None = None,
) -> Derived:
    """Canonical records from a history snapshot. Pure: same history, same records.

    Sizes come from `sizes`, asked for only once everything else is derived, so that diffs
    computed by other processes can finish meanwhile; without it, sizes are left unknown."""
    repo = opts.repository
    tags = [t for t in release_tags(refs, opts) if t.sha in commits]
    mainline, on_main, _ = _main_line(commits, [refs.head, *(t.sha for t in tags)])
    owner, members = _owners(commits, mainline, on_main)

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

    changes, by_number = _main_line_changes(commits, mainline, members, first_tag)

    def change_of(sha: str) -> str | None:
        main = owner.get(sha)
        return main if main in changes else None

    reverts = _revert_links(
        [commits[s] for s in owner],
        change_of,
        lambda prefix: _expand(prefix, commits),
        by_number.get,
        (),
    )
    times = {deployment_id(repo, t): t.time for t in tags}
    failed, recovers = _failures(
        [(sha, target, commits[sha].committed) for sha, target in reverts.items()],
        lambda sha: changes[sha].deployment,
        times.__getitem__,
    )
    nowhere = undeployed_ref(repo)
    sized = sizes() if sizes else {}
    out = [
        _change(opts, commits[sha], info, reverts.get(sha), nowhere, sized.get(sha))
        for sha, info in changes.items()
    ]
    return Derived(
        Service(name=opts.service, team=opts.team, repository=repo),
        out,
        [_deployment(opts, t, recovers.get(deployment_id(repo, t))) for t in tags],
        {dep: record_id(SOURCE, f"{repo}/{sha}") for dep, sha in failed.items()},
        undeployed=sum(1 for c in changes.values() if c.deployment is None),
    )


class NeedsFullImport(Exception):
    """The repository moved in a way an import of only what is new cannot follow (a main
    branch that no longer continues from the last import, a tag on commits an earlier change
    owns, a revert of a commit inside an earlier pull request): derive everything again."""


@dataclass(frozen=True, slots=True)
class Stored:
    """A change an earlier import wrote, as far as linking new history to it needs."""

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
        """The stored change with pull request `number` (the first merged)."""
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

    def records(self) -> Iterator[Service | Change | Deployment]:
        yield self.service
        yield from self.deployments
        yield from self.added
        yield from self.relinked


def derive_since(
    commits: dict[str, Commit], refs: Refs, opts: Options, previous: Previous
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
    mainline, on_main, stops = _main_line(commits, [refs.head, *(t.sha for t in new_tags)])
    if previous.head and stops[0] != previous.head:
        raise NeedsFullImport("the main branch does not continue from the last import")
    released = {sha for sha, _ in previous.deployments.values()}
    joins = {s for s in stops[1:] if s} - released - {previous.head}
    if joins - set(previous.changes(joins)):
        raise NeedsFullImport("a new release tag's first-parent chain runs through old commits")
    owner, members = _owners(commits, mainline, on_main)

    # Earliest release: a new tag ships what it contains and no earlier tag does, new
    # commits and old ones alike (a tag added later on old commits).
    shipped: dict[str, str] = {}
    for i, tag in enumerate(tags):
        if (dep_id := deployment_id(repo, tag)) in new_ids:
            for sha in previous.first_contained_by(tag, tags[:i]):
                shipped.setdefault(sha, dep_id)
    stored = previous.changes([s for s in shipped if s not in commits])
    changes, by_number = _main_line_changes(commits, mainline, members, shipped)

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
    reverts = _revert_links(
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

    failed, recovers = _failures(links, deployment_of, lambda d: by_id[d].time)
    deployments = [_deployment(opts, t, recovers.get(deployment_id(repo, t))) for t in new_tags]
    cleared = []
    for dep_id, (_, had) in previous.deployments.items():
        if recovers.get(dep_id) != had:
            if recovers.get(dep_id) is None:
                cleared.append(dep_id)
            else:
                deployments.append(_deployment(opts, by_id[dep_id], recovers[dep_id]))
    nowhere = undeployed_ref(repo)
    return Delta(
        Service(name=opts.service, team=opts.team, repository=repo),
        [
            _change(opts, commits[s], info, reverts.get(s), nowhere, None)
            for s, info in changes.items()
        ],
        [
            Change(
                source=SOURCE,
                source_id=f"{repo}/{sha}",
                service=opts.service,
                repository=repo,
                is_revert=change.reverts is not None,
                deployment_ref=shipped[sha],
            )
            for sha, change in stored.items()
            if change.deployment != shipped[sha]
        ],
        deployments,
        cleared,
        {dep: record_id(SOURCE, f"{repo}/{sha}") for dep, sha in failed.items()},
    )


def deployment_id(repository: str, tag: Tag) -> str:
    return record_id(SOURCE, f"{repository}/tag/{tag.name}")


def _main_line(
    commits: dict[str, Commit], tips: Sequence[str | None]
) -> tuple[list[str], set[str], list[str | None]]:
    """The first-parent chains from `tips` (oldest first within each chain, so earlier merges
    own shared commits), and for each tip the commit outside `commits` its chain ran into."""
    mainline: list[str] = []
    on_main: set[str] = set()
    stops: list[str | None] = []
    for tip in tips:
        chain = []
        sha = tip
        while sha and sha not in on_main and sha in commits:
            on_main.add(sha)
            chain.append(sha)
            parents = commits[sha].parents
            sha = parents[0] if parents else None
        stops.append(sha if sha and sha not in on_main else None)
        mainline.extend(reversed(chain))
    return mainline, on_main, stops


def _owners(
    commits: dict[str, Commit], mainline: list[str], on_main: set[str]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each main-line commit is a change; a merge also owns the branch commits it brought in."""
    owner: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for sha in mainline:
        owner[sha] = sha
        brought: list[str] = []
        stack = list(commits[sha].parents[1:])
        while stack:
            c = stack.pop()
            if c in on_main or c in owner or c not in commits:
                continue
            owner[c] = sha
            brought.append(c)
            stack.extend(commits[c].parents)
        members[sha] = brought
    return owner, members


@dataclass(slots=True)
class _Info:
    number: int | None
    title: str
    author: str
    first: int
    deployment: str | None


def _main_line_changes(
    commits: dict[str, Commit],
    mainline: list[str],
    members: dict[str, list[str]],
    shipped: dict[str, str],
) -> tuple[dict[str, _Info], dict[int, str]]:
    changes: dict[str, _Info] = {}
    by_number: dict[int, str] = {}
    for sha in mainline:
        commit = commits[sha]
        number, title, author, first = _describe(commit, [commits[c] for c in members[sha]])
        if len(commit.parents) > 1 and number is None and not members[sha]:
            continue  # a merge that brought nothing new (syncing branches) is not a change
        if number is not None:
            by_number.setdefault(number, sha)
        changes[sha] = _Info(number, title, author, first, shipped.get(sha))
    return changes, by_number


def _revert_links(
    candidates: list[Commit],
    change_of: Callable[[str], str | None],
    expand: Callable[[str], str | None],
    number: Callable[[int], str | None],
    earlier: Collection[str],
) -> dict[str, str]:
    """Reverting change -> reverted change, among `candidates` (commits owned by changes).
    `earlier` holds reverting changes found before, so that reverting one is a reland."""
    reverts: dict[str, str] = {}
    for commit in sorted(
        (c for c in candidates if "Revert" in c.message or "revert" in c.message),
        key=lambda c: c.committed,
    ):
        mine = change_of(commit.sha)
        if mine is None or mine in reverts:
            continue
        target = _reverted(commit, expand, number, change_of)
        if target is None or target == mine:
            continue
        if target in reverts or target in earlier:  # reverting a revert: a reland, not a failure
            continue
        reverts[mine] = target
    return reverts


def _failures(
    reverts: list[tuple[str, str, int]],
    deployment_of: Callable[[str], str | None],
    deployed_at: Callable[[str], int],
) -> tuple[dict[str, str], dict[str, str]]:
    """(failed deployment -> first revert showing it, recovering deployment -> the failed one)
    from (revert, reverted change, revert's commit time) triples."""
    failed: dict[str, str] = {}
    recovers: dict[str, str] = {}
    for revert, target, committed in sorted(reverts, key=lambda r: r[2]):
        shipped = deployment_of(target)
        if shipped is None:
            continue  # reverted before any release contained it: nobody saw it fail
        if committed < deployed_at(shipped):
            continue
        failed.setdefault(shipped, revert)
        fix = deployment_of(revert)
        if fix is not None and fix != shipped:
            recovers.setdefault(fix, shipped)
    return failed, recovers


def _deployment(opts: Options, tag: Tag, recovers: str | None) -> Deployment:
    return Deployment(
        source=SOURCE,
        source_id=f"{opts.repository}/tag/{tag.name}",
        service=opts.service,
        finished_at=_time(tag.time),
        environment=opts.environment,
        sha=tag.sha,
        version=tag.name,
        trigger="tag",
        recovers=recovers,
    )


def _change(
    opts: Options,
    commit: Commit,
    info: _Info,
    reverts: str | None,
    nowhere: str,
    size: tuple[int, int, int] | None,
) -> Change:
    repo = opts.repository
    files, additions, deletions = size or (None, None, None)
    return Change(
        source=SOURCE,
        source_id=f"{repo}/{commit.sha}",
        service=opts.service,
        repository=repo,
        author=info.author,
        number=info.number,
        title=info.title[:500],
        first_commit_at=_time(info.first),
        merged_at=_time(commit.committed),
        merge_sha=commit.sha,
        additions=additions,
        deletions=deletions,
        files=files,
        is_revert=reverts is not None,
        reverts=record_id(SOURCE, f"{repo}/{reverts}") if reverts is not None else None,
        deployment_ref=info.deployment or nowhere,
    )


def _describe(commit: Commit, brought: list[Commit]) -> tuple[int | None, str, str, int]:
    """(PR number, title, author, first commit time) of a main-line commit."""
    subject = commit.subject
    first, author = commit.authored, commit.author
    if brought:
        earliest = min(brought, key=lambda c: c.authored)
        first, author = min(first, earliest.authored), earliest.author
    if m := _PR_MERGE.match(subject):
        return int(m[1]), _body_title(commit) or subject, author, first
    if len(commit.parents) > 1 and (m := _MR_MERGE.search(commit.message)):
        return int(m[1]), _body_title(commit) or subject, author, first
    if m := _BITBUCKET.search(subject):
        return int(m[1]), subject, author, first
    if len(commit.parents) == 1 and (m := _SQUASH.match(subject)):
        return int(m[2]), m[1], commit.author, first
    return None, subject, author, first


def _body_title(commit: Commit) -> str:
    """The first line of the message body (a merge's pull request title)."""
    body = commit.message.split("\n", 1)[1].strip() if "\n" in commit.message else ""
    return body.split("\n", 1)[0].strip()


def _reverted(
    commit: Commit,
    expand: Callable[[str], str | None],
    number: Callable[[int], str | None],
    change_of: Callable[[str], str | None],
) -> str | None:
    """The change a commit reverts: by the sha git writes, else by the PR number in the title."""
    for sha in _REVERTS.findall(commit.message):
        full = sha if len(sha) == 40 else expand(sha)
        if full and (target := change_of(full)):
            return target
    if m := _REVERT_TITLE.match(commit.subject):
        inner = m[1]
        for pattern in (_SQUASH, _PR_MERGE):
            if (n := pattern.search(inner)) and (
                found := number(int(n[2] if pattern is _SQUASH else n[1]))
            ):
                return found
    return None


def _expand(prefix: str, commits: dict[str, Commit]) -> str | None:
    found = [s for s in commits if s.startswith(prefix)]
    return found[0] if len(found) == 1 else None


__all__ = [
    "SOURCE",
    "Commit",
    "Delta",
    "Derived",
    "GitError",
    "NeedsFullImport",
    "Options",
    "Previous",
    "Refs",
    "Sizes",
    "Stored",
    "Tag",
    "TagRule",
    "commits_between",
    "deployment_id",
    "derive",
    "derive_since",
    "is_ancestor",
    "main_line_tips",
    "open_repository",
    "read_log",
    "read_refs",
    "read_sizes",
    "release_kind",
    "resolve_commit",
    "select_tags",
    "undeployed_ref",
]
