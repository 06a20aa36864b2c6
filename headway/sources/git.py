"""Delivery history from a git repository: changes, deployments (release tags), failures.

Reading is two git processes: `git for-each-ref` for the refs and one streaming `git log`
(NUL-separated fields, `--numstat`) for the commits. Everything else is pure Python over
that snapshot (`derive`): pull requests from merge and squash commits, the earliest release
tag containing each change (one walk of the commit graph), and reverts of shipped changes.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

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
    files: int | None = None
    additions: int | None = None
    deletions: int | None = None

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


def _git(repo: Path, *args: str, check: bool = True) -> str:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args],
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
    numstat: bool = True,
    revisions: Sequence[str] = ("--all",),
    progress: Callable[[int], None] | None = None,
) -> Iterator[Commit]:
    """Stream every commit of `revisions` from one `git log` process."""
    args = ["git", "-C", str(path), "-c", "core.quotepath=off", "log", f"--format={_LOG_FORMAT}"]
    if numstat:
        # A merge's size is its diff against the main line (first parent), like a PR's.
        args += ["--numstat", "--diff-merges=first-parent", "--no-renames"]
    args += [*revisions, "--"]
    proc = subprocess.Popen(
        args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "LC_ALL": "C"}
    )
    assert proc.stdout is not None
    tail = b""
    count = 0
    try:
        while chunk := proc.stdout.read(1 << 20):
            parts = (tail + chunk).split(b"\x1e")
            tail = parts.pop()
            for part in parts:
                if part:
                    yield _commit(part, numstat)
                    count += 1
            if progress:
                progress(count)
        if tail:
            yield _commit(tail, numstat)
            count += 1
            if progress:
                progress(count)
    finally:
        proc.stdout.close()
        err = ""
        if proc.stderr:
            err = proc.stderr.read().decode("utf-8", "replace")
            proc.stderr.close()
        if proc.wait() != 0 and err:
            raise GitError(f"git log failed in {path}: {err.strip()}")


def read_sizes(
    path: Path, shas: Sequence[str], *, walk: str = "--first-parent"
) -> dict[str, tuple[int, int, int]]:
    """(files, additions, deletions) of commits: those on the first-parent chains from `shas`,
    or with walk="--no-walk" just `shas`. A merge's size is its diff against the first
    parent, like a pull request's."""
    if not shas:
        return {}
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
        walk,
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


def main_line_tips(refs: Refs, tags: Sequence[Tag]) -> list[str]:
    """Where the main line starts: the main branch and every release tag. Only commits on
    their first-parent chains become changes, so only those need a diff."""
    return sorted({refs.head or "", *(t.sha for t in tags)} - {""})


def _commit(raw: bytes, numstat: bool) -> Commit:
    sha, parents, author, authored, committed, message, stats = raw.decode(
        "utf-8", "replace"
    ).split("\0", 6)
    commit = Commit(
        sha, tuple(parents.split()), author, int(authored), int(committed), message.strip()
    )
    if numstat:
        files = additions = deletions = 0
        for line in stats.splitlines():
            if not line:
                continue
            added, deleted, _ = line.split("\t", 2)
            files += 1
            additions += int(added) if added != "-" else 0  # "-" marks a binary file
            deletions += int(deleted) if deleted != "-" else 0
        commit.files, commit.additions, commit.deletions = files, additions, deletions
    return commit


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


def derive(commits: dict[str, Commit], refs: Refs, opts: Options) -> Derived:
    """Canonical records from a history snapshot. Pure: same history, same records."""
    repo = opts.repository
    tags = [t for t in release_tags(refs, opts) if t.sha in commits]

    # The main line: first-parent chains of the main branch and of every release tag (so
    # fixes made on release branches are changes too).
    mainline: list[str] = []
    on_main: set[str] = set()
    for tip in [refs.head, *(t.sha for t in tags)]:
        chain = []
        sha = tip
        while sha and sha not in on_main and sha in commits:
            on_main.add(sha)
            chain.append(sha)
            parents = commits[sha].parents
            sha = parents[0] if parents else None
        mainline.extend(reversed(chain))  # oldest first: earlier merges own shared commits

    # Each main-line commit is a change; a merge also owns the branch commits it brought in.
    owner: dict[str, str] = {}
    members: dict[str, list[str]] = {}
    for sha in mainline:
        commit = commits[sha]
        owner[sha] = sha
        brought: list[str] = []
        stack = list(commit.parents[1:])
        while stack:
            c = stack.pop()
            if c in on_main or c in owner or c not in commits:
                continue
            owner[c] = sha
            brought.append(c)
            stack.extend(commits[c].parents)
        members[sha] = brought

    # Earliest release containing each commit: walk from each tag in time order, stopping at
    # commits an earlier tag already reached (their ancestors are all reached too).
    first_tag: dict[str, int] = {}
    for i, tag in enumerate(tags):
        stack = [tag.sha]
        while stack:
            c = stack.pop()
            if c in first_tag or c not in commits:
                continue
            first_tag[c] = i
            stack.extend(commits[c].parents)
    dep_ids = [record_id(SOURCE, f"{repo}/tag/{t.name}") for t in tags]

    changes: dict[str, dict[str, object]] = {}
    by_number: dict[int, str] = {}
    for sha in mainline:
        commit = commits[sha]
        number, title, author, first = _describe(commit, [commits[c] for c in members[sha]])
        if len(commit.parents) > 1 and number is None and not members[sha]:
            continue  # a merge that brought nothing new (syncing branches) is not a change
        if number is not None:
            by_number.setdefault(number, sha)
        shipped_by = first_tag.get(sha)
        changes[sha] = {
            "number": number,
            "title": title,
            "author": author,
            "first": first,
            "deployment": dep_ids[shipped_by] if shipped_by is not None else None,
        }

    def change_of(sha: str) -> str | None:
        main = owner.get(sha)
        return main if main in changes else None

    # Reverts, oldest first so that reverting a revert (a reland) is recognised as such.
    reverts: dict[str, str] = {}
    for sha in sorted(
        (s for s in owner if "Revert" in commits[s].message or "revert" in commits[s].message),
        key=lambda s: commits[s].committed,
    ):
        mine = change_of(sha)
        if mine is None or mine in reverts:
            continue
        target = _reverted(commits[sha], commits, by_number, change_of)
        if target is None or target == mine:
            continue
        if target in reverts:  # reverting a revert puts the change back: not a failure
            continue
        reverts[mine] = target

    deployments = {
        dep_ids[i]: Deployment(
            source=SOURCE,
            source_id=f"{repo}/tag/{t.name}",
            service=opts.service,
            finished_at=_time(t.time),
            environment=opts.environment,
            sha=t.sha,
            version=t.name,
            trigger="tag",
        )
        for i, t in enumerate(tags)
    }
    failed: dict[str, str] = {}
    recovers: dict[str, str] = {}
    for revert, target in sorted(reverts.items(), key=lambda kv: commits[kv[0]].committed):
        shipped = changes[target]["deployment"]
        if shipped is None:
            continue  # reverted before any release contained it: nobody saw it fail
        if commits[revert].committed < deployments[str(shipped)].finished_at.timestamp():
            continue
        failed.setdefault(str(shipped), record_id(SOURCE, f"{repo}/{revert}"))
        fix = changes[revert]["deployment"]
        if fix is not None and fix != shipped:
            recovers.setdefault(str(fix), str(shipped))
    for dep_id, failed_id in recovers.items():
        d = deployments[dep_id]
        deployments[dep_id] = Deployment(
            source=d.source,
            source_id=d.source_id,
            service=d.service,
            finished_at=d.finished_at,
            environment=d.environment,
            sha=d.sha,
            version=d.version,
            trigger=d.trigger,
            recovers=failed_id,
        )

    nowhere = undeployed_ref(repo)
    out: list[Change] = []
    for sha, info in changes.items():
        commit = commits[sha]
        out.append(
            Change(
                source=SOURCE,
                source_id=f"{repo}/{sha}",
                service=opts.service,
                repository=repo,
                author=str(info["author"]),
                number=info["number"],  # type: ignore[arg-type]
                title=str(info["title"])[:500],
                first_commit_at=_time(int(info["first"])),  # type: ignore[call-overload]
                merged_at=_time(commit.committed),
                merge_sha=sha,
                additions=commit.additions,
                deletions=commit.deletions,
                files=commit.files,
                is_revert=sha in reverts,
                reverts=record_id(SOURCE, f"{repo}/{reverts[sha]}") if sha in reverts else None,
                deployment_ref=str(info["deployment"]) if info["deployment"] else nowhere,
            )
        )
    service = Service(name=opts.service, team=opts.team, repository=repo)
    return Derived(
        service,
        out,
        list(deployments.values()),
        failed,
        undeployed=sum(1 for c in changes.values() if c["deployment"] is None),
    )


def _describe(commit: Commit, brought: list[Commit]) -> tuple[int | None, str, str, int]:
    """(PR number, title, author, first commit time) of a main-line commit."""
    subject = commit.subject
    body = commit.message.split("\n", 1)[1].strip() if "\n" in commit.message else ""
    first = min([c.authored for c in brought] + [commit.authored])
    author = min(brought, key=lambda c: c.authored).author if brought else commit.author
    if m := _PR_MERGE.match(subject):
        return int(m[1]), body.split("\n", 1)[0].strip() or subject, author, first
    if len(commit.parents) > 1 and (m := _MR_MERGE.search(commit.message)):
        title = body.split("\n", 1)[0].strip() or subject
        return int(m[1]), title, author, first
    if m := _BITBUCKET.search(subject):
        return int(m[1]), subject, author, first
    if len(commit.parents) == 1 and (m := _SQUASH.match(subject)):
        return int(m[2]), m[1], commit.author, first
    return None, subject, author, first


def _reverted(
    commit: Commit,
    commits: dict[str, Commit],
    by_number: dict[int, str],
    change_of: Callable[[str], str | None],
) -> str | None:
    """The change a commit reverts: by the sha git writes, else by the PR number in the title."""
    for sha in _REVERTS.findall(commit.message):
        full = sha if len(sha) == 40 else _expand(sha, commits)
        if full and (target := change_of(full)):
            return target
    if m := _REVERT_TITLE.match(commit.subject):
        inner = m[1]
        for pattern in (_SQUASH, _PR_MERGE):
            if (n := pattern.search(inner)) and (
                number := int(n[2] if pattern is _SQUASH else n[1])
            ) in by_number:
                return by_number[number]
    return None


def _expand(prefix: str, commits: dict[str, Commit]) -> str | None:
    found = [s for s in commits if s.startswith(prefix)]
    return found[0] if len(found) == 1 else None


__all__ = [
    "SOURCE",
    "Commit",
    "Derived",
    "GitError",
    "Options",
    "Refs",
    "Tag",
    "TagRule",
    "derive",
    "main_line_tips",
    "open_repository",
    "read_log",
    "read_refs",
    "read_sizes",
    "release_kind",
    "select_tags",
    "undeployed_ref",
]
