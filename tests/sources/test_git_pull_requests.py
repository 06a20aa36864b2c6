"""A pull request that `headway import git` and webhooks both report is one change.

The `Hello-World` repository below is the one GitHub's real payloads describe
(`Codertocat/Hello-World`, pull request #2), rebuilt with exact times:

    main:  c1 ─────────────── [PR #2: a1] ─── (r1 revert of PR #2, in one test)
    tags:  v1.0@c1 (May 15 11:00)   v1.1 (May 16 10:00)   (v1.2, May 17 10:00)

    c1  "Initial commit", May 15 10:00 UTC, straight on main
    a1  "Update README", authored May 15 12:00 UTC by Octo Cat, merged May 15 16:00 UTC

Webhooks say the pull request was opened at 15:20:33 by Codertocat, first reviewed at 15:20:38,
is labelled `bug` and changed 1 file (+1 −1).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from headway.ingest.git import import_repository
from headway.sources.git import Options
from headway.sources.git.history import GitError
from headway.sources.git.host import Host, host_of_remote, parse_host
from headway.store import Store, open_store
from tests.conftest import FIXTURES
from tests.sources.conftest import RepoBuilder, deliver_webhook

runner = CliRunner()
PR = "github:Codertocat/Hello-World#2"
COLUMNS = (
    "id, service, repository, author, number, title, labels, first_commit_at, opened_at, "
    "first_review_at, merged_at, merge_sha, additions, deletions, files, is_revert, reverts, "
    "deployment_ref"
)


@pytest.fixture
def hello(tmp_path: Path) -> dict[str, Any]:
    r = RepoBuilder(tmp_path / "hello")
    r.git("remote", "add", "origin", "https://github.com/Codertocat/Hello-World.git")
    sha = {"c1": r.commit("Initial commit", "2019-05-15T10:00:00+00:00")}
    r.tag("v1.0", "2019-05-15T11:00:00+00:00")
    r.git("checkout", "-q", "-b", "patch-1")
    sha["a1"] = r.commit("Update README", "2019-05-15T14:00:00+02:00", author="Octo Cat")
    r.git("checkout", "-q", "main")
    sha["m2"] = r.merge(
        "patch-1",
        "Merge pull request #2 from Codertocat/patch-1\n\nUpdate the README with new information.",
        "2019-05-15T16:00:00+00:00",
    )
    r.tag("v1.1", "2019-05-16T10:00:00+00:00")
    return {"repo": r, "sha": sha}


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def import_git(path: Path, *extra: str) -> str:
    return run("import", "git", str(path), "--service", "Hello-World", *extra)


@contextmanager
def opened() -> Iterator[Store]:
    store = open_store(get_settings())
    try:
        yield store
    finally:
        store.close()  # the CLI opens the embedded store next


def payload(path: str) -> Any:
    return json.loads((FIXTURES / path).read_text())


def deliver(source: str, kind: str, body: dict[str, Any]) -> None:
    with opened() as store:
        deliver_webhook(store, get_settings(), source, kind, body)


def github_pull_request(merge_sha: str) -> None:
    """The real deliveries of pull request #2: opened, reviewed, then merged at 16:00."""
    for kind, body in pull_request_deliveries(merge_sha):
        deliver("github", kind, body)


def changes() -> dict[str, tuple[Any, ...]]:
    with opened() as store:
        return {r[0]: r for r in store.query(f"SELECT {COLUMNS} FROM changes ORDER BY id")}


def lead_time() -> dict[str, Any]:
    out = run(
        "metrics", "--service", "Hello-World", "--since", "2019-05-01", "--until", "2019-05-31",
        "--format", "json",
    )  # fmt: skip
    return dict(json.loads(out)["change_lead_time"])


def expected_pull_request(sha: dict[str, str]) -> tuple[Any, ...]:
    return (
        PR,
        "Hello-World",
        "Codertocat/Hello-World",
        "Codertocat",  # the host's login, not the commit's author name
        2,
        "Update the README with new information.",
        '["bug"]',  # labels: only the host knows them
        datetime(2019, 5, 15, 12, 0),  # first commit (14:00+02:00): only git knows it
        datetime(2019, 5, 15, 15, 20, 33),  # opened: the host
        datetime(2019, 5, 15, 15, 20, 38),  # first review: the host
        datetime(2019, 5, 15, 16, 0),  # merged: the merge commit
        sha["m2"],
        1,  # git's diff against main: 1 line added, none deleted (GitHub said +1 −1)
        0,
        1,
        False,
        None,
        "git:hello/tag/v1.1",  # the release that shipped it: only git knows it
    )


@pytest.mark.parametrize("git_first", [True, False], ids=["git-then-webhooks", "webhooks-then-git"])
def test_a_pull_request_fed_both_ways_is_one_change(hello: dict[str, Any], git_first: bool) -> None:
    repo, sha = hello["repo"], hello["sha"]
    # Given the repository imported (its origin is github.com/Codertocat/Hello-World) and the
    # pull request's real webhook deliveries, in either order
    if git_first:
        import_git(repo.path)
        github_pull_request(sha["m2"])
    else:
        github_pull_request(sha["m2"])
        import_git(repo.path)
    # Then there are two changes, the direct commit c1 and the pull request, whose record
    # holds what each source knew
    found = changes()
    assert sorted(found) == [f"git:hello/{sha['c1']}", PR]
    assert found[PR] == expected_pull_request(sha)
    # And lead time (first commit → release) is worked out from those two changes only:
    # c1: v1.0 11:00 − 10:00 = 3,600 s; PR #2: v1.1 May 16 10:00 − May 15 12:00 = 79,200 s;
    # interpolated median (3,600 + 79,200) / 2 = 41,400 s. (Counted twice, the webhook's copy
    # would add v1.1 − opened 15:20:33 = 67,167 s and move the median to 67,167 s.)
    lead = lead_time()
    assert (lead["changes"], lead["median_s"], lead["mean_s"]) == (2, 41400.0, 41400.0)

    # When either source says it all again (the import re-run, a delivery redelivered)
    assert "up to date" in import_git(repo.path)
    github_pull_request(sha["m2"])
    import_git(repo.path, "--host", "github:Codertocat/Hello-World")  # the same host, said
    # Then nothing moves
    assert changes() == found


def test_a_store_holding_both_copies_is_merged_by_the_next_import(hello: dict[str, Any]) -> None:
    repo, sha = hello["repo"], hello["sha"]
    # Given a revert of the pull request, released as v1.2 (May 17 10:00)
    repo.git("revert", "--no-edit", "-m", "1", sha["m2"], date="2019-05-17T09:00:00+00:00")
    sha["r1"] = repo.head()
    repo.tag("v1.2", "2019-05-17T10:00:00+00:00")
    # And a store where an import named the pull request by its merge commit (as imports did
    # before hosts were known) and webhooks reported it too: two copies
    import_git(repo.path, "--host", "none")
    github_pull_request(sha["m2"])
    old = f"git:hello/{sha['m2']}"
    assert sorted(changes()) == sorted([f"git:hello/{sha[s]}" for s in ("c1", "m2", "r1")] + [PR])
    # When the repository is imported again, its host now known
    import_git(repo.path)
    # Then one change is left for the pull request, holding what both knew, and the revert
    # names it under its new id (v1.1 shipped it and failed: the revert came after)
    found = changes()
    assert sorted(found) == sorted([f"git:hello/{sha['c1']}", f"git:hello/{sha['r1']}", PR])
    assert old not in found
    assert found[PR][:-1] == expected_pull_request(sha)[:-1]
    assert found[PR][-1] == "git:hello/tag/v1.1"
    assert found[f"git:hello/{sha['r1']}"][15:17] == (True, PR)
    # c1 3,600 s; PR #2 79,200 s; the revert: v1.2 10:00 − authored 09:00 = 3,600 s → median
    # 3,600 s, mean 86,400 / 3 = 28,800 s
    lead = lead_time()
    assert (lead["changes"], lead["median_s"], lead["mean_s"]) == (3, 3600.0, 28800.0)


def test_reprocessing_webhooks_keeps_what_the_import_added(hello: dict[str, Any]) -> None:
    repo, sha = hello["repo"], hello["sha"]
    github_pull_request(sha["m2"])
    import_git(repo.path)
    before = changes()
    run("reprocess")
    assert changes() == before


def test_a_gitlab_merge_request_fed_both_ways_is_one_change(tmp_path: Path) -> None:
    # Given a repository hosted on gitlab.com as gitlabhq/gitlab-test, whose merge request !1
    # (the real payload: opened 2013-12-03T17:23:34Z by user1, "MS-Viewport") was merged
    r = RepoBuilder(tmp_path / "gitlab-test")
    r.git("remote", "add", "origin", "git@gitlab.com:gitlabhq/gitlab-test.git")
    r.commit("Initial commit", "2013-12-01T10:00:00+00:00")
    r.git("checkout", "-q", "-b", "ms-viewport")
    r.commit("Add viewport", "2013-12-03T09:00:00+00:00")
    r.git("checkout", "-q", "main")
    merge = r.merge(
        "ms-viewport",
        "Merge branch 'ms-viewport' into 'main'\n\nMS-Viewport\n\n"
        "See merge request gitlabhq/gitlab-test!1",
        "2013-12-04T10:00:00+00:00",
    )
    r.tag("v1.0", "2013-12-05T10:00:00+00:00")
    event = payload("gitlab/merge_request.json")
    event["object_attributes"].update(
        state="merged", action="merge", merge_commit_sha=merge, updated_at="2013-12-04T10:00:01Z"
    )
    # When the merge request's webhook arrives, then the repository is imported
    deliver("gitlab", "merge_request", event)
    run("import", "git", str(r.path), "--service", "gitlab-test")
    # Then it is one change, named as GitLab names it, with the merge commit's time
    with opened() as store:
        rows = store.query(
            "SELECT id, author, opened_at, first_commit_at, merged_at, files FROM changes "
            "WHERE number IS NOT NULL"
        )
    assert rows == [
        (
            "gitlab:gitlabhq/gitlab-test!1",
            "user1",  # the host's username, not the commit's author (Ada Lovelace)
            datetime(2013, 12, 3, 17, 23, 34),
            datetime(2013, 12, 3, 9, 0),
            datetime(2013, 12, 4, 10, 0),
            1,
        )
    ]


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://github.com/Codertocat/Hello-World.git", "github:Codertocat/Hello-World"),
        ("https://github.com/Codertocat/Hello-World", "github:Codertocat/Hello-World"),
        ("git@github.com:acme/shop.git", "github:acme/shop"),
        ("ssh://git@github.com:22/acme/shop.git/", "github:acme/shop"),
        ("https://token@gitlab.com/grp/sub/app.git", "gitlab:grp/sub/app"),
        ("git@gitlab.com:grp/app.git", "gitlab:grp/app"),
        ("https://git.acme.example/acme/shop.git", None),  # self-hosted: say it with --host
        ("https://github.com/acme", None),
        ("/srv/git/shop.git", None),
    ],
)
def test_the_host_is_read_from_github_and_gitlab_remotes(url: str, host: str | None) -> None:
    found = host_of_remote(url)
    assert (str(found) if found else None) == host


def test_a_bad_host_says_what_to_pass() -> None:
    assert parse_host("gitlab:grp/sub/app") == Host("gitlab", "grp/sub/app")
    assert parse_host("none") is None
    for bad in ("github:acme", "bitbucket:acme/shop", "github:acme/shop/extra", "acme/shop"):
        with pytest.raises(GitError, match="pass github:OWNER/NAME, gitlab:GROUP/PROJECT"):
            parse_host(bad)


def test_webhooks_and_the_import_must_agree_on_the_service(hello: dict[str, Any]) -> None:
    # Webhooks put Codertocat/Hello-World in service Hello-World (its name, unmapped)
    github_pull_request(hello["sha"]["m2"])
    result = runner.invoke(app, ["import", "git", str(hello["repo"].path), "--service", "web"])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "pull requests of github:Codertocat/Hello-World are stored in service Hello-World" in (
        message
    )
    assert "import with --service Hello-World" in message
    assert set(changes()) == {PR}  # nothing was written


def test_both_engines_combine_a_new_pull_request_on_re_import(
    hello: dict[str, Any], store: Store, engine_settings: Settings
) -> None:
    repo, sha = hello["repo"], hello["sha"]
    opts = Options("Hello-World", "hello", host=Host("github", "Codertocat/Hello-World"))
    # Given pull request #2 reported by webhooks, then imported
    for kind, body in pull_request_deliveries(sha["m2"]):
        deliver_to(store, engine_settings, kind, body)
    import_repository(store, engine_settings, repo.path, opts)
    # When pull request #3 is opened (May 16 11:00), reported, merged (12:00) and imported again
    repo.git("checkout", "-q", "-b", "patch-2")
    repo.commit("Fix typo", "2019-05-16T09:30:00+00:00")
    repo.git("checkout", "-q", "main")
    sha["m3"] = repo.merge(
        "patch-2",
        "Merge pull request #3 from Codertocat/patch-2\n\nFix a typo",
        "2019-05-16T12:00:00+00:00",
    )
    opened3 = payload("github/pull_request/opened.payload.json")
    opened3["number"] = opened3["pull_request"]["number"] = 3
    opened3["pull_request"].update(title="Fix a typo", created_at="2019-05-16T11:00:00Z")
    deliver_to(store, engine_settings, "pull_request", opened3)
    import_repository(store, engine_settings, repo.path, opts)  # reads only the new commits
    # Then each pull request is one change holding both sources' facts, on either engine
    rows = store.query(f"SELECT {COLUMNS} FROM changes ORDER BY id")
    assert [r[0] for r in rows] == [f"git:hello/{sha['c1']}", PR, f"{PR[:-1]}3"]
    assert rows[1] == expected_pull_request(sha)
    assert rows[2][3:12] == (
        "Codertocat",
        3,
        "Fix a typo",
        '["bug"]',
        datetime(2019, 5, 16, 9, 30),  # git: the first commit
        datetime(2019, 5, 16, 11, 0),  # the host: opened
        None,  # not reviewed
        datetime(2019, 5, 16, 12, 0),  # git: the merge commit
        sha["m3"],
    )
    assert rows[2][-1] == "git:hello/undeployed"  # no release contains it yet


def pull_request_deliveries(merge_sha: str) -> list[tuple[str, dict[str, Any]]]:
    closed = payload("github/pull_request/closed.payload.json")
    closed["pull_request"].update(
        merged=True, merged_at="2019-05-15T16:00:00Z", merge_commit_sha=merge_sha
    )
    return [
        ("pull_request", payload("github/pull_request/opened.payload.json")),
        ("pull_request_review", payload("github/pull_request_review/submitted.payload.json")),
        ("pull_request", closed),
    ]


def deliver_to(store: Store, settings: Settings, kind: str, body: dict[str, Any]) -> None:
    deliver_webhook(store, settings, "github", kind, body)
