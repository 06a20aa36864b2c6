"""`headway github …`: make this server a GitHub App."""

from __future__ import annotations

from typing import Annotated

import typer

from headway.cli.common import errors, fail, store_for
from headway.cli.remote import Api, RemoteError
from headway.config import get_settings
from headway.github.app import GitHubApp, ManifestStart
from headway.github.manifest import ManifestError
from headway.github.rest import GitHubClient
from headway.output import emit_json

__all__ = ["app"]

app = typer.Typer(help="The GitHub App: create it from a manifest.", no_args_is_help=True)


@app.callback()
def github() -> None:
    """The GitHub App: create it from a manifest (docs/github-app.md)."""


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
    except (ManifestError, ValueError, RemoteError) as error:
        fail(str(error))
    emit_json(started.manifest)
    errors.print(
        f"Post this manifest as the form field `manifest` to {started.create_url} "
        "(docs/github-app.md shows a one-line page that does it). The state is good for "
        "one hour, once.",
        highlight=False,
        soft_wrap=True,
    )
