"""A commit pushed straight to the main line seconds before or after a pull request was merged
by rebase stays a direct change: it is not folded into the pull request, in either order of
`headway import git` and the webhooks.

GitHub's `Codertocat/Hello-World` pull request #2 (the real payloads), merged with "Rebase and
merge" by Codertocat at 16:00:01, while Ada pushes d1 straight to master 3 s before it or 3 s
after it:

    before:  c1 ── d1 ── a1' ── a2'        after:  c1 ── a1' ── a2' ── d1
    tags:    v1.0@c1 (May 15 11:00)   v1.1 on the last commit (May 16 10:00)

    c1   "Initial commit", May 15 10:00 UTC
    a1'  "Update README", authored 12:00 by Octo Cat  } written by the rebase, committed by
    a2'  "Fix a typo", authored 13:00 by Octo Cat     } Codertocat at 16:00:00 and 16:00:01
    d1   "Fix the build", authored 15:50 by Ada; before: committed 15:59:57, pushed 15:59:58;
         after (onto a2'): committed 16:00:03, pushed 16:00:04

Ada's push (the real push payload, adapted: her commit, its times) comes with the pull
request's deliveries, or is delivered late, after the `closed` one (and the push of the merge,
listing a1' and a2', pushed 16:00:02).
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import reprocess as deliveries_module
from headway.ingest.git import import_repository
from headway.metrics import dora
from headway.metrics.dora import Period, Scope
from headway.model import Defect
from headway.sources.git import Options
from headway.sources.git.host import Host
from headway.store import Store
from tests.sources.conftest import RepoBuilder, deliver_webhook
from tests.sources.test_git_direct_commits import github_push
from tests.sources.test_git_pull_requests import PR, payload
from tests.sources.test_git_rebase_merges import (
    GITLAB_OPTS,
    fast_forward_merge,
    rebase_merge_deliveries,
)

ORDERS = pytest.mark.parametrize(
    "git_first", [True, False], ids=["git-then-webhooks", "webhooks-then-git"]
)
REPOSITORY = "Codertocat/Hello-World"
CODERTOCAT = ("Codertocat", "21031067+Codertocat@users.noreply.github.com")
ADA = ("Ada Lovelace", "ada@example.org")


def commit(
    repo: RepoBuilder, subject: str, author: str, authored: str, committer: tuple[str, str], at: str
) -> str:
    """A commit in a new file whose committer and commit time are not its author's."""
    name = f"{subject.replace(' ', '-')}.txt"
    (repo.path / name).write_text(f"{subject}\n")
    repo.git("add", name)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": author,
        "GIT_AUTHOR_EMAIL": "author@example.org",
        "GIT_AUTHOR_DATE": authored,
        "GIT_COMMITTER_NAME": committer[0],
        "GIT_COMMITTER_EMAIL": committer[1],
        "GIT_COMMITTER_DATE": at,
        "GIT_CONFIG_GLOBAL": "/dev/null",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(
        ["git", "-C", str(repo.path), "commit", "-q", "-m", subject], env=env, check=True
    )
    return repo.head()


def push_of(sha: str, committed: str, pushed_at: int) -> dict[str, Any]:
    """The real push payload listing `sha` (committed at `committed`), pushed at `pushed_at`."""
    body = github_push(sha)
    body["commits"][0]["timestamp"] = body["head_commit"]["timestamp"] = committed
    body["repository"]["pushed_at"] = pushed_at  # epoch seconds
    return body


@pytest.mark.parametrize("when", ["before", "after"])
@ORDERS
def test_a_direct_push_seconds_from_a_rebase_merge_stays_a_direct_change(
    tmp_path: Path, store: Store, engine_settings: Settings, git_first: bool, when: str
) -> None:
    repo = RepoBuilder(tmp_path / "hello")
    sha = {"c1": repo.commit("Initial commit", "2019-05-15T10:00:00+00:00")}
    repo.tag("v1.0", "2019-05-15T11:00:00+00:00")

    def direct() -> None:
        at = "2019-05-15T15:59:57+00:00" if when == "before" else "2019-05-15T16:00:03+00:00"
        sha["d1"] = commit(repo, "Fix the build", "Ada", "2019-05-15T15:50:00+00:00", ADA, at)

    if when == "before":
        direct()
    for name, subject, authored, at in (
        ("a1", "Update README", "2019-05-15T12:00:00+00:00", "2019-05-15T16:00:00+00:00"),
        ("a2", "Fix a typo", "2019-05-15T13:00:00+00:00", "2019-05-15T16:00:01+00:00"),
    ):
        sha[name] = commit(repo, subject, "Octo Cat", authored, CODERTOCAT, at)
    if when == "after":
        direct()
    repo.tag("v1.1", "2019-05-16T10:00:00+00:00")
    # Ada's push: 15:59:58 = 1557935998 (before), 16:00:04 = 1557936004 (after)
    ada = push_of(
        sha["d1"],
        "2019-05-15T15:59:57Z" if when == "before" else "2019-05-15T16:00:03Z",
        1557935998 if when == "before" else 1557936004,
    )
    deliveries = [("push", ada), *rebase_merge_deliveries(sha["a2"])]
    if when == "after":  # Ada pushed after the merge
        deliveries = [*deliveries[1:], deliveries[0]]
    opts = Options("Hello-World", REPOSITORY, host=Host("github", REPOSITORY))

    # Given the repository imported and the webhooks delivered, in either order
    if git_first:
        import_repository(store, engine_settings, repo.path, opts)
    for kind, body in deliveries:
        deliver_webhook(store, engine_settings, "github", kind, body)
    if not git_first:
        import_repository(store, engine_settings, repo.path, opts)

    # Then d1 is a direct change of its own, reaching the main line when pushed (after git's
    # commit time), and pull request #2 holds a1' and a2' only
    pushed = (
        datetime(2019, 5, 15, 15, 59, 58) if when == "before" else datetime(2019, 5, 15, 16, 0, 4)
    )
    assert changes(store) == d1_kept_direct(sha, pushed)
    # And lead time counts d1 on its own
    assert_lead_time_counts_d1_on_its_own(store)


@ORDERS
def test_gitlab_commits_that_headed_their_own_pushes_still_come_with_a_fast_forward_merge(
    tmp_path: Path, store: Store, engine_settings: Settings, git_first: bool
) -> None:
    # Given gitlabhq/gitlab-test, whose merge request !1 (the real payload) was merged
    # fast-forward without a rebase: b1 (committed 11:00:00) and b2 (11:00:05) keep the shas
    # each had when it was pushed on its own to the merge request's branch (two real push
    # payloads, adapted: branch, commit); the push that moved main to b2 was not delivered
    repo = RepoBuilder(tmp_path / "gitlab-test")
    sha = {"c1": repo.commit("Initial commit", "2013-12-01T10:00:00+00:00")}
    sha["b1"] = repo.commit("Add viewport", "2013-12-03T11:00:00+00:00")
    sha["b2"] = repo.commit("Scale the viewport", "2013-12-03T11:00:05+00:00")
    repo.tag("v1.0", "2013-12-05T10:00:00+00:00")
    pushes = []
    for before, name, subject, at in (
        ("c1", "b1", "Add viewport", "2013-12-03T11:00:00+00:00"),
        ("b1", "b2", "Scale the viewport", "2013-12-03T11:00:05+00:00"),
    ):
        push = payload("gitlab/push.json")
        push.update(
            ref="refs/heads/ms-viewport", before=sha[before], after=sha[name],
            checkout_sha=sha[name], total_commits_count=1,
            commits=[{**push["commits"][1], "id": sha[name], "message": f"{subject}\n",
                      "title": subject, "timestamp": at}],
        )  # fmt: skip
        push["project"].update(path_with_namespace="gitlabhq/gitlab-test", default_branch="main")
        pushes.append(push)
    merge, opts = fast_forward_merge(sha["b2"]), GITLAB_OPTS

    # When the repository is imported and the webhooks arrive, in either order
    if git_first:
        import_repository(store, engine_settings, repo.path, opts)
    for kind, body in [("push", pushes[0]), ("push", pushes[1]), ("merge_request", merge)]:
        deliver_webhook(store, engine_settings, "gitlab", kind, body)
    if not git_first:
        import_repository(store, engine_settings, repo.path, opts)

    # Then b1, committed 5 s before b2, is the merge request's too: on GitLab a commit that
    # headed a push may come with a fast-forward merge, so only the 10 s window decides
    rows = store.query(
        "SELECT id, first_commit_at, merged_at, merge_sha, files FROM changes "
        "ORDER BY first_commit_at"
    )
    assert rows == [
        (f"git:gitlabhq/gitlab-test/{sha['c1']}", datetime(2013, 12, 1, 10), datetime(2013, 12, 1, 10), sha["c1"], 1),
        ("gitlab:gitlabhq/gitlab-test!1", datetime(2013, 12, 3, 11), datetime(2013, 12, 3, 11, 0, 5), sha["b2"], 2),
    ]  # fmt: skip


def merge_push(sha: dict[str, str]) -> dict[str, Any]:
    """The push of the rebase merge (the real push payload, adapted): main moved from d1 to
    a2', listing a1' and a2' (committed 16:00:00 and 16:00:01), pushed at 16:00:02."""
    body = github_push(sha["a2"])
    template = body["commits"][0]
    body.update(created=False, before=sha["d1"])
    body["commits"] = [
        {**template, "id": sha[name], "message": subject, "timestamp": at}
        for name, subject, at in (
            ("a1", "Update README", "2019-05-15T16:00:00Z"),
            ("a2", "Fix a typo", "2019-05-15T16:00:01Z"),
        )
    ]
    body["head_commit"] = body["commits"][-1]
    body["repository"]["pushed_at"] = 1557936002  # 2019-05-15T16:00:02Z
    return body


def direct_push_then_rebase_merge(tmp_path: Path) -> tuple[RepoBuilder, dict[str, str]]:
    """Hello-World as the module docstring draws it, d1 pushed 3 s before the merge."""
    repo, sha = initial_commit(tmp_path)
    sha.update(push_and_rebase_merge(repo))
    return repo, sha


def initial_commit(tmp_path: Path) -> tuple[RepoBuilder, dict[str, str]]:
    """Hello-World's c1, released as v1.0."""
    repo = RepoBuilder(tmp_path / "hello")
    sha = {"c1": repo.commit("Initial commit", "2019-05-15T10:00:00+00:00")}
    repo.tag("v1.0", "2019-05-15T11:00:00+00:00")
    return repo, sha


def push_and_rebase_merge(repo: RepoBuilder) -> dict[str, str]:
    """d1 committed at 15:59:57, then a1' and a2' as the rebase merge writes them; v1.1."""
    sha = {}
    sha["d1"] = commit(
        repo, "Fix the build", "Ada", "2019-05-15T15:50:00+00:00", ADA, "2019-05-15T15:59:57+00:00"
    )
    for name, subject, authored, at in (
        ("a1", "Update README", "2019-05-15T12:00:00+00:00", "2019-05-15T16:00:00+00:00"),
        ("a2", "Fix a typo", "2019-05-15T13:00:00+00:00", "2019-05-15T16:00:01+00:00"),
    ):
        sha[name] = commit(repo, subject, "Octo Cat", authored, CODERTOCAT, at)
    repo.tag("v1.1", "2019-05-16T10:00:00+00:00")
    return sha


CHANGE = "SELECT id, first_commit_at, merged_at, merge_sha, additions, files, deployment_ref"


def changes(store: Store) -> dict[str, tuple[Any, ...]]:
    return {r[0]: r[1:] for r in store.query(f"{CHANGE} FROM changes ORDER BY id")}


def d1_kept_direct(
    sha: dict[str, str], d1_pushed: datetime = datetime(2019, 5, 15, 15, 59, 58)
) -> dict[str, tuple[Any, ...]]:
    """The changes when d1 stays a direct change: c1 (v1.0); d1 with git's author time 15:50,
    the push's time, git's size (1 line, 1 file) and v1.1; pull request #2 a1' and a2' only,
    from a1' authored 12:00 to a2' at 16:00:01, one line in one new file each, v1.1. (With d1
    folded in, #2 would be 3 lines in 3 files.)"""
    return {
        f"git:{REPOSITORY}/{sha['c1']}": (
            datetime(2019, 5, 15, 10), datetime(2019, 5, 15, 10), sha["c1"], 1, 1,
            f"git:{REPOSITORY}/tag/v1.0",
        ),
        f"git:{REPOSITORY}/{sha['d1']}": (
            datetime(2019, 5, 15, 15, 50), d1_pushed, sha["d1"], 1, 1,
            f"git:{REPOSITORY}/tag/v1.1",
        ),
        PR: (
            datetime(2019, 5, 15, 12, 0), datetime(2019, 5, 15, 16, 0, 1), sha["a2"], 2, 2,
            f"git:{REPOSITORY}/tag/v1.1",
        ),
    }  # fmt: skip


def import_whole_history_again(
    store: Store, settings: Settings, repo: RepoBuilder, a2: str, opts: Options
) -> None:
    """Re-tag v1.1 (same commit and time), so the next import derives the whole history."""
    repo.git(
        "tag", "-a", "-f", "v1.1", "-m", "Release v1.1, re-tagged", a2,
        date="2019-05-16T10:00:00+00:00",
    )  # fmt: skip
    import_repository(store, settings, repo.path, opts)


def assert_lead_time_counts_d1_on_its_own(store: Store) -> None:
    """Lead time to each release counts three changes: c1 v1.0 11:00 − 10:00 = 3,600 s; d1
    May 16 10:00 − May 15 15:50 = 65,400 s; PR #2 May 16 10:00 − May 15 12:00 = 79,200 s.
    Median 65,400 s, mean 148,200 / 3 = 49,400 s. (d1 folded into PR #2 would leave two
    changes, median and mean (3,600 + 79,200) / 2 = 41,400 s.)"""
    period = Period(datetime(2019, 5, 1), datetime(2019, 6, 1))
    lead = dora.compute(store, PRESETS["dora"], Scope("service", "Hello-World"), period)
    found = lead.to_json()["change_lead_time"]
    assert (found["changes"], found["median_s"], found["mean_s"]) == (3, 65400.0, 49400.0)


@pytest.mark.parametrize(
    "late", ["after-the-merge-push", "before-the-merge-push"], ids=lambda s: f"ada-{s}"
)
def test_a_direct_push_delivered_after_a_rebase_merge_took_its_commit_is_taken_back_out(
    tmp_path: Path, store: Store, engine_settings: Settings, late: str
) -> None:
    # Given Hello-World imported with d1, a1' and a2' as direct commits (no webhook yet)
    repo, sha = direct_push_then_rebase_merge(tmp_path)
    opts = Options("Hello-World", REPOSITORY, host=Host("github", REPOSITORY))
    import_repository(store, engine_settings, repo.path, opts)
    # And a defect found in d1, imported from a file (JSONL `"type": "defect"`)
    d1 = f"git:{REPOSITORY}/{sha['d1']}"
    bug = Defect("files", "BUG-1", "Hello-World", datetime(2019, 5, 17, tzinfo=UTC), change_ref=d1)
    store.write([bug])
    # When pull request #2's deliveries come, its `closed` one taking d1 into the pull request
    # (committed 4 s before a2', and no push had said d1 came by itself), then the push of the
    # merge, and Ada's push of d1 (15:59:58 = 1557935998), delayed, comes last or before the
    # merge's push
    ada = push_of(sha["d1"], "2019-05-15T15:59:57Z", 1557935998)
    deliveries = [*rebase_merge_deliveries(sha["a2"]), ("push", merge_push(sha))]
    if late == "after-the-merge-push":
        deliveries.append(("push", ada))
    else:
        deliveries.insert(-1, ("push", ada))
    for kind, body in deliveries:
        deliver_webhook(store, engine_settings, "github", kind, body)

    # Then the store holds what Ada's push delivered first gives (the test above, "before"):
    # d1 a direct change of its own, once; pull request #2 a1' and a2' only (d1 left in, #2
    # would be 3 lines in 3 files, and d1 counted twice: in the pull request and as the push's
    # change, without a size or a release)
    rows = changes(store)
    assert rows == d1_kept_direct(sha)
    assert_lead_time_counts_d1_on_its_own(store)
    # And the defect names d1 again (the fold had pointed it at the pull request)
    assert store.query("SELECT change_ref FROM defects") == [(d1,)]

    # When `headway reprocess` derives the webhooks' records again, in the order they came,
    # and the import runs again, over the whole history (v1.1 re-tagged)
    deliveries_module.reprocess(store, engine_settings)
    import_whole_history_again(store, engine_settings, repo, sha["a2"], opts)
    # Then nothing moves
    assert changes(store) == rows
    assert store.query("SELECT change_ref FROM defects") == [(d1,)]


@pytest.mark.parametrize("merge_pushed", ["before", "after"], ids=lambda s: f"merge-push-{s}")
@pytest.mark.parametrize("history", ["whole", "new-commits"])
def test_a_direct_push_delivered_after_the_import_folded_its_commit_is_taken_back_out(
    tmp_path: Path, store: Store, engine_settings: Settings, merge_pushed: str, history: str
) -> None:
    # Given pull request #2's deliveries up to its `closed` one (merged by rebase, last commit
    # a2'), the push of the merge delivered before or after the import, and the import (of
    # the whole history, or of the commits new since c1 was imported), which folds d1 into
    # the pull request: committed 4 s before a2', and no push had said d1 came by itself
    repo, sha = initial_commit(tmp_path)
    opts = Options("Hello-World", REPOSITORY, host=Host("github", REPOSITORY))
    if history == "new-commits":
        import_repository(store, engine_settings, repo.path, opts)
    sha.update(push_and_rebase_merge(repo))
    for kind, body in rebase_merge_deliveries(sha["a2"]):
        deliver_webhook(store, engine_settings, "github", kind, body)
    if merge_pushed == "before":
        deliver_webhook(store, engine_settings, "github", "push", merge_push(sha))
    import_repository(store, engine_settings, repo.path, opts)
    if merge_pushed == "after":
        deliver_webhook(store, engine_settings, "github", "push", merge_push(sha))
    # When Ada's push of d1 (pushed 15:59:58 = 1557935998) is delivered, last
    ada = push_of(sha["d1"], "2019-05-15T15:59:57Z", 1557935998)
    deliver_webhook(store, engine_settings, "github", "push", ada)

    # Then the store holds what her push delivered first gives: d1 a direct change, once; pull
    # request #2 a1' and a2' only (d1 left in, #2 would be 3 lines in 3 files, and d1 stored
    # again by the push without a size or a release: counted twice)
    rows = changes(store)
    assert rows == d1_kept_direct(sha)
    assert_lead_time_counts_d1_on_its_own(store)

    # When `headway reprocess` derives the webhooks' records again, Ada's push is redelivered,
    # and the import runs again, over the whole history (v1.1 re-tagged)
    deliveries_module.reprocess(store, engine_settings)
    deliver_webhook(store, engine_settings, "github", "push", ada, "ignored")  # the same push
    import_whole_history_again(store, engine_settings, repo, sha["a2"], opts)
    # Then nothing moves
    assert changes(store) == rows


@pytest.mark.parametrize("ada_first", [True, False], ids=["ada-first", "ada-last"])
def test_webhooks_alone_keep_a_direct_push_out_of_a_rebase_merge_in_either_order(
    store: Store, engine_settings: Settings, ada_first: bool
) -> None:
    # Given no import, only GitHub's deliveries: Ada's push of d1 first or last, pull request
    # #2 merged by rebase, and the push of the merge (a1', a2')
    sha = {name: name[0] * 39 + name[1] for name in ("d1", "a1", "a2")}
    ada = ("push", push_of(sha["d1"], "2019-05-15T15:59:57Z", 1557935998))
    merge = [*rebase_merge_deliveries(sha["a2"]), ("push", merge_push(sha))]
    for kind, body in [ada, *merge] if ada_first else [*merge, ada]:
        deliver_webhook(store, engine_settings, "github", kind, body)
    # Then d1 is the push's direct change: committed 15:59:57, pushed 15:59:58, no size or
    # release (git's are not known); the pull request starts at a1', the earliest commit its
    # merge's push listed (16:00:00), its size the host's (1 addition in 1 file)
    assert changes(store) == {
        f"git:{REPOSITORY}/{sha['d1']}": (
            datetime(2019, 5, 15, 15, 59, 57), datetime(2019, 5, 15, 15, 59, 58), sha["d1"],
            None, None, None,
        ),
        PR: (
            datetime(2019, 5, 15, 16, 0), datetime(2019, 5, 15, 16, 0, 1), sha["a2"], 1, 1, None,
        ),
    }  # fmt: skip
