"""`headway import git` and `headway import cdevents`: read a source, write what is new.

`import_repository` is the service behind the git command. A repository is remembered in the
`settings` table (its refs and the import options), so importing it again costs two cheap git
calls when nothing moved, and otherwise reads only the commits the last import did not reach
and writes only records that are new or whose links changed (a release tagged on old
commits, a change reverted since).
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC
from pathlib import Path
from typing import Annotated, Any

import typer

from headway.config import Settings
from headway.ingest import ingest
from headway.model import Change, Deployment, record_id
from headway.sources import git
from headway.sources.git import GitError, Options, TagRule
from headway.store import Store

Progress = Callable[[str, int, int | None], None]


@dataclass
class ImportReport:
    repository: str
    service: str
    up_to_date: bool = False
    commits: int = 0  # commits read: all of them, or on a re-import only those that are new
    changes: int = 0
    deployments: int = 0
    failed: dict[str, str] = field(default_factory=dict)
    undeployed: int = 0
    written: dict[str, int] = field(default_factory=dict)
    removed: int = 0
    seconds: float = 0.0


def repository_name(path: Path) -> str:
    name = path.resolve().name
    return name[:-4] if name.endswith(".git") and len(name) > 4 else name


def _state_key(repository: str, service: str) -> str:
    return f"git.import:{repository}:{service}"


def _signature(opts: Options, branch: str | None) -> dict[str, Any]:
    return {
        "pattern": opts.tags.pattern,
        "prereleases": opts.tags.prereleases,
        "team": opts.team,
        "environment": opts.environment,
        "deployments": opts.deployments,
        "branch": branch,
    }


def _count_commits(path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["git", "-C", str(path), "rev-list", "--count", "--all"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def import_repository(
    store: Store,
    settings: Settings,
    path: Path,
    opts: Options,
    branch: str | None = None,
    progress: Progress | None = None,
) -> ImportReport:
    """Import a repository's delivery history; all or nothing, safe to repeat."""
    with _collector_paused():
        return _import(store, settings, path, opts, branch, progress)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """An import builds hundreds of thousands of small objects (commits, changes, rows) that
    form no cycles; the cycle collector would rescan them again and again as they pile up
    (about 15 % of the Python time on a 100,000-commit history)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import(
    store: Store,
    settings: Settings,
    path: Path,
    opts: Options,
    branch: str | None,
    progress: Progress | None,
) -> ImportReport:
    started = time.perf_counter()
    report = ImportReport(opts.repository, opts.service)
    git.open_repository(path)
    refs = git.read_refs(path, branch)
    if opts.deployments:
        git.select_tags(refs.tags, opts.tags)  # fail on a pattern that matches nothing, first
    key = _state_key(opts.repository, opts.service)
    rows = store.query("SELECT value FROM settings WHERE key = ?", [key])
    state = json.loads(rows[0][0]) if rows else None
    signature = _signature(opts, branch)
    incremental = state is not None and state.get("options") == signature
    if state is not None and incremental and state["tips"] == refs.tips:
        report.up_to_date = True
        report.seconds = time.perf_counter() - started
        return report

    if state is not None and incremental:
        try:
            return _import_new(store, settings, path, opts, refs, state, report, progress, started)
        except git.NeedsFullImport:
            pass  # derive everything again below; still only changed records are written
        report = ImportReport(opts.repository, opts.service)

    counter = _count_commits(path)
    total: list[int | None] = [None]

    def tick(done: int) -> None:
        if total[0] is None and counter.poll() is not None and counter.stdout is not None:
            text = counter.stdout.read().strip()
            total[0] = int(text) if text.isdigit() else None
        if progress:
            progress("Reading history", done, total[0])

    # Sizes need diffs, the slowest thing git does; only main-line commits need them, and
    # they are computed by other git processes while this one streams the history and Python
    # derives changes from it.
    sizes: Future[git.Sizes] | None = None
    with ThreadPoolExecutor(max_workers=1) as pool:
        if not incremental:
            tips = git.main_line_tips(refs, git.release_tags(refs, opts))
            sizes = pool.submit(git.read_sizes, path, tips, workers=_diff_workers())
        try:
            commits = {c.sha: c for c in git.read_log(path, progress=tick)}
        finally:
            counter.wait()
            if counter.stdout:
                counter.stdout.close()
        report.commits = len(commits)
        if not commits:
            raise GitError(
                f"{path} has no commits reachable from its branches and tags; nothing to import"
            )
        if progress:
            progress("Deriving changes and releases", 0, None)

        def sized() -> git.Sizes:
            assert sizes is not None
            if progress and not sizes.done():
                progress("Diffing main-line commits", 0, None)
            return sizes.result()

        derived = git.derive(commits, refs, opts, sized if sizes else None)

    existing_changes = {
        r[0]: (r[1], r[2], bool(r[3]))
        for r in store.query(
            "SELECT id, deployment_ref, reverts, is_revert FROM changes "
            "WHERE source = ? AND service = ? AND repository = ?",
            [git.SOURCE, opts.service, opts.repository],
        )
    }
    prefix = record_id(git.SOURCE, f"{opts.repository}/tag/")
    existing_deps = {
        r[0]: r[1]
        for r in store.query(
            "SELECT id, recovers FROM deployments WHERE source = ? AND service = ? AND id LIKE ?",
            [git.SOURCE, opts.service, _like_prefix(prefix)],
        )
        if r[0].startswith(prefix)
    }
    changes = [
        c
        for c in derived.changes
        if existing_changes.get(c.id) != (c.deployment_ref, c.reverts, c.is_revert)
    ]
    deployments = [
        d
        for d in derived.deployments
        if d.id not in existing_deps or existing_deps[d.id] != d.recovers
    ]
    stale = sorted(set(existing_deps) - {d.id for d in derived.deployments})
    # Changes new to the store whose size is still unknown: all of them when this derivation
    # follows an earlier import, any a shared diff walk missed otherwise.
    changes = _with_sizes(path, changes, set(existing_changes))

    report.changes, report.deployments = len(derived.changes), len(derived.deployments)
    report.failed, report.undeployed = derived.failed, derived.undeployed
    if progress:
        progress("Writing", 0, None)
    with store.transaction():
        for dep_id in stale:  # its tag was deleted, or no longer matches the pattern
            store.execute("DELETE FROM deployments WHERE id = ?", [dep_id])
        result = ingest(store, settings, _records(derived, changes, deployments))
        _remember(store, key, refs, signature, path)
    report.removed = len(stale)
    report.written = dict(result.new)
    report.seconds = time.perf_counter() - started
    return report


def _diff_workers() -> int:
    """Two git processes share the diffs when a core is idle. On a busy machine a second one
    only adds work: each reads trees the other has read too (measured: about 10 % more CPU)."""
    cores = os.cpu_count() or 1
    return 2 if cores >= 2 and os.getloadavg()[0] <= cores - 1 else 1


def _remember(
    store: Store, key: str, refs: git.Refs, signature: dict[str, Any], path: Path
) -> None:
    value = json.dumps(
        {"tips": refs.tips, "head": refs.head, "options": signature, "path": str(path.resolve())}
    )
    store.execute("DELETE FROM settings WHERE key = ?", [key])
    store.execute("INSERT INTO settings (key, value) VALUES (?, ?)", [key, value])


def _import_new(
    store: Store,
    settings: Settings,
    path: Path,
    opts: Options,
    refs: git.Refs,
    state: dict[str, Any],
    report: ImportReport,
    progress: Progress | None,
    started: float,
) -> ImportReport:
    """Re-import reading only commits the last import's main line and releases do not reach.

    Raises NeedsFullImport when the refs moved in a way that needs the whole history: a tag
    deleted or moved, or a main branch that no longer continues from the last import."""
    old_tips: dict[str, str] = state["tips"]
    for ref, obj in old_tips.items():
        if ref.startswith("refs/tags/") and refs.tips.get(ref) != obj:
            raise git.NeedsFullImport(f"{ref} was deleted or moved")
    # Imports before the main-line commit was remembered on its own kept it as tips["HEAD"]
    # (and not at all with --branch).
    head = state.get("head", old_tips.get("HEAD"))
    if not head:
        raise git.NeedsFullImport("the last import's main-line commit is not known")
    if not refs.head or not git.is_ancestor(path, head, refs.head):
        raise git.NeedsFullImport("the main branch was rewritten")
    previous = _PreviousImport(store, path, opts, head)
    seen = sorted({previous.head or "", *(s for s, _ in previous.deployments.values())} - {""})

    def tick(done: int) -> None:
        if progress:
            progress("Reading new history", done, None)

    commits = {
        c.sha: c for c in git.read_log(path, revisions=["--all", "--not", *seen], progress=tick)
    }
    if progress:
        progress("Deriving changes and releases", 0, None)
    delta = git.derive_since(commits, refs, opts, previous)
    added = _with_sizes(path, delta.added, set())
    if progress:
        progress("Writing", 0, None)
    with store.transaction():
        for dep_id in delta.cleared:  # a new, earlier release now ships the recovering revert
            store.execute("UPDATE deployments SET recovers = NULL WHERE id = ?", [dep_id])
        result = ingest(
            store, settings, [delta.service, *delta.deployments, *added, *delta.relinked]
        )
        _remember(store, _state_key(opts.repository, opts.service), refs, state["options"], path)
    where = [git.SOURCE, opts.service, opts.repository]
    report.changes, report.undeployed = (
        int(n)
        for n in store.query(
            "SELECT count(*), count(*) FILTER (WHERE deployment_ref = ?) FROM changes "
            "WHERE source = ? AND service = ? AND repository = ?",
            [git.undeployed_ref(opts.repository), *where],
        )[0]
    )
    report.commits = len(commits)
    report.deployments = len(previous.deployments) + sum(
        1 for d in delta.deployments if d.id not in previous.deployments
    )
    report.failed = delta.failed
    report.written = dict(result.new)
    report.seconds = time.perf_counter() - started
    return report


class _PreviousImport:
    """The last import of this repository, read back from the store (and git) on demand."""

    def __init__(self, store: Store, path: Path, opts: Options, head: str | None) -> None:
        self.store, self.path, self.head = store, path, head
        self.where = [git.SOURCE, opts.service, opts.repository]
        self.prefix = record_id(git.SOURCE, f"{opts.repository}/")
        tags = record_id(git.SOURCE, f"{opts.repository}/tag/")
        self.deployments: dict[str, tuple[str, str | None]] = {
            r[0]: (r[1], r[2])
            for r in store.query(
                "SELECT id, sha, recovers FROM deployments "
                "WHERE source = ? AND service = ? AND id LIKE ?",
                [git.SOURCE, opts.service, _like_prefix(tags)],
            )
            if r[0].startswith(tags)
        }
        self.nowhere = git.undeployed_ref(opts.repository)
        self._seen: dict[str, git.Stored | None] = {}

    _COLUMNS = "merge_sha, deployment_ref, reverts, merged_at"

    def _stored(self, row: tuple[Any, ...]) -> git.Stored:
        sha, deployment, reverts, merged = row
        if merged.tzinfo is None:  # stores keep naive UTC
            merged = merged.replace(tzinfo=UTC)
        return git.Stored(
            sha,
            None if deployment == self.nowhere else deployment,
            reverts[len(self.prefix) :] if reverts else None,
            int(merged.timestamp()),
        )

    def changes(self, shas: Collection[str]) -> dict[str, git.Stored]:
        wanted = [s for s in shas if s not in self._seen]
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            for s in chunk:
                self._seen[s] = None
            ids = [self.prefix + s for s in chunk]
            for row in self.store.query(
                f"SELECT {self._COLUMNS} FROM changes WHERE source = ? AND service = ? "
                f"AND repository = ? AND id IN ({', '.join('?' for _ in ids)})",
                [*self.where, *ids],
            ):
                self._seen[row[0]] = self._stored(row)
        return {s: found for s in shas if (found := self._seen.get(s)) is not None}

    def reverts(self) -> list[git.Stored]:
        return [
            self._stored(row)
            for row in self.store.query(
                f"SELECT {self._COLUMNS} FROM changes WHERE source = ? AND service = ? "
                "AND repository = ? AND reverts IS NOT NULL",
                self.where,
            )
        ]

    def first_with_number(self, number: int) -> str | None:
        rows = self.store.query(
            "SELECT merge_sha FROM changes WHERE source = ? AND service = ? AND repository = ? "
            "AND number = ? ORDER BY merged_at LIMIT 1",
            [*self.where, number],
        )
        return str(rows[0][0]) if rows else None

    def resolve(self, prefix: str) -> str | None:
        return git.resolve_commit(self.path, prefix)

    def first_contained_by(self, tag: git.Tag, earlier: Sequence[git.Tag]) -> list[str]:
        return git.commits_between(self.path, tag.sha, [t.sha for t in earlier])


def _like_prefix(prefix: str) -> str:
    return prefix.replace("%", r"\%").replace("_", r"\_") + "%"


def _records(
    derived: git.Derived, changes: list[Change], deployments: list[Deployment]
) -> Iterable[Any]:
    yield derived.service
    yield from deployments
    yield from changes


def _with_sizes(path: Path, changes: list[Change], known: set[str]) -> list[Change]:
    """Fill in missing sizes of changes new to the store (one `git log --no-walk`)."""
    need = [c.merge_sha for c in changes if c.id not in known and c.merge_sha and c.files is None]
    if not need:
        return changes
    sized = git.read_sizes(path, need, walk="--no-walk")
    out = []
    for c in changes:
        s = sized.get(c.merge_sha or "")
        if s is not None and c.id not in known:
            c = replace(c, files=s[0], additions=s[1], deletions=s[2])
        out.append(c)
    return out


# -- commands --------------------------------------------------------------------------------


def register(import_app: typer.Typer) -> None:
    """Add `import git` and `import cdevents` to the `headway import` group."""
    import_app.command("git")(import_git)
    import_app.command("cdevents")(import_cdevents)


def import_git(
    path: Annotated[Path, typer.Argument(help="A git working tree or bare clone.")],
    service: Annotated[str, typer.Option("--service", help="Service the repository delivers.")],
    team: Annotated[str | None, typer.Option("--team", help="Team that owns the service.")] = None,
    deploy_tags: Annotated[
        str | None,
        typer.Option(
            "--deploy-tags",
            help="Tags that are deployments: a glob ('v*') or a regular expression "
            "('re:^release-'). Default: release-like version tags (v1.2.3, 1.2, name-1.2).",
        ),
    ] = None,
    prereleases: Annotated[
        bool,
        typer.Option(
            "--prereleases",
            help="Count pre-release tags (rc, a, b, dev, alpha, beta …) as deployments.",
        ),
    ] = False,
    environment: Annotated[
        str, typer.Option("--environment", help="Environment of the deployments.")
    ] = "production",
    branch: Annotated[
        str | None,
        typer.Option("--branch", help="Main-line branch (default: the repository's HEAD)."),
    ] = None,
    repository: Annotated[
        str | None,
        typer.Option(
            "--repository", help="Repository name in record ids (default: the directory name)."
        ),
    ] = None,
    no_deployments: Annotated[
        bool,
        typer.Option(
            "--no-deployments", help="Import changes only (the repository has no release tags)."
        ),
    ] = False,
) -> None:
    """Import changes, release deployments, failures and recoveries from git history.

    Pull requests are recognised from merge commits (GitHub, GitLab, Bitbucket) and squash
    merges ("… (#N)"); other commits on the main line are changes of their own. Every tag
    matching --deploy-tags is a deployment at the tag's time, shipping the changes it is the
    first tag to contain. A deployment whose change is later reverted failed; the first
    release shipping the revert recovered it. Re-running imports only what is new.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    from headway.cli import fail, store_for
    from headway.config import get_settings
    from headway.output import console

    settings = get_settings()
    opts = Options(
        service=service,
        repository=repository or repository_name(path),
        team=team,
        environment=environment,
        tags=TagRule(deploy_tags, prereleases),
        deployments=not no_deployments,
    )
    with (
        Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar,
        store_for(settings) as store,
    ):
        task = bar.add_task("Reading history", total=None)

        def progress(phase: str, done: int, total: int | None) -> None:
            bar.update(task, description=phase, completed=done, total=total)

        try:
            report = import_repository(store, settings, path, opts, branch, progress)
        except GitError as error:
            bar.stop()
            fail(str(error))
    if report.up_to_date:
        console.print(
            f"{opts.repository}: up to date, nothing new since the last import "
            f"({report.seconds:.2f} s).",
            highlight=False,
        )
        return
    written = (
        ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in report.written.items() if n)
        or "nothing new"
    )
    console.print(
        f"Imported {opts.repository} into service {service} in {report.seconds:.1f} s: "
        f"{report.commits} commits, {report.changes} changes, {report.deployments} deployments "
        f"({len(report.failed)} failed: a shipped change was reverted), {report.undeployed} "
        f"changes not in any release yet. Written: {written}"
        + (
            f"; {report.removed} deployments removed (tag gone or no longer matching)"
            if report.removed
            else ""
        )
        + ".",
        highlight=False,
    )


def import_cdevents(
    paths: Annotated[
        list[Path], typer.Argument(help="CDEvents JSON files, or directories of them.")
    ],
    service: Annotated[
        str | None, typer.Option("--service", help="Service for events that do not name one.")
    ] = None,
) -> None:
    """Import CDEvents (specification 0.4, 0.5 and 0.6 drafts), validated against the schemas.

    change.*, pipelinerun.*, service.deployed|upgraded|rolledback|removed, incident.* and
    approval.* become canonical records; any other event is kept raw, marked ignored, and
    listed. A file that fails its schema stops the import: nothing is written.
    """
    from headway.cli import fail, store_for
    from headway.config import get_settings
    from headway.output import console
    from headway.sources import cdevents

    settings = get_settings()
    try:
        batch = cdevents.read_paths(paths, default_service=service)
    except cdevents.CDEventError as error:
        fail(str(error))
    with store_for(settings) as store, console.status("Importing CDEvents…"):
        result = ingest(store, settings, cdevents.complete(store, batch.records))
    written = (
        ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in result.new.items() if n) or "nothing new"
    )
    console.print(f"Imported {batch.events} CDEvents: {written}.", highlight=False)
    if batch.ignored:
        kinds = ", ".join(f"{kind} ({n})" for kind, n in sorted(batch.ignored.items()))
        console.print(
            f"[yellow]note:[/yellow] {sum(batch.ignored.values())} event(s) have no delivery "
            f"meaning in Headway and were kept as raw events with status ignored: {kinds}.",
            highlight=False,
            soft_wrap=True,
        )
