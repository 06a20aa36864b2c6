"""The GitHub App's rows (`headway.store.github`) on both engines: what a removal keeps, what
a replacement replaces, and that one state works once."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from headway.store import Store
from headway.store import github as rows
from headway.store.sealing import Keyring

T0 = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)


def test_removed_repositories_and_installations_no_longer_grant(store: Store) -> None:
    # Given two installations granting three repositories
    for installation, account in ((1, "acme"), (2, "umbrella")):
        rows.upsert_installation(store, 99, rows.Installation(installation, account, "Org"), T0)
    rows.add_repository(store, 1, 10, "acme/shop", "shop", T0)
    rows.add_repository(store, 1, 11, "acme/web", "web", T0)
    rows.add_repository(store, 2, 20, "umbrella/lab", "lab", T0)
    assert rows.load_repositories(store) == [
        (1, "acme/shop", "shop"),
        (1, "acme/web", "web"),
        (2, "umbrella/lab", "lab"),
    ]

    # When acme/web is removed from installation 1, then installation 2 is deleted
    rows.remove_repository(store, 1, 11, T0 + timedelta(hours=1))
    assert rows.load_repositories(store) == [(1, "acme/shop", "shop"), (2, "umbrella/lab", "lab")]
    rows.remove_installation(store, 2, T0 + timedelta(hours=2))

    # Then only acme/shop is granted
    assert rows.load_repositories(store) == [(1, "acme/shop", "shop")]
    # And adding a removed repository again grants it again, under its new name
    rows.add_repository(store, 1, 11, "acme/web2", "web", T0 + timedelta(hours=3))
    assert rows.load_repositories(store) == [(1, "acme/shop", "shop"), (1, "acme/web2", "web")]


def test_a_pull_requests_flags_and_check_run_are_replaced_not_added(store: Store) -> None:
    rows.put_pull_flags(store, "acme/shop", 7, "aaa", [("b", "used"), ("a", "added")], T0)
    rows.put_pull_flags(store, "acme/shop", 8, "ccc", [("z", "removed")], T0)
    # A new head replaces number 7's flags; number 8 is untouched
    rows.put_pull_flags(store, "acme/shop", 7, "bbb", [("c", "removed"), ("a", "used")], T0)
    assert rows.pull_flags(store, "acme/shop", 7) == [("a", "used"), ("c", "removed")]
    assert rows.pull_flags(store, "acme/shop", 8) == [("z", "removed")]
    assert rows.pull_flags(store, "acme/web", 7) == []

    assert rows.check_run(store, "acme/shop", "bbb") is None
    rows.put_check_run(store, "acme/shop", "bbb", 501, 7, T0)
    rows.put_check_run(store, "acme/shop", "bbb", 502, 7, T0 + timedelta(minutes=1))
    assert rows.check_run(store, "acme/shop", "bbb") == 502
    assert rows.check_run(store, "acme/shop", "aaa") is None


def test_a_manifest_state_works_once_and_only_while_fresh(store: Store) -> None:
    rows.insert_state(store, "fresh", T0)
    rows.insert_state(store, "stale", T0 - timedelta(hours=2))
    oldest = T0 - timedelta(hours=1)
    assert rows.use_state(store, "fresh", T0 + timedelta(minutes=5), oldest)
    assert not rows.use_state(store, "fresh", T0 + timedelta(minutes=6), oldest)  # used
    assert not rows.use_state(store, "stale", T0, oldest)  # older than an hour
    assert not rows.use_state(store, "unknown", T0, oldest)


def test_the_newest_app_is_loaded_with_its_time_in_utc(store: Store) -> None:
    keys = Keyring(b"k" * 32)
    assert rows.load_app(store, keys) is None
    first = rows.AppCredentials(
        1, "one", "One", "acme", None, None, None, None, "KEY1", "secret1", T0
    )
    second = replace(
        first,
        id=2,
        slug="two",
        html_url="https://github.com/apps/two",
        url="https://h.example.com",
        client_id="cid",
        client_secret="csecret",
        created_at=T0 + timedelta(days=1),
    )
    rows.insert_app(store, second, keys)
    rows.insert_app(store, first, keys)
    assert rows.load_app(store, keys) == replace(second, encrypted=True)
    # Storing an app again replaces it: now app 1 is the newest
    rows.insert_app(store, replace(first, created_at=T0 + timedelta(days=2)), keys)
    loaded = rows.load_app(store, keys)
    assert loaded is not None
    assert (loaded.id, loaded.created_at) == (1, T0 + timedelta(days=2))


def test_one_server_claims_a_heads_check_run_and_a_dead_ones_claim_is_taken_over(
    store: Store,
) -> None:
    stale = T0 - timedelta(minutes=1)
    # the first server's claim goes in; a second server's does not, and reads "being created"
    assert rows.claim_check_run(store, "acme/shop", "a" * 40, 7, T0, stale)
    assert not rows.claim_check_run(store, "acme/shop", "a" * 40, 7, T0, stale)
    assert rows.check_run_claim(store, "acme/shop", "a" * 40) == 0
    # once created, everyone reads its id and nobody claims it again
    rows.put_check_run(store, "acme/shop", "a" * 40, 4242, 7, T0)
    assert rows.check_run_claim(store, "acme/shop", "a" * 40) == 4242
    later = T0 + timedelta(hours=1)
    assert not rows.claim_check_run(store, "acme/shop", "a" * 40, 7, later, later)
    # a claim whose server died (older than the cut-off) is taken over; a failed one let go
    assert rows.claim_check_run(store, "acme/shop", "b" * 40, 8, T0, stale)
    assert not rows.claim_check_run(store, "acme/shop", "b" * 40, 8, T0, T0 - timedelta(seconds=1))
    assert rows.claim_check_run(
        store, "acme/shop", "b" * 40, 8, later, later - timedelta(minutes=1)
    )
    rows.drop_claim(store, "acme/shop", "b" * 40)
    assert rows.check_run_claim(store, "acme/shop", "b" * 40) is None
