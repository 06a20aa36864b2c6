"""`headway github …`: make this server a GitHub App, and read history through it."""

from __future__ import annotations

from typing import Annotated

import typer

from headway.cli import github_rules
from headway.cli.common import RemoteError, errors, fail, store_for
from headway.output import emit_json

__all__ = ["app"]

app = typer.Typer(help="The GitHub App: create it from a manifest.", no_args_is_help=True)
app.add_typer(github_rules.app, name="risky-rule")


@app.callback()
def github() -> None:
    """The GitHub App: create it from a manifest, read history through it, and say which
    changes touch risky code (docs/github-app.md)."""


@app.command("app-manifest")
def app_manifest(
    url: Annotated[
        str,
        typer.Option(help="Where this Headway server answers GitHub, e.g. https://h.example.com."),
    ],
    name: Annotated[str, typer.Option(help="The app's name on GitHub.")] = "Headway",
    organization: Annotated[
        str | None, typer.Option(help="Create the app in this organisation, not your account.")
    ] = None,
) -> None:
    """Print the GitHub App manifest, and on stderr where to post it (with a one-time state)."""
    from headway.cli.remote import Api
    from headway.config import get_settings
    from headway.flags.service import Conflict, NotFound
    from headway.github.app import GitHubApp, ManifestStart
    from headway.github.manifest import ManifestError
    from headway.github.rest import GitHubClient

    settings = get_settings()
    try:
        if settings.url:
            api = Api(settings.url, settings.token)
            try:
                body = {"url": url, "name": name, "organization": organization}
                started = ManifestStart.model_validate(
                    api.call("POST", "/github/manifest", json=body)
                )
            finally:
                api.close()
        else:
            with store_for(settings) as store, GitHubClient(settings.github_api_url) as client:
                github = GitHubApp(store, settings, client, web_url=settings.github_web_url)
                started = github.start(url, name, organization)
    except (ManifestError, ValueError, RemoteError, NotFound, Conflict) as error:
        fail(str(error))
    emit_json(started.manifest)
    errors.print(
        f"Post this manifest as the form field `manifest` to {started.create_url} "
        "(docs/github-app.md shows a one-line page that does it). The state is good for "
        "one hour, once.",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def backfill(
    repository: Annotated[str, typer.Argument(help="owner/name of a repository the app can read.")],
    installation: Annotated[
        int | None, typer.Option(help="The installation to read it through; found by default.")
    ] = None,
) -> None:
    """Read a repository's merged pull requests and releases through the app, page by page,
    and store them as webhooks would have (progress on stderr). With HEADWAY_URL set, the
    server reads them (POST /api/github/backfill, an admin token)."""
    from headway.cli.remote import Api
    from headway.config import get_settings
    from headway.flags.service import Conflict, NotFound
    from headway.github.app import GitHubApp, NoApp
    from headway.github.backfill import BackfillResult, NotGranted
    from headway.github.backfill import backfill as run_backfill
    from headway.github.rest import GitHubClient, GitHubError

    settings = get_settings()
    if repository.count("/") != 1 or not all(repository.split("/")):
        fail(f"repository {repository!r}: write it owner/name")
    if settings.url:
        errors.print(f"{repository}: read on {settings.url}…", highlight=False)
        api = Api(settings.url, settings.token)
        try:
            body = {"repository": repository, "installation": installation}
            answer = api.call("POST", "/github/backfill", json=body)
        except (RemoteError, NotFound, Conflict) as error:
            fail(str(error))
        finally:
            api.close()
        emit_json(BackfillResult.model_validate(answer).model_dump(mode="json"))
        return
    with store_for(settings) as store, GitHubClient(settings.github_api_url) as client:
        github = GitHubApp(store, settings, client, web_url=settings.github_web_url)

        def progress(label: str, count: int) -> None:
            errors.print(f"{repository}: {count} {label} read", highlight=False)

        try:
            result = run_backfill(github, repository, installation=installation, progress=progress)
        except (NoApp, NotGranted, GitHubError) as error:
            fail(str(error))
    emit_json(result.model_dump(mode="json"))
