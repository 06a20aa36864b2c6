"""Reading a repository: its refs, its commits (one streaming `git log`), single lookups.

Every call here runs git; everything that interprets what it returns is elsewhere in the
package and pure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from headway.values import sha_problem


class GitError(ValueError):
    """A repository or option that cannot be imported, with what to do about it."""


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
        return self.message.partition("\n")[0].strip()


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


LOG_FORMAT = "%x1e%H%x00%P%x00%an%x00%at%x00%ct%x00%B%x00"


def read_log(
    path: Path,
    *,
    excluded: Sequence[str] = (),
    progress: Callable[[int], None] | None = None,
) -> Iterator[Commit]:
    """Stream every commit of every ref, except those `excluded` commits reach, from one
    `git log` process (no diffs)."""
    count = 0
    # Revisions after --end-of-options, each with its ^: no value can be taken as an option.
    revisions = [f"^{commit_id(sha)}" for sha in excluded]
    args = ["log", f"--format={LOG_FORMAT}", "--all", "--end-of-options", *revisions, "--"]
    for block in stream_records(path, args):
        commits = _commits(block)
        yield from commits
        count += len(commits)
        if progress:
            progress(count)


def stream_records(path: Path, args: Sequence[str], stdin: bytes | None = None) -> Iterator[bytes]:
    """Run git with `args` and yield its output, as it arrives, in blocks of whole records,
    each starting with \\x1e (the format's first byte; commit messages do not use it).
    `stdin`, when given, is written to git first (revisions for --stdin)."""
    proc = subprocess.Popen(
        ["git", "-C", str(path), *args],
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert proc.stdout is not None
    try:
        if proc.stdin is not None:
            proc.stdin.write(stdin or b"")  # git reads all of it before it writes anything
            proc.stdin.close()
        tail = b""
        # Blocks of 64 KiB: small enough to be taken as git writes, large enough that the
        # work per block is small (git writes a pipe a commit at a time).
        while chunk := proc.stdout.read(1 << 16):
            buffer = tail + chunk
            cut = buffer.rfind(b"\x1e")  # complete records before it, the next one after
            if cut <= 0:
                tail = buffer
                continue
            tail = buffer[cut:]
            yield buffer[:cut]
        if tail:
            yield tail
    finally:
        proc.stdout.close()
        err = ""
        if proc.stderr:
            err = proc.stderr.read().decode("utf-8", "replace")
            proc.stderr.close()
        if proc.wait() != 0 and err:
            raise GitError(f"git {args[0]} failed in {path}: {err.strip()}")


def _commits(raw: bytes) -> list[Commit]:
    """Commits from whole records of `git log --format=LOG_FORMAT` output: six NUL-ended
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


def commit_id(sha: str) -> str:
    """`sha` when it is a commit id (7 to 40 hexadecimal digits); GitError otherwise.

    Every commit id given to git passes here, whatever it was read from (the store, a
    payload, git itself), so no value can reach a git command line as anything else."""
    if (problem := sha_problem(sha)) is not None:
        raise GitError(f"refusing to give git {sha!r}: expected {problem}")
    return sha


def resolve_commit(path: Path, prefix: str) -> str | None:
    """The commit an abbreviated sha names; None when none does, or several (or when
    `prefix` is not hexadecimal)."""
    if sha_problem(prefix) is not None:
        return None
    found = _git(
        path, "rev-parse", "--verify", "-q", "--end-of-options", f"{prefix}^{{commit}}", check=False
    )
    return found.strip() or None


def remote_url(path: Path, remote: str = "origin") -> str | None:
    """The URL of a remote; None when the repository has no such remote."""
    found = _git(path, "config", "--get", "--", f"remote.{remote}.url", check=False)
    return found.strip() or None


def is_ancestor(path: Path, old: str, new: str) -> bool:
    """Whether `old` is `new` or one of its ancestors (False when either is unknown)."""
    command = ["merge-base", "--is-ancestor", "--end-of-options", commit_id(old), commit_id(new)]
    done = subprocess.run(["git", "-C", str(path), *command], capture_output=True)
    return done.returncode == 0


def commits_between(path: Path, tip: str, excluded: Sequence[str]) -> list[str]:
    """Commits `tip` contains and none of `excluded` does (`git rev-list tip ^excluded…`)."""
    # (read from stdin, where git refuses anything that looks like an option)
    revisions = "\n".join([commit_id(tip), *(f"^{commit_id(sha)}" for sha in excluded)]) + "\n"
    return _git(path, "rev-list", "--stdin", input=revisions).split()
