"""Change sizes (files, additions, deletions): `git log --numstat` over the main line only.

Diffs are the slowest thing git does, and only main-line commits become changes, so only
they are diffed, in processes that run while the history is read and derived.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from headway.sources.git.history import GitError, Refs, Tag

Sizes = Mapping[str, tuple[int, int, int]]  # sha -> (files, additions, deletions)


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


def main_line_tips(refs: Refs, tags: Sequence[Tag]) -> list[str]:
    """Where the main line starts: the main branch and every release tag. Only commits on
    their first-parent chains become changes, so only those need a diff."""
    return sorted({refs.head or "", *(t.sha for t in tags)} - {""})
