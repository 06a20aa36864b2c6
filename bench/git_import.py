"""Benchmark `headway import git` against the floor: git itself printing the same history.

    python bench/git_import.py [--commits 100000] [--tags 1000] [--keep DIR] [--repeat 3]

Builds a synthetic repository with `git fast-import` (pull-request merges, squash merges,
direct commits, reverts of released pull requests, annotated release tags, commit times in
several offsets), then times, on that repository and in the same run:

  floor       git log --all --format=<the fields Headway reads>   (output read and discarded)
  floor+diff  the same with --numstat (Headway diffs only main-line commits)
  import      headway import into a fresh DuckDB store: read, derive, write, link
  re-import   nothing new; then again after 100 new commits and one new tag

and prints a table with each time as a multiple of the floor, and the CPU seconds it took.
The floor and the first import run --repeat times, alternately; the table shows medians.
Between the floors and the import it also times the parts of the import git does: the history
read and parsed, and the main-line diffs (one process, then in walks at once as the import
runs them). A kept repository (--keep) is left as it was built: the new commits and tag are
removed again.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from headway.config import Settings
from headway.ingest.git import import_repository
from headway.sources.git import (
    LOG_FORMAT,
    Diffs,
    Options,
    main_line_tips,
    main_line_walks,
    read_log,
    read_refs,
    read_sizes,
    release_tags,
)
from headway.store import Store, open_store

OFFSETS = ["+0000", "+0200", "-0500", "+0530", "-0800", "+0900"]
PEOPLE = [f"Dev {i} <dev{i}@example.org>" for i in range(40)]


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n" % len(raw) + raw + b"\n"


def stream(commits: int, tags: int, seed: int = 1, start: int = 1_420_070_400) -> Iterator[bytes]:
    """A fast-import stream of about `commits` commits and `tags` release tags."""
    rng = random.Random(seed)
    mark, main, t, pr, made = 0, 0, start, 0, 0
    squashed: list[tuple[int, str]] = []  # (PR number, title) of released squash merges
    tag_every = max(1, commits // (tags + 1))
    next_tag, version = tag_every, [1, 0, 0]
    released = 0

    def commit(
        ref: str, message: str, parent: int | None, merge: int | None = None, files: int = 1
    ) -> bytes:
        nonlocal mark, t, made
        mark += 1
        made += 1
        t += rng.randint(60, 3600)
        who, tz = rng.choice(PEOPLE), rng.choice(OFFSETS)
        out = [
            f"commit {ref}\nmark :{mark}\nauthor {who} {t} {tz}\ncommitter {who} {t} {tz}\n".encode(),
            _data(message),
        ]
        if parent:
            out.append(f"from :{parent}\n".encode())
        if merge:
            out.append(f"merge :{merge}\n".encode())
        for _ in range(files):
            path = f"src/mod{rng.randrange(60)}/file{rng.randrange(400)}.py"
            body = "".join(f"line {rng.random():.6f}\n" for _ in range(rng.randint(1, 6)))
            out.append(f"M 100644 inline {path}\n".encode() + _data(body))
        return b"".join(out)

    while made < commits or released < tags:
        roll = rng.random()
        if roll < 0.35:  # a pull request: two branch commits and a merge commit
            pr += 1
            yield commit("refs/heads/topic", f"Work on topic {pr}", main)
            yield commit("refs/heads/topic", f"Address review on topic {pr}", mark)
            branch = mark
            yield commit(
                "refs/heads/main",
                f"Merge pull request #{pr} from dev/topic-{pr}\n\nTopic {pr}",
                main,
                merge=branch,
                files=0,
            )
        elif roll < 0.75:  # a squash merge
            pr += 1
            title = f"Improve module {rng.randrange(60)} step {pr}"
            yield commit("refs/heads/main", f"{title} (#{pr})", main, files=rng.randint(1, 3))
            squashed.append((pr, title))
        elif roll < 0.76 and squashed:  # revert a squash-merged PR, as GitHub's button does
            number, title = squashed.pop(rng.randrange(max(0, len(squashed) - 30), len(squashed)))
            pr += 1
            yield commit("refs/heads/main", f'Revert "{title} (#{number})" (#{pr})', main)
        else:
            yield commit("refs/heads/main", f"Fix typo {made}", main)
        main = mark
        if made >= next_tag and released < tags:
            released += 1
            next_tag += tag_every
            version[2] += 1
            if version[2] == 10:
                version[1], version[2] = version[1] + 1, 0
            name = "v{}.{}.{}".format(*version)
            t += 60
            yield (
                f"tag {name}\nfrom :{main}\ntagger Release Bot <bot@example.org> {t} +0000\n".encode()
                + _data(f"Release {name}")
            )


def build(path: Path, commits: int, tags: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True)
    proc = subprocess.Popen(
        ["git", "-C", str(path), "fast-import", "--quiet"], stdin=subprocess.PIPE
    )
    assert proc.stdin is not None
    for chunk in stream(commits, tags):
        proc.stdin.write(chunk)
    proc.stdin.close()
    if proc.wait() != 0:
        sys.exit("git fast-import failed")
    subprocess.run(["git", "-C", str(path), "symbolic-ref", "HEAD", "refs/heads/main"], check=True)


def git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, env=env
    )
    return done.stdout.strip()


def _cpu() -> float:
    mine, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


def timed(fn: object) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and the git processes it waited for). On a
    shared machine the CPU time is the steadier figure: wall time depends on the load."""
    start, cpu = time.perf_counter(), _cpu()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start, _cpu() - cpu


def _median(runs: list[tuple[float, float]]) -> tuple[float, float]:
    """The run with the median wall time (its CPU time with it)."""
    return sorted(runs)[len(runs) // 2]


def floor(path: Path, *extra: str) -> None:
    proc = subprocess.Popen(
        ["git", "-C", str(path), "log", "--all", f"--format={LOG_FORMAT}", *extra],
        stdout=subprocess.PIPE,
    )
    assert proc.stdout is not None
    while proc.stdout.read(1 << 20):
        pass
    proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--commits", type=int, default=100_000)
    parser.add_argument("--tags", type=int, default=1_000)
    parser.add_argument("--keep", type=Path, help="Build (or reuse) the repository here.")
    parser.add_argument(
        "--repeat", type=int, default=3, help="Times the floor and the first import are run."
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = args.keep or Path(tmp) / "synthetic"
        if not (repo / ".git").exists():
            built, _ = timed(lambda: build(repo, args.commits, args.tags))
            print(f"built {repo} with git fast-import in {built:.1f} s")
        count = int(
            subprocess.run(
                ["git", "-C", str(repo), "rev-list", "--count", "--all"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        ntags = len(read_refs(repo).tags)
        opts = Options(service="synthetic", repository="synthetic")
        # The floor and the first import, alternately, `repeat` times: on a shared machine
        # each pair runs under about the same load, and the medians are steadier than one run.
        floors: list[tuple[float, float]] = []
        firsts: list[tuple[float, float]] = []
        report = None
        for i in range(args.repeat):
            settings = Settings(database=str(Path(tmp) / f"bench-{i}.duckdb"))
            store = open_store(settings)

            def first(store: Store = store, settings: Settings = settings) -> None:
                nonlocal report
                report = import_repository(store, settings, repo, opts)

            floors.append(timed(lambda: floor(repo)))
            firsts.append(timed(first))
            if i < args.repeat - 1:
                store.close()
        rows: list[tuple[str, tuple[float, float]]] = [
            ("floor: git log --all --format", _median(floors))
        ]
        rows.append(
            (
                "floor+diff: same with --numstat",
                timed(
                    lambda: floor(repo, "--numstat", "--diff-merges=first-parent", "--no-renames")
                ),
            )
        )
        rows.append(
            (
                "  of which: history, parsed (no diffs)",
                timed(lambda: sum(1 for _ in read_log(repo))),
            )
        )
        refs = read_refs(repo)
        tags = release_tags(refs, opts)
        tips = main_line_tips(refs.head, tags)
        rows.append(
            (
                "  of which: main-line sizes (diffs)",
                timed(lambda: read_sizes(repo, tips)),
            )
        )
        walks = main_line_walks(refs.head, tags, max(1, min(os.cpu_count() or 1, 4)))
        rows.append(
            (
                f"  the same in {len(walks)} walks at once",
                timed(lambda: [None for _ in Diffs(repo, walks)]),
            )
        )
        rows.append(("headway import git (fresh store)", _median(firsts)))
        rows.append(
            (
                "re-import, nothing new",
                timed(lambda: import_repository(store, settings, repo, opts)),
            )
        )
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "Dev",
            "GIT_AUTHOR_EMAIL": "d@e",
            "GIT_COMMITTER_NAME": "Dev",
            "GIT_COMMITTER_EMAIL": "d@e",
        }
        built_head = git(repo, "rev-parse", "refs/heads/main")
        try:
            head = built_head
            tree = git(repo, "rev-parse", "refs/heads/main^{tree}")
            for i in range(100):
                head = git(
                    repo,
                    "commit-tree",
                    tree,
                    "-p",
                    head,
                    "-m",
                    f"More work {i} (#{10**6 + i})",
                    env=env,
                )
            git(repo, "update-ref", "refs/heads/main", head)
            git(repo, "tag", "v999.0.0", head)
            rows.append(
                (
                    "re-import, 100 new commits + 1 tag",
                    timed(lambda: import_repository(store, settings, repo, opts)),
                )
            )
        finally:
            git(repo, "update-ref", "refs/heads/main", built_head)
            subprocess.run(["git", "-C", str(repo), "tag", "-d", "v999.0.0"], capture_output=True)
        store.close()
    assert report is not None
    base = rows[0][1][0]
    print(
        f"\nrepository: {count} commits, {ntags} tags; imported {report.changes} changes, "
        f"{report.deployments} deployments, {len(report.failed)} failed (reverted) releases\n"
    )
    print(f"machine load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    ratios = ", ".join(f"{i[0] / f[0]:.1f}" for f, i in zip(floors, firsts, strict=True))
    print(f"first import / floor, run by run: {ratios} (the table shows medians)\n")
    print(f"{'step':<40} {'seconds':>9} {'x floor':>9} {'CPU s':>9}")
    print("-" * 70)
    for name, (seconds, cpu) in rows:
        print(f"{name:<40} {seconds:>9.2f} {seconds / base:>9.1f} {cpu:>9.2f}")


if __name__ == "__main__":
    main()
