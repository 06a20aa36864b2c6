"""Bring a newly installed repository's history in: its merged pull requests and its releases,
read page by page through the REST API and turned into records by the same adapter as
GitHub's webhooks (`sources.github`), so a backfilled change equals a delivered one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import Field

from headway.github.app import GitHubApp
from headway.ingest import ingest
from headway.metrics.results import Result
from headway.sources import github as adapter
from headway.sources.mapping import Mapping
from headway.store import github as rows

__all__ = ["BackfillResult", "NotGranted", "backfill"]

Progress = Callable[[str, int], None]


class BackfillResult(Result):
    repository: str
    merged_pull_requests: int = Field(description="Merged pull requests read.")
    releases: int = Field(description="Releases read (deployments only if the service says so).")
    new: dict[str, int] = Field(description="Records written for the first time, by table.")


class NotGranted(LookupError):
    """No installation of the app grants the repository."""


def _installation(app: GitHubApp, repository: str) -> int:
    for installation, name, _ in rows.load_repositories(app.store):
        if name.lower() == repository.lower():
            return installation
    raise NotGranted(
        f"no installation of the app grants {repository}; install it there first "
        "(`GET /api/github/repositories` lists the granted ones)"
    )


def backfill(
    app: GitHubApp,
    repository: str,
    *,
    installation: int | None = None,
    progress: Progress | None = None,
) -> BackfillResult:
    """Read `repository`'s merged pull requests and releases and store what they mean."""
    token = app.tokens().token(installation or _installation(app, repository))
    repo = app.client.json("GET", f"/repos/{repository}", token=token)
    mapping = Mapping.from_settings(app.settings)

    def pages(path: str, label: str, params: dict[str, Any]) -> list[Any]:
        step = (lambda n: progress(label, n)) if progress else None
        return list(app.client.paginate(path, token=token, params=params, progress=step))

    pulls = pages(
        f"/repos/{repository}/pulls", "pull requests", {"state": "closed", "sort": "updated"}
    )
    merged = [pr for pr in pulls if isinstance(pr, dict) and pr.get("merged_at")]
    releases = pages(f"/repos/{repository}/releases", "releases", {})
    records: list[Any] = []
    for pr in merged:
        payload = {"action": "closed", "pull_request": pr, "repository": repo}
        records += adapter.parse("pull_request", payload, mapping).records
    for release in releases:
        payload = {"action": "published", "release": release, "repository": repo}
        records += adapter.parse("release", payload, mapping).records
    written = ingest(app.store, app.settings, records)
    return BackfillResult(
        repository=repository,
        merged_pull_requests=len(merged),
        releases=len(releases),
        new={table: count for table, count in written.new.items() if count},
    )
