"""A push straight to the default branch, with no pull or merge request, is a change."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import get_settings
from headway.store import Store, open_store
from tests.api.conftest import SECRETS, Hooks, body_of, fixture, rows, with_secrets
from tests.sources.conftest import RepoBuilder

CHANGES = "SELECT id, service, author, title, first_commit_at, merged_at, merge_sha FROM changes"
INITIAL = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"


def test_a_github_push_to_the_default_branch_is_a_change_of_its_own(
    hooks: Hooks, store: Store
) -> None:
    # Given the real push that created master with its first commit, no pull request
    answer = hooks.github("push", fixture("github/push/with-new-branch.payload.json"))
    assert (answer.status_code, answer.json()["records"]) == (200, 2)  # 1 commit seen, 1 change
    # Then the commit is a change with the id the git importer gives it; it was committed at
    # 2019-05-15T15:19:25Z and reached master at repository.pushed_at = 1557933657, which is
    # 2019-05-15 (1557878400) + 55257 s = 15:20:57 UTC
    assert rows(store, CHANGES) == [
        (
            f"git:Codertocat/Hello-World/{INITIAL}",
            "Hello-World",
            "Codertocat",
            "Initial commit",
            datetime(2019, 5, 15, 15, 19, 25),
            datetime(2019, 5, 15, 15, 20, 57),
            INITIAL,
        )
    ]


def test_pushes_elsewhere_are_not_changes(hooks: Hooks, store: Store) -> None:
    # A deleted tag (the real fixture) lists no commits; the same commit pushed to a feature
    # branch is seen (for first-commit times) but is not on the main line yet.
    assert hooks.github("push", fixture("github/push/payload.json")).status_code == 202
    branch = fixture("github/push/with-new-branch.payload.json")
    branch["ref"] = "refs/heads/feature"
    assert hooks.github("push", branch).json()["records"] == 1
    assert rows(store, "SELECT count(*) FROM changes") == [(0,)]
    assert rows(store, "SELECT count(*) FROM seen_commits") == [(1,)]


def test_a_gitlab_push_counts_only_the_commits_after_the_merge_request(
    client: TestClient, store: Store
) -> None:
    # The real push lists a merge commit ("See merge request jsmith/example!1": the merge
    # request is that change) and then "fixed readme", pushed on top of it directly.
    answer = client.post(
        "/hooks/gitlab",
        content=body_of(fixture("gitlab/push.json")),
        headers={
            "X-Gitlab-Token": SECRETS["gitlab_webhook_secret"],
            "X-Gitlab-Event": "Push Hook",
            "Content-Type": "application/json",
        },
    )
    assert (answer.status_code, answer.json()["records"]) == (200, 3)  # 2 commits seen, 1 change
    # 2012-01-03T23:36:29+02:00 = 21:36:29 UTC; GitLab sends no push time, so the push's newest
    # commit (this one) is when it reached master
    sha = "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    assert rows(store, CHANGES) == [
        (
            f"git:mike/diaspora/{sha}",
            "diaspora",
            "GitLab dev user",
            "fixed readme",
            datetime(2012, 1, 3, 21, 36, 29),
            datetime(2012, 1, 3, 21, 36, 29),
            sha,
        )
    ]


def test_a_rebase_merged_pull_request_is_one_change(hooks: Hooks, store: Store) -> None:
    # A rebase merge writes no pull request number into the commits; the pull request's merge
    # commit is the push's head, which is how the push is known to be the pull request's.
    head = "c" * 40
    pr = fixture("github/pull_request/closed.payload.json")
    pr["pull_request"].update(merged=True, merged_at="2019-05-15T16:00:00Z", merge_commit_sha=head)
    push = fixture("github/push/with-new-branch.payload.json")
    push.update(
        before=INITIAL,
        after=head,
        created=False,
        commits=[
            {"id": "b" * 40, "message": "Tidy", "timestamp": "2019-05-15T10:00:00Z"},
            {"id": head, "message": "Add greeting", "timestamp": "2019-05-15T11:00:00Z"},
        ],
    )
    # The pull request first, then the push: no direct change is created (the other order is
    # test_a_merged_pull_request_gets_its_first_commit_from_the_push_that_merged_it)
    hooks.github("pull_request", pr)
    hooks.github("push", push)
    assert rows(store, "SELECT id, first_commit_at FROM changes") == [
        ("github:Codertocat/Hello-World#2", datetime(2019, 5, 15, 10, 0))  # the earlier commit
    ]


def test_a_direct_commit_imported_from_git_and_pushed_is_one_change(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from headway.cli import app

    # Given the repository imported with `headway import git --repository Codertocat/Hello-World`
    repo = RepoBuilder(tmp_path / "hello")
    sha = repo.commit("Initial commit", "2019-05-15T15:19:25+00:00")
    imported = CliRunner().invoke(
        app,
        [
            "import",
            "git",
            str(repo.path),
            "--service",
            "Hello-World",
            "--repository",
            "Codertocat/Hello-World",
            "--no-deployments",
        ],
    )
    assert imported.exit_code == 0, imported.output
    # When GitHub delivers the push of that same commit to master
    push = fixture("github/push/with-new-branch.payload.json")
    push["after"] = push["head_commit"]["id"] = push["commits"][0]["id"] = sha
    settings = with_secrets(get_settings())
    with TestClient(create_app(settings)) as client:
        assert Hooks(client).github("push", push).json()["outcome"] == "accepted"
    # Then it is one change, under the id both paths give it
    store = open_store(settings)
    try:
        assert rows(store, "SELECT id FROM changes") == [(f"git:Codertocat/Hello-World/{sha}",)]
    finally:
        store.close()
