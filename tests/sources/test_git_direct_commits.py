"""A commit pushed straight to the main line that both `headway import git` and push webhooks
report is one change holding what both knew, in either order and however often either runs.

GitHub: the repository is `Codertocat/Hello-World`, whose real push webhook
(`github/push/with-new-branch.payload.json`) put "Initial commit" on master, pushed at
1557933657 = 2019-05-15 15:20:57 UTC, its commit timestamp 15:19:25 UTC, by Codertocat:

    main:  c0 ──── c1 "Initial commit"
    tags:  v0.1@c0 (May 14 11:00)   v1.0@c1 (May 15 16:00), tagged after the first import
           (in one test c1 is first released as v0.9, May 15 15:30, a tag later deleted)

    c0  "Start", May 14 10:00 UTC (an earlier release the push did not list)
    c1  authored May 15 14:00 UTC by Ada Lovelace, committed 15:19:25 UTC (amended before the
        push), 3 lines added to 1 file

The payload is adapted only where the test needs it: its commit id and head are c1's sha.
"""

from __future__ import annotations

import copy
import json
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from headway.definitions import PRESETS
from headway.ingest import reprocess as reprocessing
from headway.ingest.git import import_repository
from headway.metrics import dora
from headway.metrics.dora import Period, Scope
from headway.sources.git import Options
from headway.sources.git.host import Host
from headway.store import Store, open_store
from tests.conftest import FIXTURES
from tests.sources.conftest import RepoBuilder, deliver_webhook

COLUMNS = (
    "id, author, title, first_commit_at, merged_at, merge_sha, additions, deletions, files, "
    "is_revert, reverts, deployment_ref"
)
ORDERS = pytest.mark.parametrize("git_first", [True, False], ids=["git-then-push", "push-then-git"])


def commit(repo: RepoBuilder, message: str, authored: str, committed: str, lines: int = 1) -> str:
    """A commit whose author time is earlier than its commit time (amended or rebased)."""
    name = f"f{len(list(repo.path.glob('*.txt')))}.txt"
    (repo.path / name).write_text("".join(f"line {i}\n" for i in range(lines)))
    repo.git("add", name)
    repo.git("commit", "-q", "--date", authored, "-m", message, date=committed)
    return repo.head()


def rows(store: Store) -> dict[str, tuple[Any, ...]]:
    return {r[0]: r[1:] for r in store.query(f"SELECT {COLUMNS} FROM changes ORDER BY id")}


def lead_time(store: Store, service: str, since: datetime, until: datetime) -> dict[str, Any]:
    metrics = dora.compute(store, PRESETS["dora"], Scope("service", service), Period(since, until))
    return dict(metrics.to_json()["change_lead_time"])


def github_push(sha: str) -> dict[str, Any]:
    body = json.loads((FIXTURES / "github/push/with-new-branch.payload.json").read_text())
    body["after"] = body["commits"][0]["id"] = body["head_commit"]["id"] = sha  # adapted
    return dict(body)


OPTS = Options(
    "Hello-World", "Codertocat/Hello-World", host=Host("github", "Codertocat/Hello-World")
)
MAY = (datetime(2019, 5, 1, tzinfo=UTC), datetime(2019, 6, 1, tzinfo=UTC))


def hello(tmp_path: Path) -> tuple[RepoBuilder, str]:
    repo = RepoBuilder(tmp_path / "hello")
    c0 = repo.commit("Start", "2019-05-14T10:00:00+00:00")
    repo.tag("v0.1", "2019-05-14T11:00:00+00:00")
    return repo, c0


def initial_commit(repo: RepoBuilder) -> str:
    return commit(
        repo, "Initial commit", "2019-05-15T14:00:00+00:00", "2019-05-15T15:19:25+00:00", lines=3
    )


def expected(c1: str, release: str) -> tuple[Any, ...]:
    """The change c1 is, holding what both sources knew."""
    return (
        "Codertocat",  # the push names the author's login; git only a name (Ada Lovelace)
        "Initial commit",
        datetime(2019, 5, 15, 14, 0),  # first commit: git's author time, before the push's 15:19:25
        datetime(2019, 5, 15, 15, 20, 57),  # reached main: the push, after git's commit time
        c1,
        3,  # size: only git knows it
        0,
        1,
        False,
        None,
        f"git:Codertocat/Hello-World/{release}",  # the release: only git knows it
    )


@ORDERS
def test_a_direct_commit_pushed_and_imported_is_one_change(
    tmp_path: Path, store: Store, engine_settings: Settings, git_first: bool
) -> None:
    repo, c0 = hello(tmp_path)
    c1 = initial_commit(repo)
    repo.tag("v0.9", "2019-05-15T15:30:00+00:00")
    push = github_push(c1)
    # Given the commit released as v0.9, imported and pushed, in either order
    if git_first:
        import_repository(store, engine_settings, repo.path, OPTS)
        deliver_webhook(store, engine_settings, "github", "push", push)
    else:
        deliver_webhook(store, engine_settings, "github", "push", push)
        import_repository(store, engine_settings, repo.path, OPTS)
    # Then it is one change holding what both knew
    direct = f"git:Codertocat/Hello-World/{c1}"
    found = rows(store)
    assert sorted(found) == sorted([f"git:Codertocat/Hello-World/{c0}", direct])
    assert found[direct] == expected(c1, "tag/v0.9")

    # When the release is cut again (v0.9 deleted, v1.0 tagged) and the repository imported
    # again, which derives the whole history again and moves the commit to v1.0
    repo.git("tag", "-d", "v0.9")
    repo.tag("v1.0", "2019-05-15T16:00:00+00:00")
    import_repository(store, engine_settings, repo.path, OPTS)
    # Then it is still one change, now shipped by v1.0, and nothing else the sources said moved
    found = rows(store)
    assert sorted(found) == sorted([f"git:Codertocat/Hello-World/{c0}", direct])
    assert found[direct] == expected(c1, "tag/v1.0")
    # And so after the push is delivered again (the same push: ignored)
    deliver_webhook(store, engine_settings, "github", "push", copy.deepcopy(push), "ignored")
    assert rows(store) == found
    # And lead time runs from git's first commit to the release: c0 v0.1 11:00 − 10:00 =
    # 3,600 s; c1 v1.0 16:00 − 14:00 = 7,200 s; median and mean (3,600 + 7,200) / 2 = 5,400 s.
    # (With the push's commit time as the start, c1 would be 16:00 − 15:19:25 = 2,435 s.)
    lead = lead_time(store, "Hello-World", *MAY)
    assert (lead["changes"], lead["median_s"], lead["mean_s"]) == (2, 5400.0, 5400.0)


@ORDERS
def test_a_pushed_commit_is_combined_by_an_incremental_import(
    tmp_path: Path, store: Store, engine_settings: Settings, git_first: bool
) -> None:
    # Given the repository imported up to c0, then c1 committed
    repo, c0 = hello(tmp_path)
    import_repository(store, engine_settings, repo.path, OPTS)
    c1 = initial_commit(repo)
    # When the next import (reading only the new commit) and the push come, in either order
    if git_first:
        import_repository(store, engine_settings, repo.path, OPTS)
        deliver_webhook(store, engine_settings, "github", "push", github_push(c1))
    else:
        deliver_webhook(store, engine_settings, "github", "push", github_push(c1))
        import_repository(store, engine_settings, repo.path, OPTS)
    # Then c1 is one change holding what both knew, in no release yet
    direct = f"git:Codertocat/Hello-World/{c1}"
    found = rows(store)
    assert sorted(found) == sorted([f"git:Codertocat/Hello-World/{c0}", direct])
    assert found[direct] == expected(c1, "undeployed")
    # And when v1.0 is tagged on it and imported (incrementally), it is shipped by v1.0
    repo.tag("v1.0", "2019-05-15T16:00:00+00:00")
    import_repository(store, engine_settings, repo.path, OPTS)
    assert rows(store)[direct] == expected(c1, "tag/v1.0")
    # And re-deriving the webhooks' records from their payloads keeps it so
    before = rows(store)
    reprocessing.reprocess(store, engine_settings)
    assert rows(store) == before
    # c0 3,600 s, c1 7,200 s (as above): median and mean 5,400 s
    lead = lead_time(store, "Hello-World", *MAY)
    assert (lead["changes"], lead["median_s"], lead["mean_s"]) == (2, 5400.0, 5400.0)


@ORDERS
def test_a_revert_only_git_recognises_survives_a_gitlab_push(
    tmp_path: Path, store: Store, engine_settings: Settings, git_first: bool
) -> None:
    # Given the project of GitLab's real push webhook (`gitlab/push.json`, mike/diaspora): it
    # lists merge request !1's merge commit (Dec 12 14:27:31+02:00) and "fixed readme"
    # (Jan 3 23:36:29+02:00 = 21:36:29 UTC, by "GitLab dev user"), pushed straight to master.
    # Adapted: the commit ids are the repository's, and "fixed readme" carries the body git
    # revert writes (its title does not say Revert, so only git sees that it is one).
    repo = RepoBuilder(tmp_path / "diaspora")
    c0 = repo.commit("Initial commit", "2011-12-10T10:00:00+00:00")
    repo.git("checkout", "-q", "-b", "some-feature")
    repo.commit("Add the changelog", "2011-12-12T10:00:00+00:00")
    repo.git("checkout", "-q", "main")
    m1 = repo.merge(
        "some-feature",
        "Merge branch 'some-feature' into 'master'\n\nRelease v1.0.0\n\n"
        "See merge request jsmith/example!1",
        "2011-12-12T14:27:31+02:00",
    )
    message = f"fixed readme\n\nThis reverts commit {c0}.\n"
    d1 = commit(repo, message, "2012-01-03T20:00:00+00:00", "2012-01-03T23:36:29+02:00", lines=2)
    repo.tag("v1.0", "2012-01-04T10:00:00+00:00")
    push = json.loads((FIXTURES / "gitlab/push.json").read_text())
    push["commits"][0]["id"] = m1
    push["commits"][1].update(id=d1, message=message)
    push["after"] = push["checkout_sha"] = d1
    opts = Options("diaspora", "mike/diaspora", host=Host("gitlab", "mike/diaspora"))
    # When the push is delivered and the repository imported, in either order, each twice
    # (the second delivery is the same push again: ignored)
    for outcome in ("accepted", "ignored"):
        if git_first:
            import_repository(store, engine_settings, repo.path, opts)
            deliver_webhook(store, engine_settings, "gitlab", "push", copy.deepcopy(push), outcome)
        else:
            deliver_webhook(store, engine_settings, "gitlab", "push", copy.deepcopy(push), outcome)
            import_repository(store, engine_settings, repo.path, opts)
    # Then the direct commit is one change holding what both knew: the revert git recognised
    found = rows(store)
    direct = f"git:mike/diaspora/{d1}"
    assert sorted(found) == sorted([f"git:mike/diaspora/{c0}", direct, "gitlab:mike/diaspora!1"])
    assert found[direct] == (
        "GitLab dev user",  # the push's author
        "fixed readme",
        datetime(2012, 1, 3, 20, 0),  # git's author time, before the push's 21:36:29
        datetime(2012, 1, 3, 21, 36, 29),  # both say 21:36:29 (GitLab sends no push time)
        d1,
        2,
        0,
        1,
        True,  # git: "This reverts commit …"
        f"git:mike/diaspora/{c0}",
        "git:mike/diaspora/tag/v1.0",
    )
    # And lead time to v1.0 (Jan 4 10:00): c0 25 d = 2,160,000 s; !1 from its first commit
    # Dec 12 10:00, 23 d = 1,987,200 s; d1 from 20:00 the day before, 50,400 s. Median
    # 1,987,200 s; mean 4,197,600 / 3 = 1,399,200 s. (From the push's 21:36:29, d1 would
    # count 44,611 s and the mean 1,397,270.333 s.)
    winter = (datetime(2011, 12, 1, tzinfo=UTC), datetime(2012, 2, 1, tzinfo=UTC))
    lead = lead_time(store, "diaspora", *winter)
    assert (lead["changes"], lead["median_s"], lead["mean_s"]) == (3, 1987200.0, 1399200.0)


def run(*args: str) -> None:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("host", ["github", "gitlab"])
def test_a_push_after_the_import_keeps_what_git_knew_and_adds_the_author(
    tmp_path: Path, engine_settings: Settings, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    # Given the repository of each host's real push webhook: c0 released as v0.1, then d1
    # pushed straight to the main line, a revert of c0 that only git sees (its title does not
    # say Revert; its body is the one `git revert` writes), released as v1.0
    repository = {"github": "Codertocat/Hello-World", "gitlab": "mike/diaspora"}[host]
    repo, c0 = hello(tmp_path)
    message = f"Initial commit\n\nThis reverts commit {c0}.\n"
    d1 = commit(repo, message, "2019-05-15T14:00:00+00:00", "2019-05-15T15:19:25+00:00", 3)
    repo.tag("v1.0", "2019-05-15T16:00:00+00:00")
    if host == "github":
        push = github_push(d1)
        push["commits"][0]["message"] = push["head_commit"]["message"] = message
    else:  # GitLab's push, listing only d1 (its author carries a name, no username)
        push = json.loads((FIXTURES / "gitlab/push.json").read_text())
        push["commits"] = [push["commits"][1]]
        push["commits"][0].update(id=d1, message=message, timestamp="2019-05-15T15:19:25Z")
        push.update(before=c0, after=d1, checkout_sha=d1)
    monkeypatch.setenv("HEADWAY_DATABASE", engine_settings.database)
    get_settings.cache_clear()
    # When `headway import git` runs first and the push webhook comes after it
    run("import", "git", str(repo.path), "--service", "app", "--repository", repository,
        "--host", f"{host}:{repository}")  # fmt: skip
    with closing(open_store(engine_settings)) as store:
        deliver_webhook(store, engine_settings, host, "push", push)
        found = rows(store)
    # Then d1 is one change: git's release, size and revert stay, the push gives its author
    direct = f"git:{repository}/{d1}"
    assert sorted(found) == sorted([f"git:{repository}/{c0}", direct])
    assert found[direct] == (
        {"github": "Codertocat", "gitlab": "GitLab dev user"}[host],  # the push's author
        "Initial commit",
        datetime(2019, 5, 15, 14, 0),  # git's author time, before the push's 15:19:25
        # reached the main line: GitHub's push time 15:20:57; GitLab sends none, so its
        # commit time, as git says too
        datetime(2019, 5, 15, 15, 20, 57) if host == "github" else datetime(2019, 5, 15, 15, 19, 25),
        d1,
        3,  # git: 3 lines added to 1 new file
        0,
        1,
        True,  # git: "This reverts commit c0"
        f"git:{repository}/{c0}",
        f"git:{repository}/tag/v1.0",  # the release that shipped it: only git knows it
    )  # fmt: skip
    # And `headway reprocess`, which derives the webhook's records again, keeps it so
    run("reprocess")
    with closing(open_store(engine_settings)) as store:
        assert rows(store) == found
