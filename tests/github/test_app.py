"""The GitHub App against a fake GitHub on 127.0.0.1: manifest, creation callback, tokens,
REST errors, pages and rate limits, and installations that register services."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app as cli
from headway.config import Settings
from headway.github.auth import InstallationTokens
from headway.github.manifest import EVENTS, PERMISSIONS, manifest
from headway.github.rest import GitHubClient, GitHubError, RateLimited
from headway.store.schema import changes, services
from tests.conftest import (
    FIXTURES,
    authorize,
    make_token,
    run_headway,
    serving,
)
from tests.github.fake_github import APP_ID, INSTALLATION, SECRET_KEY, State, keyed

runner = CliRunner()
# Tests that backfill by hand, or count the changes a pull request makes, install without the
# automatic backfill (tested on its own below).
NO_BACKFILL = {"github_backfill_on_install": False}


def test_the_manifest_asks_for_what_headway_uses() -> None:
    document = manifest("https://headway.example.com/")
    assert document["default_permissions"] == {
        "checks": "write",  # check runs listing a pull request's flags
        "contents": "read",
        "deployments": "read",
        "metadata": "read",
        "pull_requests": "write",  # the comment linking to the flags
    }
    assert set(document["default_events"]) == {
        "push",
        "pull_request",
        "pull_request_review",
        "deployment",
        "deployment_status",
        "release",
        "check_suite",
        "check_run",
    }
    assert document["hook_attributes"] == {
        "url": "https://headway.example.com/hooks/github-app",
        "active": True,
    }
    assert document["redirect_url"] == "https://headway.example.com/github/app/callback"
    assert document["default_permissions"] == PERMISSIONS
    assert list(EVENTS) == document["default_events"]


def test_the_cli_prints_the_manifest_and_where_to_post_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HEADWAY_SECRET_KEY", SECRET_KEY)
    result = runner.invoke(
        cli, ["github", "app-manifest", "--url", "https://h.example.com", "--organization", "acme"]
    )
    assert result.exit_code == 0, result.output
    printed = result.stdout
    document = json.loads(printed)
    assert document["url"] == "https://h.example.com"
    assert "https://github.com/organizations/acme/settings/apps/new?state=" in result.stderr

    refused = runner.invoke(cli, ["github", "app-manifest", "--url", "ftp://h.example.com"])
    assert refused.exit_code == 2
    assert "needs https://" in refused.output


def _sign(secret: str, body: bytes) -> dict[str, str]:
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "Content-Type": "application/json"}


def test_the_app_is_made_installed_and_its_repositories_become_services(
    engine_settings: Settings, state: State, url: str
) -> None:
    settings = keyed(engine_settings, url)
    with TestClient(create_app(settings)) as http:
        authorize(http, "admin")
        # Given an admin asks for the manifest
        started = http.post("/api/github/manifest", json={"url": "https://h.example.com"})
        assert started.status_code == 200, started.text
        token = started.json()["state"]

        # When GitHub sends the browser back with a code and that state (no token needed)
        del http.headers["Authorization"]
        done = http.get("/github/app/callback", params={"code": "good-code", "state": token})

        # Then the app is stored, and no answer carries its secrets
        assert done.status_code == 200, done.text
        assert done.json()["id"] == APP_ID
        assert (
            done.json()["install_url"] == "https://github.com/apps/headway-acme/installations/new"
        )
        again = http.get("/github/app/callback", params={"code": "good-code", "state": token})
        assert again.status_code == 403  # a state works once
        bad = http.get("/github/app/callback", params={"code": "../x", "state": token})
        assert bad.status_code == 422  # the code is refused by its documented pattern
        authorize(http, "admin")
        shown = http.get("/api/github/app")
        assert shown.status_code == 200
        for answer in (done, shown):
            assert state.webhook_secret not in answer.text
            assert "PRIVATE KEY" not in answer.text
            assert "client_secret" not in answer.text

        # When the app is installed on Codertocat/Hello-World, then given Codertocat/Space
        created = (FIXTURES / "github/installation/created.payload.json").read_bytes()
        hook = http.post(
            "/hooks/github-app",
            content=created,
            headers={**_sign(state.webhook_secret, created), "X-GitHub-Event": "installation"},
        )
        assert hook.status_code == 200, hook.text
        assert hook.json()["services"] == ["Hello-World"]
        added = (FIXTURES / "github/installation_repositories/added.payload.json").read_bytes()
        event = {"X-GitHub-Event": "installation_repositories"}
        more = http.post(
            "/hooks/github-app",
            content=added,
            headers={**_sign(state.webhook_secret, added), **event},
        )
        assert more.json()["added"] == ["Codertocat/Space"]

        # Then both repositories are services Headway knows
        repos = http.get("/api/github/repositories").json()
        assert [(r["repository"], r["service"]) for r in repos] == [
            ("Codertocat/Hello-World", "Hello-World"),
            ("Codertocat/Space", "Space"),
        ]
        store = http.app.state.store  # type: ignore[attr-defined]
        s = services.c
        rows = store.rows(select(s.name, s.repository).order_by(s.name))
        assert [tuple(r) for r in rows] == [
            ("Hello-World", "Codertocat/Hello-World"),
            ("Space", "Codertocat/Space"),
        ]

        # A delivery not signed with the app's secret changes nothing
        forged = http.post(
            "/hooks/github-app",
            content=added,
            headers={**_sign("guess", added), **event},
        )
        assert forged.status_code == 401
        ping = http.post(
            "/hooks/github-app",
            content=b"{}",
            headers={
                **_sign(state.webhook_secret, b"{}"),
                "X-GitHub-Event": "ping",
                "X-GitHub-Delivery": "d-ping",
            },
        )
        assert ping.status_code == 202  # kept raw, as /hooks/github keeps it
        assert ping.json()["outcome"] == "ignored"


def test_an_unknown_code_is_githubs_404(engine_settings: Settings, state: State, url: str) -> None:
    settings = keyed(engine_settings, url)
    with TestClient(create_app(settings)) as http:
        authorize(http, "admin")
        token = http.post("/api/github/manifest", json={"url": "https://h.example.com"})
        answer = http.get(
            "/github/app/callback", params={"code": "stale-code", "state": token.json()["state"]}
        )
        assert answer.status_code == 502
        assert "GitHub answered 404" in answer.json()["error"]
        assert http.get("/api/github/app").status_code == 404  # nothing was stored


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def test_installation_tokens_are_reused_then_renewed_before_expiry(state: State, url: str) -> None:
    clock = Clock()
    state.clock = clock  # GitHub's clock and Headway's agree, and move together
    with GitHubClient(url) as client:
        tokens = InstallationTokens(client, APP_ID, state.pem, clock)
        issued = len(state.tokens_issued)

        first = tokens.token(INSTALLATION)
        clock.now += timedelta(minutes=54)  # 6 minutes left: still used
        assert tokens.token(INSTALLATION) == first
        clock.now += timedelta(minutes=2)  # 4 minutes left: renewed
        second = tokens.token(INSTALLATION)

    assert second != first
    assert state.tokens_issued[issued:] == [first, second]


def test_a_wrong_key_or_installation_is_refused(state: State, url: str) -> None:
    from tests.github.fake_github import private_key

    with GitHubClient(url) as client:
        with pytest.raises(GitHubError) as refused:
            InstallationTokens(client, APP_ID, private_key()).token(INSTALLATION)
        assert refused.value.status == 401
        with pytest.raises(GitHubError, match="404"):
            InstallationTokens(client, APP_ID, state.pem).token(999)


@pytest.fixture
def installed(state: State, url: str) -> Iterator[tuple[GitHubClient, str]]:
    with GitHubClient(url) as client:
        yield client, InstallationTokens(client, APP_ID, state.pem).token(INSTALLATION)


def test_pages_are_followed_with_progress(installed: tuple[GitHubClient, str]) -> None:
    client, token = installed
    seen: list[int] = []
    numbers = [
        p["number"]
        for p in client.paginate(
            "/repos/acme/shop/pulls", token=token, params={"state": "closed"}, progress=seen.append
        )
    ]
    assert numbers == list(range(1, 251))  # 250 pull requests in pages of 100
    assert seen == [100, 200, 250]
    assert client.rate_limit is not None
    assert (client.rate_limit.limit, client.rate_limit.remaining) == (5000, 4999)


@pytest.mark.parametrize(
    ("repo", "token", "status", "message"),
    [
        ("shop", "ghs_wrong", 401, "Bad credentials"),
        ("forbidden", None, 403, "Resource not accessible by integration"),
        ("private", None, 404, "Not Found"),
    ],
)
def test_refusals_say_what_github_answered(
    installed: tuple[GitHubClient, str], repo: str, token: str | None, status: int, message: str
) -> None:
    client, good = installed
    with pytest.raises(GitHubError) as refused:
        list(client.paginate(f"/repos/acme/{repo}/pulls", token=token or good))
    assert refused.value.status == status
    assert message in str(refused.value)


def test_a_422_names_the_field(installed: tuple[GitHubClient, str]) -> None:
    client, token = installed
    with pytest.raises(GitHubError) as refused:
        client.json("POST", "/repos/acme/shop/check-runs", token=token, json={"name": "flags"})
    assert refused.value.status == 422
    assert "head_sha missing_field" in str(refused.value)


def test_a_spent_rate_limit_waits_for_the_reset_once(state: State, url: str) -> None:
    slept: list[float] = []
    with GitHubClient(url, sleep=slept.append, max_wait=60) as client:
        _limited(state, client, slept)


def _limited(state: State, client: GitHubClient, slept: list[float]) -> None:
    token = InstallationTokens(client, APP_ID, state.pem).token(INSTALLATION)

    state.limited, state.reset_in = 1, 30  # the next answer is a spent limit, reset in 30 s
    assert len(list(client.paginate("/repos/acme/shop/pulls", token=token))) == 250
    assert len(slept) == 1
    assert 29 <= slept[0] <= 31.5  # until the reset, plus a second

    state.limited, state.reset_in = 1, 3600  # an hour away: over max_wait, not waited for
    with pytest.raises(RateLimited, match="rate limit is spent until"):
        list(client.paginate("/repos/acme/shop/pulls", token=token))
    assert len(slept) == 1


def test_links_off_the_api_host_are_not_followed(url: str) -> None:
    with GitHubClient(url) as client, pytest.raises(GitHubError, match="refusing to follow"):
        client.request("GET", "https://elsewhere.example/steal")


PATCH = """\
@@ -1,6 +1,7 @@
 def checkout(client, user):
-    if client.get_boolean_value("old-banner", False):
-        show_banner()
+    if client.get_boolean_value("new-checkout", False):
+        return new_checkout(user)
     theme = client.get_string_value("dark-mode", "light")
"""


def test_a_flagged_pull_request_gets_one_check_run(
    engine_settings: Settings, state: State, url: str
) -> None:
    settings = keyed(engine_settings, url).model_copy(update=NO_BACKFILL)
    state.codes = {"good-code"}
    state.pull_files["Codertocat/Hello-World#2"] = [
        {"filename": "shop/checkout.py", "status": "modified", "patch": PATCH},
        {"filename": "logo.png", "status": "added"},  # binary: no patch
    ]
    with TestClient(create_app(settings)) as http:
        authorize(http, "admin")
        started = http.post(
            "/api/github/manifest", json={"url": "https://headway.example.com"}
        ).json()
        made = http.get(
            "/github/app/callback", params={"code": "good-code", "state": started["state"]}
        )
        assert made.status_code == 200, made.text
        created = {"key": "dark-mode", "type": "string", "owner": "web"}
        created["variants"] = [{"key": "dark", "value": "dark"}, {"key": "light", "value": "light"}]
        assert http.post("/api/flags", json=created).status_code == 201

        # When the pull request opens
        opened = (FIXTURES / "github/pull_request/opened.payload.json").read_bytes()
        event = {"X-GitHub-Event": "pull_request", "X-GitHub-Delivery": "d-opened"}
        answer = http.post(
            "/hooks/github-app",
            content=opened,
            headers={**_sign(state.webhook_secret, opened), **event},
        )

        # Then its flags are linked: new-checkout added, dark-mode used, old-banner removed
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["flags"] == {
            "dark-mode": "used",
            "new-checkout": "added",
            "old-banner": "removed",
        }
        # new-checkout is new to Headway: created off everywhere, owned by the PR's author
        assert body["created"] == ["new-checkout"]
        flag = http.get("/api/flags/new-checkout").json()
        assert flag["owner"] == "Codertocat"
        assert not any(env["enabled"] for env in flag["environments"].values())

        # And one check run lists them, linking to each flag
        (run,) = state.check_runs.values()
        assert run["head_sha"] == "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
        assert run["output"]["title"] == "Flags: 1 added, 1 used, 1 removed"
        assert (
            "[`new-checkout`](https://headway.example.com/flags/new-checkout)"
            in (run["output"]["text"])
        )
        assert "added (new in Headway, off everywhere)" in run["output"]["text"]

        # When the same head is delivered again (synchronize), the check run is updated
        again = (FIXTURES / "github/pull_request/synchronize.payload.json").read_bytes()
        event["X-GitHub-Delivery"] = "d-synchronize"
        second = http.post(
            "/hooks/github-app",
            content=again,
            headers={**_sign(state.webhook_secret, again), **event},
        )
        assert second.status_code == 200, second.text
        assert second.json()["check_run"] == run["id"]
        assert second.json()["created"] == []  # new-checkout exists now
        assert len(state.check_runs) == 1
        assert state.requests.count("PATCH /repos/Codertocat/Hello-World/check-runs/1") == 1

        # Closing changes no code: no check run work, but the change is recorded as the
        # /hooks/github path records it, once per delivery
        closed = (FIXTURES / "github/pull_request/closed.payload.json").read_bytes()
        event["X-GitHub-Delivery"] = "d-closed"
        stored = http.post(
            "/hooks/github-app",
            content=closed,
            headers={**_sign(state.webhook_secret, closed), **event},
        )
        assert stored.status_code == 200, stored.text
        assert stored.json()["outcome"] == "accepted"
        assert len(state.check_runs) == 1
        store = http.app.state.store  # type: ignore[attr-defined]
        assert store.rows(select(changes.c.number)) == [(2,)]


def test_backfill_reads_merged_pull_requests_page_by_page(
    engine_settings: Settings, state: State, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the app is made and installed on Codertocat/Hello-World
    settings = keyed(engine_settings, url).model_copy(update=NO_BACKFILL)
    with TestClient(create_app(settings)) as http:
        authorize(http, "admin")
        started = http.post("/api/github/manifest", json={"url": "https://h.example.com"}).json()
        http.get("/github/app/callback", params={"code": "good-code", "state": started["state"]})
        created = (FIXTURES / "github/installation/created.payload.json").read_bytes()
        installed = http.post(
            "/hooks/github-app",
            content=created,
            headers={**_sign(state.webhook_secret, created), "X-GitHub-Event": "installation"},
        )
        assert installed.status_code == 200
    # and the repository has 150 closed pull requests, the 75 odd-numbered ones merged
    state.items = 150

    # When the CLI backfills it on the same store
    monkeypatch.setenv("HEADWAY_DATABASE", settings.database)
    monkeypatch.setenv("HEADWAY_GITHUB_API_URL", url)
    monkeypatch.setenv("HEADWAY_SECRET_KEY", SECRET_KEY)
    from headway.config import get_settings

    get_settings.cache_clear()
    result = runner.invoke(cli, ["github", "backfill", "Codertocat/Hello-World"])

    # Then the merged ones are changes, read in two pages with progress shown
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["merged_pull_requests"], answer["releases"]) == (75, 2)
    assert answer["new"]["changes"] == 75
    assert "Codertocat/Hello-World: 100 pull requests read" in result.stderr
    assert "Codertocat/Hello-World: 150 pull requests read" in result.stderr
    # (releases are deployments only where the service says so: none here)

    refused = runner.invoke(cli, ["github", "backfill", "Codertocat/Unknown"])
    assert refused.exit_code == 2
    assert "no installation of the app grants Codertocat/Unknown" in refused.output


def test_backfill_through_a_server_answers_as_it_does_on_the_store(
    tmp_path: Path, state: State, url: str
) -> None:
    # Given the app is made and installed on Codertocat/Hello-World, in a store a server runs on
    database = str(tmp_path / "served.duckdb")
    settings = Settings(database=database, github_api_url=url, secret_key=SECRET_KEY, **NO_BACKFILL)
    with TestClient(create_app(settings)) as http:
        authorize(http, "admin")
        started = http.post("/api/github/manifest", json={"url": "https://h.example.com"}).json()
        http.get("/github/app/callback", params={"code": "good-code", "state": started["state"]})
        created = (FIXTURES / "github/installation/created.payload.json").read_bytes()
        installed = http.post(
            "/hooks/github-app",
            content=created,
            headers={**_sign(state.webhook_secret, created), "X-GitHub-Event": "installation"},
        )
        assert installed.status_code == 200
    state.items = 150
    env = {
        **os.environ,
        "HEADWAY_DATABASE": database,
        "HEADWAY_GITHUB_API_URL": url,
        "HEADWAY_SECRET_KEY": SECRET_KEY,
        "HEADWAY_ROLLOUT_INTERVAL": "0",
    }
    admin = make_token(env, "admin")
    viewer = make_token(env, "viewer")
    with serving(env) as served:
        remote = {**env, "HEADWAY_URL": served, "HEADWAY_TOKEN": admin}

        # When the CLI backfills through the server
        done = run_headway("github", "backfill", "Codertocat/Hello-World", env=remote)

        # Then the server read and stored the 75 merged pull requests and 2 releases
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == {
            "repository": "Codertocat/Hello-World",
            "merged_pull_requests": 75,
            "releases": 2,
            "new": {"changes": 75},
        }
        # and a second backfill reads the same and adds nothing
        again = run_headway("github", "backfill", "Codertocat/Hello-World", env=remote)
        assert again.returncode == 0, again.stderr
        assert json.loads(again.stdout)["new"] == {}
        # A repository no installation grants is refused with the store's own words
        refused = run_headway("github", "backfill", "Codertocat/Unknown", env=remote)
        assert refused.returncode == 2
        assert "no installation of the app grants Codertocat/Unknown" in refused.stderr
        assert refused.stdout == ""
        # and a viewer may not start one
        weak = run_headway(
            "github", "backfill", "Codertocat/Hello-World", env={**remote, "HEADWAY_TOKEN": viewer}
        )
        assert weak.returncode == 2
        assert "admin" in weak.stderr


def test_an_installation_backfills_each_granted_repository_after_answering(
    engine_settings: Settings, state: State, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="headway.github")
    settings = keyed(engine_settings, url)
    state.items = 150  # 150 closed pull requests, the 75 odd-numbered ones merged
    with TestClient(create_app(settings)) as http:
        authorize(http, "admin")
        started = http.post("/api/github/manifest", json={"url": "https://h.example.com"}).json()
        http.get("/github/app/callback", params={"code": "good-code", "state": started["state"]})
        created = (FIXTURES / "github/installation/created.payload.json").read_bytes()
        installed = http.post(
            "/hooks/github-app",
            content=created,
            headers={**_sign(state.webhook_secret, created), "X-GitHub-Event": "installation"},
        )
        # GitHub gets its answer, naming what is read next; the reading follows it
        assert installed.status_code == 200
        assert installed.json()["backfilling"] == ["Codertocat/Hello-World"]
        store = http.app.state.store  # type: ignore[attr-defined]
        assert len(store.rows(select(changes.c.number))) == 75
    messages = [r.getMessage() for r in caplog.records if r.name == "headway.github"]
    assert "github backfill of Codertocat/Hello-World: 100 pull requests read" in messages
    assert "github backfill of Codertocat/Hello-World: 150 pull requests read" in messages
    assert messages[-1].startswith(
        "github backfill of Codertocat/Hello-World done: 75 merged pull requests, 2 releases"
    )


def test_a_backfill_github_refuses_is_logged_with_how_to_retry(
    engine_settings: Settings, state: State, url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="headway.github")
    settings = keyed(engine_settings, url)
    with TestClient(create_app(settings)) as http:
        authorize(http, "admin")
        started = http.post("/api/github/manifest", json={"url": "https://h.example.com"}).json()
        http.get("/github/app/callback", params={"code": "good-code", "state": started["state"]})
        state.limited, state.reset_in = 100, 3600  # the rate limit is spent for an hour
        created = (FIXTURES / "github/installation/created.payload.json").read_bytes()
        installed = http.post(
            "/hooks/github-app",
            content=created,
            headers={**_sign(state.webhook_secret, created), "X-GitHub-Event": "installation"},
        )
        assert installed.status_code == 200  # the installation itself is kept
        assert http.get("/api/github/repositories").json()[0]["service"] == "Hello-World"
    [warning] = [r for r in caplog.records if r.levelname == "WARNING"]
    assert warning.getMessage().startswith("github backfill of Codertocat/Hello-World failed: ")
    assert warning.getMessage().endswith(
        "retry with `headway github backfill Codertocat/Hello-World`"
    )
