"""One change two sources report, combined field by field; rebase merges decided on values."""

from __future__ import annotations

from datetime import UTC, datetime

from headway.ingest import combine
from headway.model import Change

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def at(second: int) -> datetime:
    return T0.replace(second=second)


def commit(sha: str, second: int) -> Change:
    """A direct change the git import stored for commit `sha`."""
    return Change("git", f"r/{sha}", "shop", merge_sha=sha, merged_at=at(second))


def test_the_git_import_over_a_stored_webhook_request_keeps_the_hosts_words() -> None:
    hook = Change(
        "github",
        "o/r#7",
        "shop",
        author="ana",
        title="Fix cart",
        labels=("bug",),
        opened_at=at(4),
        merged_at=at(21),
        merge_sha="f0",
    )
    git = Change(
        "github",
        "o/r#7",
        "shop",
        author="Ana B",
        title="Fix cart (#7)",
        first_commit_at=at(1),
        merged_at=at(20),
        merge_sha="f0",
        additions=12,
        files=2,
        deployment_ref="git:r/tag/v1",
    )
    both = combine.from_git(hook, git)
    assert (both.author, both.title, both.labels, both.opened_at) == (
        "ana",
        "Fix cart",
        ("bug",),
        at(4),
    )
    assert (both.merged_at, both.additions, both.files, both.deployment_ref) == (
        at(20),
        12,
        2,
        "git:r/tag/v1",
    )
    assert both.first_commit_at == at(1)


def test_a_direct_commit_both_report_reached_the_main_line_at_the_later_time() -> None:
    git = Change("git", "r/abc", "shop", merge_sha="abc", merged_at=at(10), additions=3)
    push = Change("git", "r/abc", "shop", author="ana", title="Tidy", merged_at=at(12))
    both = combine.from_host(git, push)
    assert (both.merged_at, both.additions, both.author, both.merge_sha) == (
        at(12),
        3,
        "ana",
        "abc",
    )


def test_a_fold_adds_the_sizes_and_starts_at_the_earliest_commit() -> None:
    last = Change("git", "r/l", "shop", first_commit_at=at(10), additions=5, deletions=1, files=1)
    member = Change("git", "r/m", "shop", first_commit_at=at(3), additions=2, deletions=0, files=1)
    unsized = Change("git", "r/u", "shop", first_commit_at=at(30))
    folded = combine.folded(last, [member])
    assert (folded.first_commit_at, folded.additions, folded.deletions, folded.files) == (
        at(3),
        7,
        1,
        2,
    )
    assert combine.folded(last, [member, unsized]).additions is None  # a size not known


def test_a_rebase_merge_takes_the_direct_commits_within_ten_seconds_of_its_last() -> None:
    last = commit("l", 20)
    before = [commit("a", 15), commit("b", 12), commit("c", 5)]  # newest first
    # a and b landed 5 s and 8 s before the last commit; c, 15 s before, came by itself
    assert combine.taken(last, before, pushed=set(), alone=set()) == before[:2]
    # a commit the push of the merge listed came with it, however early
    assert combine.taken(last, before, pushed={"c"}, alone=set()) == before
    # a commit that headed a push of its own stops the walk (GitHub)
    assert combine.taken(last, before, pushed=set(), alone={"b"}) == before[:1]
    # so does another request
    request = Change("github", "o/r#6", "shop", number=6, merge_sha="q", merged_at=at(18))
    assert combine.taken(last, [request, *before], pushed=set(), alone=set()) == []
