"""A pull request merged by rebase, which `headway import git` and webhooks both report, is one
change, and its commits are not direct changes as well.

GitHub's `Codertocat/Hello-World` pull request #2 (the real payloads), merged with "Rebase and
merge" instead of a merge commit:

    main:  c1 ── d1 ── a1' ── a2'
    tags:  v1.0@c1 (May 15 11:00)    v1.1@a2' (May 16 10:00)

    c1   "Initial commit", May 15 10:00 UTC, straight on main
    d1   "Bump version", May 15 14:00 UTC, straight on main
    a1'  "Update README", authored May 15 12:00 by Octo Cat   } rebased onto main by GitHub:
    a2'  "Fix a typo", authored May 15 13:00 by Octo Cat      } committed 16:00:00 and 16:00:01

Only what a rebase merge changes in the real `closed` delivery is changed: merged, merged_at
(16:00:01), merge_commit_sha (a2', the last rebased commit) and commits (2).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import reprocess as reprocessing
from headway.ingest.git import import_repository
from headway.metrics import dora
from headway.metrics.dora import Period, Scope
from headway.model import Defect
from headway.sources.git import Options
from headway.sources.git.host import Host
from headway.store import Store
from tests.sources.conftest import RepoBuilder, deliver_webhook
from tests.sources.test_git_pull_requests import COLUMNS, PR, deliver_to, payload

MAY = Period(datetime(2019, 5, 1), datetime(2019, 6, 1))


@pytest.fixture
def rebased(tmp_path: Path) -> dict[str, Any]:
    r = RepoBuilder(tmp_path / "hello")
    r.git("remote", "add", "origin", "https://github.com/Codertocat/Hello-World.git")
    sha = {"c1": r.commit("Initial commit", "2019-05-15T10:00:00+00:00")}
    r.tag("v1.0", "2019-05-15T11:00:00+00:00")
    sha["d1"] = r.commit("Bump version", "2019-05-15T14:00:00+00:00")
    sha.update(rebase_merge(r))
    return {"repo": r, "sha": sha}


def rebase_merge(r: RepoBuilder) -> dict[str, str]:
    """a1' and a2' committed onto main as GitHub's rebase merge writes them, and v1.1 on a2'."""
    sha = {}
    for name, subject, authored, committed in (
        ("a1", "Update README", "2019-05-15T12:00:00+00:00", "2019-05-15T16:00:00+00:00"),
        ("a2", "Fix a typo", "2019-05-15T13:00:00+00:00", "2019-05-15T16:00:01+00:00"),
    ):
        (r.path / f"{name}.txt").write_text(f"{subject}\n")
        r.git("add", f"{name}.txt")
        r.git("commit", "-q", "-m", subject, "--date", authored, date=committed, author="Octo Cat")
        sha[name] = r.head()
    r.tag("v1.1", "2019-05-16T10:00:00+00:00")
    return sha


def rebase_merge_deliveries(last: str) -> list[tuple[str, dict[str, Any]]]:
    closed = payload("github/pull_request/closed.payload.json")
    closed["pull_request"].update(
        merged=True, merged_at="2019-05-15T16:00:01Z", merge_commit_sha=last, commits=2
    )
    return [
        ("pull_request", payload("github/pull_request/opened.payload.json")),
        ("pull_request_review", payload("github/pull_request_review/submitted.payload.json")),
        ("pull_request", closed),
    ]


def lead_time(store: Store) -> tuple[int, float, float]:
    m = dora.compute(store, PRESETS["dora"], Scope("service", "Hello-World"), MAY).to_json()
    lead = m["change_lead_time"]
    return lead["changes"], lead["median_s"], lead["mean_s"]


@pytest.mark.parametrize("git_first", [True, False], ids=["git-then-webhooks", "webhooks-then-git"])
def test_a_rebase_merged_pull_request_is_one_change(
    rebased: dict[str, Any], store: Store, engine_settings: Settings, git_first: bool
) -> None:
    repo, sha = rebased["repo"], rebased["sha"]
    opts = Options("Hello-World", "hello", host=Host("github", "Codertocat/Hello-World"))

    def webhooks() -> None:
        for kind, body in rebase_merge_deliveries(sha["a2"]):
            deliver_to(store, engine_settings, kind, body)

    # Given the repository imported and the pull request's webhook deliveries, in either order
    if git_first:
        import_repository(store, engine_settings, repo.path, opts)
        webhooks()
    else:
        webhooks()
        import_repository(store, engine_settings, repo.path, opts)
    # Then the rebased commits a1' and a2' are the pull request, not direct changes; d1, a
    # direct commit 2 hours before them, stays one
    rows = {r[0]: r for r in store.query(f"SELECT {COLUMNS} FROM changes ORDER BY id")}
    assert sorted(rows) == sorted([f"git:hello/{sha['c1']}", f"git:hello/{sha['d1']}", PR])
    assert rows[PR][3:] == (
        "Codertocat",  # the host's login
        2,
        "Update the README with new information.",  # the host's title
        '["bug"]',
        datetime(2019, 5, 15, 12, 0),  # first commit: a1' authored 12:00 (git)
        datetime(2019, 5, 15, 15, 20, 33),  # opened (the host)
        datetime(2019, 5, 15, 15, 20, 38),  # first review (the host)
        datetime(2019, 5, 15, 16, 0, 1),  # merged: a2' committed (git)
        sha["a2"],
        2,  # a1' and a2' each add one line in one new file: 2 additions, 0 deletions, 2 files
        0,
        2,
        False,
        None,
        "git:hello/tag/v1.1",
    )
    # And lead time (first commit → release) counts three changes: c1 v1.0 11:00 − 10:00 =
    # 3,600 s; d1 v1.1 May 16 10:00 − May 15 14:00 = 72,000 s; PR #2 May 16 10:00 − May 15
    # 12:00 = 79,200 s → median 72,000 s, mean 154,800 / 3 = 51,600 s. (a1' and a2' counted
    # as direct changes as well would add 79,200 s and 75,600 s.)
    assert lead_time(store) == (3, 72000.0, 51600.0)

    # When the import runs again, the webhooks are redelivered, and a release is re-tagged
    # (the import then derives the whole history again)
    import_repository(store, engine_settings, repo.path, opts)
    for kind, body in rebase_merge_deliveries(sha["a2"]):
        deliver_to(store, engine_settings, kind, body)
    repo.git(
        "tag", "-a", "-f", "v1.1", "-m", "Release v1.1, re-tagged", sha["a2"],
        date="2019-05-16T10:00:00+00:00",
    )  # fmt: skip
    import_repository(store, engine_settings, repo.path, opts)
    # Then nothing moves
    assert {r[0]: r for r in store.query(f"SELECT {COLUMNS} FROM changes")} == rows
    assert lead_time(store) == (3, 72000.0, 51600.0)


def test_a_re_import_of_new_commits_folds_a_rebase_merge_webhooks_reported(
    tmp_path: Path, store: Store, engine_settings: Settings
) -> None:
    # Given Hello-World imported up to d1, before pull request #2 was merged
    r = RepoBuilder(tmp_path / "hello")
    r.git("remote", "add", "origin", "https://github.com/Codertocat/Hello-World.git")
    sha = {"c1": r.commit("Initial commit", "2019-05-15T10:00:00+00:00")}
    r.tag("v1.0", "2019-05-15T11:00:00+00:00")
    sha["d1"] = r.commit("Bump version", "2019-05-15T14:00:00+00:00")
    opts = Options("Hello-World", "hello", host=Host("github", "Codertocat/Hello-World"))
    import_repository(store, engine_settings, r.path, opts)
    # And then merged by rebase (a1', a2', v1.1 on a2'), which the webhooks reported
    sha.update(rebase_merge(r))
    for kind, body in rebase_merge_deliveries(sha["a2"]):
        deliver_to(store, engine_settings, kind, body)
    # When the import runs again
    report = import_repository(store, engine_settings, r.path, opts)
    # Then it read only the two new commits, and they are the pull request, as when the whole
    # history is imported at once: a1' authored 12:00 to a2' committed 16:00:01, one line in
    # one new file each, shipped by v1.1
    assert report.commits == 2
    rows = {r[0]: r for r in store.query(f"SELECT {COLUMNS} FROM changes ORDER BY id")}
    assert sorted(rows) == sorted([f"git:hello/{sha['c1']}", f"git:hello/{sha['d1']}", PR])
    assert rows[PR][7:] == (
        datetime(2019, 5, 15, 12, 0),
        datetime(2019, 5, 15, 15, 20, 33),
        datetime(2019, 5, 15, 15, 20, 38),
        datetime(2019, 5, 15, 16, 0, 1),
        sha["a2"],
        2,
        0,
        2,
        False,
        None,
        "git:hello/tag/v1.1",
    )
    # And lead time counts three changes, as in the test above: median 72,000 s, mean 51,600 s
    assert lead_time(store) == (3, 72000.0, 51600.0)


GITLAB_OPTS = Options(
    "gitlab-test", "gitlabhq/gitlab-test", host=Host("gitlab", "gitlabhq/gitlab-test")
)


def fast_forward_push(sha: dict[str, str]) -> dict[str, Any]:
    """The push that moved gitlab-test's main from c1 to b2 (the real push payload, its
    project, branch and commits replaced), listing b1 at 09:00 and b2 at 11:00."""
    push = payload("gitlab/push.json")
    template = push["commits"][0]
    push.update(
        ref="refs/heads/main", before=sha["c1"], after=sha["b2"], checkout_sha=sha["b2"],
        total_commits_count=2,
        commits=[
            {**template, "id": sha["b1"], "message": "Add viewport\n", "title": "Add viewport",
             "timestamp": "2013-12-03T09:00:00+00:00"},
            {**template, "id": sha["b2"], "message": "Scale the viewport\n",
             "title": "Scale the viewport", "timestamp": "2013-12-03T11:00:00+00:00"},
        ],
    )  # fmt: skip
    push["project"].update(path_with_namespace="gitlabhq/gitlab-test", default_branch="main")
    return push


def fast_forward_merge(last_commit: str) -> dict[str, Any]:
    """Merge request !1 (the real payload) merged fast-forward: GitLab reports no merge
    commit (merge_commit_sha null); its last commit is `last_commit`."""
    merge = payload("gitlab/merge_request.json")
    merge["object_attributes"].update(
        state="merged", action="merge", merge_commit_sha=None, updated_at="2013-12-04T10:00:00Z"
    )
    merge["object_attributes"]["last_commit"]["id"] = last_commit
    return merge


def deliver_gitlab(store: Store, settings: Settings, kind: str, body: dict[str, Any]) -> None:
    deliver_webhook(store, settings, "gitlab", kind, body)


@pytest.mark.parametrize("git_first", [True, False], ids=["git-then-webhooks", "webhooks-then-git"])
def test_a_fast_forward_merge_request_is_one_change_with_the_pushed_commits(
    tmp_path: Path, store: Store, engine_settings: Settings, git_first: bool
) -> None:
    # Given gitlabhq/gitlab-test, whose merge request !1 (the real payload: opened 2013-12-03
    # 17:23:34 by user1) was merged fast-forward, without a rebase: its commits b1 (Dec 3
    # 09:00) and b2 (Dec 3 11:00) keep their own times, two hours apart
    r = RepoBuilder(tmp_path / "gitlab-test")
    r.git("remote", "add", "origin", "git@gitlab.com:gitlabhq/gitlab-test.git")
    sha = {"c1": r.commit("Initial commit", "2013-12-01T10:00:00+00:00")}
    sha["b1"] = r.commit("Add viewport", "2013-12-03T09:00:00+00:00")
    sha["b2"] = r.commit("Scale the viewport", "2013-12-03T11:00:00+00:00")
    r.tag("v1.0", "2013-12-05T10:00:00+00:00")
    # And the webhooks: the push that moved main to b2 (the real push payload, its project,
    # branch and commits replaced by these), and the merge: GitLab reports no merge commit
    # for a fast-forward merge (merge_commit_sha null); its last commit is b2
    push = fast_forward_push(sha)
    merge, opts = fast_forward_merge(sha["b2"]), GITLAB_OPTS

    def webhooks() -> None:
        deliver_gitlab(store, engine_settings, "push", push)
        deliver_gitlab(store, engine_settings, "merge_request", merge)

    # When the repository is imported (--repository as the host names it) and the webhooks
    # arrive, in either order
    if git_first:
        import_repository(store, engine_settings, r.path, opts)
        webhooks()
    else:
        webhooks()
        import_repository(store, engine_settings, r.path, opts)
    # Then b1 and b2 are the merge request: the push headed by its last commit listed both
    rows = store.query(
        "SELECT id, first_commit_at, merged_at, merge_sha FROM changes ORDER BY first_commit_at"
    )
    assert rows == [
        (f"git:gitlabhq/gitlab-test/{sha['c1']}", datetime(2013, 12, 1, 10), datetime(2013, 12, 1, 10), sha["c1"]),
        ("gitlab:gitlabhq/gitlab-test!1", datetime(2013, 12, 3, 9), datetime(2013, 12, 3, 11), sha["b2"]),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "order",
    list(itertools.permutations(["import", "push", "merge"])),
    ids=lambda order: "-".join(order),
)
def test_a_fast_forward_merge_request_holds_its_pushed_commits_size_and_start_in_any_order(
    tmp_path: Path, store: Store, engine_settings: Settings, order: tuple[str, ...]
) -> None:
    # Given gitlabhq/gitlab-test, whose merge request !1 was merged fast-forward without a
    # rebase: b1 (authored 08:00, committed 09:00, two lines in one new file) and b2
    # (11:00, one line in another) keep their own times, two hours apart, so only the push
    # that moved main to b2 (the real push payload, adapted: listing b1 at 09:00 and b2 at
    # 11:00) says b1 is the merge request's; and a defect a JSONL import reported against b1
    # as a direct commit
    r = RepoBuilder(tmp_path / "gitlab-test")
    sha = {"c1": r.commit("Initial commit", "2013-12-01T10:00:00+00:00")}
    (r.path / "viewport.txt").write_text("width\nheight\n")
    r.git("add", "viewport.txt")
    r.git("commit", "-q", "-m", "Add viewport", "--date", "2013-12-03T08:00:00+00:00",
          date="2013-12-03T09:00:00+00:00")  # fmt: skip
    sha["b1"] = r.head()
    sha["b2"] = r.commit("Scale the viewport", "2013-12-03T11:00:00+00:00")
    r.tag("v1.0", "2013-12-05T10:00:00+00:00")
    push = fast_forward_push(sha)
    merge, opts = fast_forward_merge(sha["b2"]), GITLAB_OPTS
    b1 = f"git:gitlabhq/gitlab-test/{sha['b1']}"
    store.write([Defect("files", "BUG-7", "gitlab-test", datetime(2013, 12, 6, tzinfo=UTC),
                        change_ref=b1)])  # fmt: skip

    # When the repository is imported and the push and the merge are delivered, in this order
    steps = {
        "import": lambda: import_repository(store, engine_settings, r.path, opts),
        "push": lambda: deliver_gitlab(store, engine_settings, "push", push),
        "merge": lambda: deliver_gitlab(store, engine_settings, "merge_request", merge),
    }
    for step in order:
        steps[step]()

    # Then b1 and b2 are the merge request, as when the push comes first: from b1's author
    # time 08:00 (git's, before the push's 09:00) to b2 at 11:00, 2 + 1 = 3 lines added in
    # 2 files, shipped by v1.0 (with b1 left out of its size: 1 line in 1 file; of its start:
    # the push's 09:00)
    rows = {
        r[0]: r[1:]
        for r in store.query(
            "SELECT id, first_commit_at, merged_at, merge_sha, additions, deletions, files, "
            "deployment_ref FROM changes ORDER BY id"
        )
    }
    assert rows == {
        f"git:gitlabhq/gitlab-test/{sha['c1']}": (
            datetime(2013, 12, 1, 10), datetime(2013, 12, 1, 10), sha["c1"], 1, 0, 1,
            "git:gitlabhq/gitlab-test/tag/v1.0",
        ),
        "gitlab:gitlabhq/gitlab-test!1": (
            datetime(2013, 12, 3, 8), datetime(2013, 12, 3, 11), sha["b2"], 3, 0, 2,
            "git:gitlabhq/gitlab-test/tag/v1.0",
        ),
    }  # fmt: skip
    # And the defect found in b1 names the merge request
    assert store.query("SELECT change_ref FROM defects") == [("gitlab:gitlabhq/gitlab-test!1",)]

    # When `headway reprocess` derives the webhooks' records again and the import runs again
    # over the whole history (v1.0 re-tagged)
    reprocessing.reprocess(store, engine_settings)
    r.git(
        "tag", "-a", "-f", "v1.0", "-m", "Release v1.0, re-tagged", sha["b2"],
        date="2013-12-05T10:00:00+00:00",
    )  # fmt: skip
    import_repository(store, engine_settings, r.path, opts)
    # Then nothing moves
    assert store.query(
        "SELECT id, first_commit_at, merged_at, merge_sha, additions, deletions, files, "
        "deployment_ref FROM changes ORDER BY id"
    ) == [(k, *v) for k, v in rows.items()]
    assert store.query("SELECT change_ref FROM defects") == [("gitlab:gitlabhq/gitlab-test!1",)]
