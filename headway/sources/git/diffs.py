"""Change sizes (files, additions, deletions): `git log --numstat` over the main line only.

Diffs are the slowest thing git does, and only main-line commits become changes, so only
they are diffed, in processes that start before the history is read and whose sizes are
taken block by block as git writes them, so records are built and written meanwhile.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Generator, Iterator, Mapping, Sequence
from pathlib import Path

from headway.sources.git.history import Tag, commit_id, stream_records

Sizes = Mapping[str, tuple[int, int, int]]  # sha -> (files, additions, deletions)


def main_line_tips(head: str | None, tags: Sequence[Tag]) -> list[str]:
    """Where the main line starts: the main branch and every release tag. Only commits on
    their first-parent chains become changes, so only those need a diff."""
    return sorted({head or "", *(t.sha for t in tags)} - {""})


def main_line_walks(head: str | None, tags: Sequence[Tag], parts: int) -> list[list[str]]:
    """Revisions for `parts` first-parent walks that between them cover the main line (for
    `git log --stdin`): the release tags, in time order, split into `parts` runs; each walk
    starts from its run's tags (the last from the main branch too) and stops at the newest
    tag of the run before, which it excludes with all its ancestors. So no commit is walked
    twice, and the walks need not be counted first."""
    parts = max(1, min(parts, len(tags) + 1))
    if parts == 1:
        return [main_line_tips(head, tags)]
    # run i is tags[bounds[i]:bounds[i + 1]]; only the last may be empty (the branch alone)
    bounds = [-(-i * len(tags) // parts) for i in range(parts + 1)]
    walks = []
    for i in range(parts):
        run = list(tags[bounds[i] : bounds[i + 1]])
        tips = main_line_tips(head if i == parts - 1 else None, run)
        stop = [f"^{tags[bounds[i] - 1].sha}"] if i else []
        walks.append(tips + stop)
    return walks


class Diffs:
    """Sizes of the main-line commits, computed by one git process per walk (see
    `main_line_walks`) from the moment this is made. Iterating yields them in blocks as git
    writes them (once only), and raises what went wrong in git."""

    def __init__(self, path: Path, walks: Sequence[Sequence[str]]) -> None:
        self.path = path
        # blocks of sizes, what went wrong, and None each time a walk has finished
        self._blocks: queue.SimpleQueue[Sizes | BaseException | None] = queue.SimpleQueue()
        self._walks = [w for w in walks if w]
        self._stop = threading.Event()
        for walk in self._walks:
            threading.Thread(target=self._run, args=(walk,), name="git-diffs", daemon=True).start()

    def __iter__(self) -> Iterator[Sizes]:
        running = len(self._walks)
        while running:
            block = self._blocks.get()
            if block is None:
                running -= 1
            elif isinstance(block, BaseException):
                raise block
            else:
                yield block

    def close(self) -> None:
        """Stop the git processes still diffing (an import that failed needs no more sizes)."""
        self._stop.set()

    def _run(self, walk: Sequence[str]) -> None:
        try:
            # Leaving the loop closes the stream, which closes git's pipe: git stops at its
            # next write.
            with contextlib.closing(_numstat(self.path, walk, ["--first-parent"])) as blocks:
                for block in blocks:
                    if self._stop.is_set():
                        return
                    self._blocks.put(block)
        except BaseException as error:  # told to whoever iterates, in their thread
            if not self._stop.is_set():
                self._blocks.put(error)
        finally:
            self._blocks.put(None)


def read_sizes(
    path: Path,
    shas: Sequence[str],
    *,
    walk: str = "--first-parent",
    progress: Callable[[int], None] | None = None,
) -> dict[str, tuple[int, int, int]]:
    """(files, additions, deletions) of commits: those on the first-parent chains from `shas`,
    or with walk="--no-walk" just `shas`, in this thread. A merge's size is its diff against
    its first parent, like a pull request's. `progress` hears how many are diffed so far."""
    sizes: dict[str, tuple[int, int, int]] = {}
    for block in _numstat(path, shas, [walk]):
        sizes.update(block)
        if progress:
            progress(len(sizes))
    return sizes


def _revision(sha: str) -> str:
    return f"^{commit_id(sha[1:])}" if sha.startswith("^") else commit_id(sha)


def _numstat(path: Path, shas: Sequence[str], walk: list[str]) -> Generator[Sizes]:
    """One git process's diffs, parsed block by block as its output arrives. Paths are not
    read, only counted, so renames are not looked for (a rename is a deletion and an
    addition) and a binary file counts as a file with no lines."""
    if not shas:
        return
    args = ["log", "--format=%x1e%H%x00", "--numstat", "--diff-merges=first-parent", "--no-renames"]
    # (read from stdin, where git refuses options; each is a commit id, or one excluded)
    stdin = "\n".join(_revision(s) for s in shas).encode() + b"\n"
    for block in stream_records(path, [*args, *walk, "--stdin", "--"], stdin):
        sizes = {}
        for part in block.split(b"\x1e")[1:]:
            sha, stats = part.split(b"\0", 1)
            files = additions = deletions = 0
            for line in stats.splitlines():
                if line:
                    added, deleted, _ = line.split(b"\t", 2)
                    files += 1
                    additions += int(added) if added != b"-" else 0  # "-" marks a binary file
                    deletions += int(deleted) if deleted != b"-" else 0
            sizes[sha.decode()] = (files, additions, deletions)
        yield sizes
