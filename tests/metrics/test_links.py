"""Links to where a record came from: built from checked parts only."""

from __future__ import annotations

import pytest

from headway.metrics.links import Bases, change_url, commit_url, host_of, page_url

SHA = "0123456789abcdef0123456789abcdef01234567"


def test_a_github_pull_request_links_to_its_page() -> None:
    assert change_url("github", "acme/checkout", 42, SHA) == (
        "https://github.com/acme/checkout/pull/42"
    )


def test_a_direct_commit_links_to_the_commit() -> None:
    assert change_url("github", "acme/checkout", None, SHA) == (
        f"https://github.com/acme/checkout/commit/{SHA}"
    )


def test_gitlab_links_to_merge_requests_and_commits_of_subgroups() -> None:
    assert change_url("gitlab", "acme/shop/cart", 7, None) == (
        "https://gitlab.com/acme/shop/cart/-/merge_requests/7"
    )
    assert commit_url("gitlab", "acme/cart", "ABCDEF1") == (
        "https://gitlab.com/acme/cart/-/commit/abcdef1"
    )


def test_a_configured_base_serves_a_self_hosted_host() -> None:
    bases = Bases(github="https://git.example.com/")
    assert commit_url("github", "acme/api", "abcdef1", bases) == (
        "https://git.example.com/acme/api/commit/abcdef1"
    )


@pytest.mark.parametrize(
    ("host", "repository", "number", "sha"),
    [
        (None, "acme/checkout", 42, SHA),  # no host known
        ("git", "acme/checkout", 42, SHA),  # not a host
        ("github", "checkout", 42, SHA),  # GitHub wants owner/name
        ("github", "acme/shop/cart", 42, SHA),  # and no subgroups
        ("github", "javascript:alert(1)//x/y", 42, SHA),
        ("github", "acme/../evil", 42, SHA),  # climbs out of the repository
        ("gitlab", "acme/..", 3, None),
        ("github", "acme/checkout", 0, SHA),  # not a request number
        ("github", "acme/checkout", None, "main"),  # not a sha
        ("github", "acme/checkout", None, "abc12"),  # too short to name a commit
        ("github", "acme/checkout", None, None),
        ("github", None, 42, SHA),
    ],
)
def test_malformed_or_missing_parts_give_no_link(
    host: str | None, repository: str | None, number: int | None, sha: str | None
) -> None:
    assert change_url(host, repository, number, sha) is None


def test_a_base_that_is_not_https_gives_no_link() -> None:
    for base in ("http://git.example.com", "javascript:alert(1)", "https://x.com/a?b"):
        assert commit_url("github", "acme/api", "abcdef1", Bases(github=base)) is None


def test_the_host_is_the_records_own_source_else_the_one_its_repository_is_seen_on() -> None:
    assert host_of("github", None) == "github"
    assert host_of("gitlab", "github") == "gitlab"
    assert host_of("git", "github") == "github"
    assert host_of("cdevents", None) is None
    assert host_of("git", "jira") is None


def test_a_page_a_source_sent_is_linked_only_when_it_is_a_plain_https_address() -> None:
    page = "https://acme.pagerduty.com/incidents/PFQZPSY"
    assert page_url(page) == page
    for bad in (
        "javascript:alert(1)",
        "http://acme.pagerduty.com/incidents/P1",  # not https
        "https://user:pw@evil.example/",  # credentials
        'https://acme.pagerduty.com/"onmouseover="x',  # a quote
        "https://acme.pagerduty.com/incidents/P1?next=javascript:x",  # a query
        None,
    ):
        assert page_url(bad) is None, bad
