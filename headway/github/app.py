"""The GitHub App as Headway runs it: made from a manifest, authenticated as itself, and told
of its installations, whose repositories become services.

Creating the app: `start` records a one-time state and gives the manifest; GitHub creates the
app and sends the browser to the callback with a code and that state; `complete` spends the
state (an hour at most, once) and exchanges the code for the app's id, private key and webhook
secret, which stay in the store, encrypted with HEADWAY_SECRET_KEY: no answer carries them.
Without that key the app is not made: both steps refuse before anything reaches GitHub.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final
from urllib.parse import quote

from pydantic import Field

from headway.config import Settings
from headway.github.auth import InstallationTokens
from headway.github.manifest import manifest
from headway.github.rest import GitHubClient
from headway.ingest import ingest
from headway.metrics.results import Result
from headway.sources.mapping import Mapping, PayloadError, get, opt, text
from headway.store import Store
from headway.store import github as rows
from headway.store.sealing import Keyring

__all__ = [
    "AppInfo",
    "GitHubApp",
    "InstallationResult",
    "ManifestStart",
    "NoApp",
    "StateRefused",
    "seal_stored",
]

STATE_LIFETIME: Final = timedelta(hours=1)
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_ORG = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")


class NoApp(LookupError):
    """No GitHub App has been made for this server yet."""


class StateRefused(PermissionError):
    """The callback's state is unknown, spent or too old."""


class ManifestStart(Result):
    manifest: dict[str, Any] = Field(description="Post it as the `manifest` form field.")
    state: str = Field(description="One-time; GitHub hands it back to the callback.")
    create_url: str = Field(description="Where to post the manifest, state included.")


class AppInfo(Result):
    """The app, without its private key or secrets."""

    id: int
    slug: str
    name: str
    owner: str | None
    html_url: str | None
    install_url: str | None = Field(description="Where an organisation installs the app.")
    created_at: datetime
    encrypted: bool = Field(
        description="Whether the store holds its private key and secrets encrypted with "
        "HEADWAY_SECRET_KEY; false only for an app stored before encryption, until the server "
        "starts with a key."
    )


class InstallationResult(Result):
    installation: int
    account: str
    action: str
    added: list[str] = Field(description="Repositories granted, as owner/name.")
    removed: list[str] = Field(description="Repositories taken away, as owner/name.")
    services: list[str] = Field(description="The services the granted repositories are.")
    backfilling: list[str] = Field(
        default_factory=list,
        description="Granted repositories whose history is read after this answer "
        "(HEADWAY_GITHUB_BACKFILL_ON_INSTALL); the server's log shows the progress.",
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def _info(app: rows.AppCredentials) -> AppInfo:
    return AppInfo(
        id=app.id,
        slug=app.slug,
        name=app.name,
        owner=app.owner,
        html_url=app.html_url,
        install_url=f"{app.html_url}/installations/new" if app.html_url else None,
        created_at=app.created_at,
        encrypted=app.encrypted,
    )


def seal_stored(store: Store, settings: Settings) -> rows.SealReport:
    """Encrypt, with HEADWAY_SECRET_KEY, the app's secrets a store from before encryption kept
    in plain text, and those encrypted with HEADWAY_SECRET_KEY_PREVIOUS; run as the server
    starts and before a command first reads them. SealError when a key cannot open them."""
    return rows.seal_apps(store, Keyring.from_settings(settings))


def _repositories(payload: Any, field: str) -> list[tuple[int, str]]:
    found = opt(payload, field) or []
    if not isinstance(found, list):
        raise PayloadError(f"field `{field}` must be a list of repositories")
    out = []
    for i, repo in enumerate(found):
        repo_id = get(repo, "id")
        if not isinstance(repo_id, int) or isinstance(repo_id, bool):
            raise PayloadError(f"field `{field}[{i}].id` must be a number")
        out.append((repo_id, text(repo, "full_name")))
    return out


class GitHubApp:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        client: GitHubClient,
        *,
        clock: Callable[[], datetime] = _now,
        web_url: str = "https://github.com",
    ) -> None:
        self.store = store
        self.settings = settings
        self.client = client
        self.clock = clock
        self.web_url = web_url.rstrip("/")
        self.keys = Keyring.from_settings(settings)
        self._tokens: InstallationTokens | None = None
        self._sealed = False  # whether this holder has sealed what the store kept in plain text

    # -- making the app ----------------------------------------------------------------------

    def start(
        self, url: str, name: str = "Headway", organization: str | None = None
    ) -> ManifestStart:
        """The manifest for a server at `url`, and a state the callback will ask for."""
        document = manifest(url, name)
        self.keys.require("the GitHub App's private key and secrets")
        if organization is not None and not _ORG.fullmatch(organization):
            raise ValueError(f"organization {organization!r} is not a GitHub account name")
        state = secrets.token_urlsafe(24)
        with self.store.transaction() as tx:
            rows.insert_state(tx, _hash(state), self.clock())
        owner = f"/organizations/{quote(organization)}" if organization else ""
        create_url = f"{self.web_url}{owner}/settings/apps/new?state={state}"
        return ManifestStart(manifest=document, state=state, create_url=create_url)

    def complete(self, code: str, state: str) -> AppInfo:
        """Exchange the callback's code for the app's credentials and keep them."""
        if not _CODE.fullmatch(code):
            raise ValueError("code: GitHub's code is letters, digits, '-' and '_'")
        now = self.clock()
        with self.store.transaction() as tx:
            if not rows.use_state(tx, _hash(state), now, now - STATE_LIFETIME):
                raise StateRefused(
                    "state: unknown, used already or older than an hour; "
                    "run `headway github app-manifest` again"
                )
            # Refused inside the transaction, so the state is not spent, and before the code is
            # converted: GitHub answers the private key once.
            self.keys.require("the GitHub App's private key and secrets")
        body = self.client.json("POST", f"/app-manifests/{code}/conversions")
        try:
            app = rows.AppCredentials(
                id=int(body["id"]),
                slug=str(body["slug"]),
                name=str(body.get("name") or body["slug"]),
                owner=opt(body, "owner.login"),
                html_url=body.get("html_url"),
                url=body.get("external_url"),
                client_id=body.get("client_id"),
                client_secret=body.get("client_secret"),
                private_key=str(body["pem"]),
                webhook_secret=str(body["webhook_secret"]),
                created_at=now,
            )
        except (KeyError, TypeError, ValueError) as error:
            raise PayloadError(f"GitHub's conversion answer lacks {error}") from None
        with self.store.transaction() as tx:
            rows.insert_app(tx, app, self.keys)
        self._tokens = None
        return _info(replace(app, encrypted=True))  # insert_app sealed every secret

    def info(self) -> AppInfo:
        return _info(self.credentials())

    def credentials(self) -> rows.AppCredentials:
        """The app with its secrets; SealError when the keys set cannot open them."""
        if not self._sealed:
            rows.seal_apps(self.store, self.keys)
            self._sealed = True
        app = rows.load_app(self.store, self.keys)
        if app is None:
            raise NoApp("no GitHub App yet: run `headway github app-manifest --url URL`")
        return app

    def tokens(self) -> InstallationTokens:
        """Installation tokens of the current app (one holder, so tokens are reused)."""
        app = self.credentials()
        if self._tokens is None or self._tokens.app_id != app.id:
            self._tokens = InstallationTokens(self.client, app.id, app.private_key, self.clock)
        return self._tokens

    # -- installations -----------------------------------------------------------------------

    def on_installation(self, event: str, payload: Any) -> InstallationResult:
        """Record an `installation` or `installation_repositories` event; the repositories it
        grants become services."""
        if event not in ("installation", "installation_repositories"):
            raise ValueError(f"{event} is not an installation event")
        action = text(payload, "action")
        installation = rows.Installation(
            int(text(payload, "installation.id")),
            text(payload, "installation.account.login"),
            opt(payload, "installation.account.type"),
        )
        app_id = opt(payload, "installation.app_id")
        if event == "installation":
            added = _repositories(payload, "repositories") if action == "created" else []
            removed: list[tuple[int, str]] = []
        else:
            added = _repositories(payload, "repositories_added")
            removed = _repositories(payload, "repositories_removed")
        mapping = Mapping.from_settings(self.settings)
        services = [mapping.service_record(name) for _, name in added]
        now = self.clock()
        with self.store.transaction() as tx:
            if event == "installation" and action == "deleted":
                rows.remove_installation(tx, installation.id, now)
            elif event == "installation" and action != "created":
                pass  # suspend, unsuspend, new_permissions_accepted: nothing Headway keeps
            else:
                app = int(app_id) if isinstance(app_id, int) else 0
                rows.upsert_installation(tx, app, installation, now)
                for (repo_id, name), service in zip(added, services, strict=True):
                    rows.add_repository(tx, installation.id, repo_id, name, service.name, now)
                for repo_id, _ in removed:
                    rows.remove_repository(tx, installation.id, repo_id, now)
                if services:
                    ingest(tx, self.settings, services)
        return InstallationResult(
            installation=installation.id,
            account=installation.account,
            action=action,
            added=[name for _, name in added],
            removed=[name for _, name in removed],
            services=sorted({s.name for s in services}),
        )

    def repositories(self) -> list[tuple[int, str, str]]:
        return rows.load_repositories(self.store)
