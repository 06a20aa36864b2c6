"""`headway import …`: JSONL, CSV, git history and CDEvents; parse options, import, report.

Every import goes through the backend: on a local store, or to the server HEADWAY_URL names.
The git import itself is `headway.ingest.git.import_repository`, run where the store is: a
server gets the repository as a git bundle (`POST /api/import/git`). CDEvents are read and
validated here, then stored by `api.imports.store_cdevents` (or sent to `/api/import/cdevents`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from headway.cli.backend import Backend, backend
from headway.cli.common import fail, summary
from headway.output import console

app = typer.Typer(help="Import delivery history (files, git, CDEvents …).", no_args_is_help=True)


def _run_import(
    run: Callable[[Backend], tuple[dict[str, int], dict[str, int]]], label: str
) -> None:
    from headway.config import get_settings
    from headway.sources.files import InputError

    settings = get_settings()
    where = f" through {settings.url}" if settings.url else ""
    with backend(settings) as answers, console.status(f"Importing {label}{where}…"):
        try:
            new, seen = run(answers)
        except InputError as error:  # a bad file is bad input, whoever would store it
            fail(str(error))
    _report_import(label, new, seen)


def _report_import(label: str, new: dict[str, int], seen_by_table: dict[str, int]) -> None:
    seen = sum(seen_by_table.values())
    console.print(
        f"Imported {label}: {summary(new)}"
        + (f"; {seen} already present, unchanged or updated" if seen else "")
        + ".",
        highlight=False,
    )


@app.command("jsonl")
def import_jsonl(
    files: Annotated[list[Path], typer.Argument(help="JSONL files in Headway's canonical format.")],
) -> None:
    """Import canonical JSONL (what `headway simulate` writes). All or nothing; safe to re-run."""
    _run_import(lambda answers: answers.import_jsonl(files), ", ".join(str(f) for f in files))


@app.command("csv")
def import_csv(
    file: Annotated[Path, typer.Argument(help="CSV file with a header row of field names.")],
    type_: Annotated[
        str,
        typer.Option(
            "--type",
            help="Record type of every row: service, change, "
            "approval, pipeline_run, deployment, incident, defect.",
        ),
    ],
) -> None:
    """Import one record type from CSV. Empty cells are missing values; lists use `;`."""
    from headway.sources.files import read_csv

    _run_import(lambda answers: answers.import_records(read_csv(file, type_)), str(file))


@app.command("git")
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
    host: Annotated[
        str | None,
        typer.Option(
            "--host",
            help="Where pull requests are hosted, so they are one change with what webhooks "
            "send: github:OWNER/NAME, gitlab:GROUP/PROJECT, or none (named by merge commit). "
            "Default: the origin remote when it is on github.com or gitlab.com.",
        ),
    ] = None,
) -> None:
    """Import changes, release deployments, failures and recoveries from git history.

    Pull requests are recognised from merge commits (GitHub, GitLab, Bitbucket) and squash
    merges ("… (#N)"); other commits on the main line are changes of their own. Every tag
    matching --deploy-tags is a deployment at the tag's time, shipping the changes it is the
    first tag to contain. A deployment whose change is later reverted failed; the first
    release shipping the revert recovered it. Re-running imports only what is new.
    A pull request gets the id its host's webhooks give it (see --host), so a repository
    fed both ways counts it once.
    """
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bar

    from headway.config import get_settings
    from headway.sources.git import GitError, Options, TagRule, open_repository, repository_name
    from headway.sources.git.host import resolve_host

    settings = get_settings()
    try:
        open_repository(path)  # refused before any progress is drawn
        hosted = resolve_host(path, host)
    except GitError as error:
        fail(str(error))
    opts = Options(
        service=service,
        repository=repository or repository_name(path),
        team=team,
        environment=environment,
        tags=TagRule(deploy_tags, prereleases),
        deployments=not no_deployments,
        host=hosted,
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
        backend(settings) as answers,
    ):
        tasks: dict[str, TaskID] = {}

        def progress(phase: str, done: int, total: int | None) -> None:
            if phase not in tasks:  # a bar per phase, so no total outlives its phase
                for earlier in tasks.values():
                    bar.update(earlier, visible=False)
                tasks[phase] = bar.add_task(phase, total=total)
            bar.update(tasks[phase], completed=done, total=total)

        try:
            report = answers.import_git(path, opts, branch, progress)
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


@app.command("cdevents")
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
    from headway.config import get_settings
    from headway.sources.cdevent_files import read_paths
    from headway.sources.cdevents import CDEventError

    settings = get_settings()
    try:
        batch = read_paths(paths, default_service=service)
    except CDEventError as error:
        fail(str(error))
    where = f" through {settings.url}" if settings.url else ""
    with backend(settings) as answers, console.status(f"Importing CDEvents{where}…"):
        new = answers.import_cdevents(batch, service)
    written = ", ".join(f"{n} {t.replace('_', ' ')}" for t, n in new.items() if n) or "nothing new"
    console.print(f"Imported {batch.events} CDEvents: {written}.", highlight=False)
    if batch.ignored:
        kinds = ", ".join(f"{kind} ({n})" for kind, n in sorted(batch.ignored.items()))
        console.print(
            f"[yellow]note:[/yellow] {sum(batch.ignored.values())} event(s) have no delivery "
            f"meaning in Headway and were kept as raw events with status ignored: {kinds}.",
            highlight=False,
            soft_wrap=True,
        )
