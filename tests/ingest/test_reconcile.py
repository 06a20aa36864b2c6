"""Reconciling new records with stored rows is a pure function: each rule on plain values."""

from __future__ import annotations

from datetime import UTC, datetime

from headway.ingest import reconcile
from headway.ingest.reconcile import Delivery
from headway.model import Change, Incident, RawEvent, Service
from headway.ordering import EventOrder, Order
from headway.sources.mapping import Derivation, Mapping, Parsed, SeenCommit

T0 = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0.replace(minute=minute)


def delivery(delivery_id: str, *records: object, order: Order | None = None) -> Delivery:
    raw = RawEvent("pagerduty", delivery_id, "incident", T0, "{}")
    return Delivery(raw, Parsed(records=records, order=order))


def test_a_delivery_stored_or_earlier_in_the_group_is_a_duplicate() -> None:
    group = [delivery("a"), delivery("b"), delivery("a"), delivery("c")]
    outcomes, slots, new = reconcile.fresh(group, {"pagerduty:b"})
    assert outcomes == ["accepted", "duplicate", "duplicate", "accepted"]
    assert slots == [0, 3]  # where the outcomes of a and c go once they are ordered
    assert [d.raw.source_id for d in new] == ["a", "c"]


def test_an_event_older_than_the_stored_one_keeps_only_its_first_moments() -> None:
    # Stored: event 02 at 12:10 applied to incident P1. Arriving: event 01 at 12:05, which
    # says the incident opened at 12:01 (earlier than known) and was acknowledged at 12:05.
    old = Incident("pagerduty", "P1", "shop", at(1), acknowledged_at=at(5), title="old")
    stale = delivery("d1", old, order=Order("01", at(5)))
    (result,), changed = reconcile.in_order(
        [stale], {"incidents pagerduty:P1": Order("02", at(10))}
    )
    (part,) = result.parsed.records
    assert (part.opened_at, part.acknowledged_at, part.title, part.labels) == (
        at(1),
        at(5),
        None,
        None,  # unsaid: the stored labels stay
    )
    assert result.raw.status == "accepted"
    assert result.raw.note == (
        "an older event than the one already applied to incidents pagerduty:P1 "
        "(event 02 at 2026-10-01T12:10:00Z); only the first moments it gives "
        "(opened, started, requested) count"
    )
    assert changed == []  # the stored order is still the newest


def test_the_newest_event_of_a_group_applies_and_its_order_is_written() -> None:
    first = Incident("pagerduty", "P1", "shop", at(1), resolved_at=None)
    last = Incident("pagerduty", "P1", "shop", at(1), resolved_at=at(30))
    group = [
        delivery("d2", last, order=Order("9", at(30))),
        delivery("d1", first, order=Order("8", at(2))),
    ]
    result, changed = reconcile.in_order(group, {})
    assert result[0].parsed.records == (last,)
    assert result[1].raw.status == "accepted"  # still gives a first moment: opened at 12:01
    assert changed == [EventOrder("incidents", "pagerduty:P1", "9", at(30))]


def test_versions_of_one_record_in_a_group_merge_later_fields_over_earlier() -> None:
    opened = Change("github", "o/r#7", "shop", title="WIP", opened_at=at(3), labels=("a",))
    merged = Change("github", "o/r#7", "shop", opened_at=at(9), merged_at=at(20), merge_sha="f0")
    batch = reconcile.gather([delivery("d1", opened), delivery("d2", merged)])
    (change,) = batch.records.values()
    # the later version's merge wins, its empty title and labels erase nothing, and the
    # earlier opening is the first moment
    assert (change.title, change.labels, change.opened_at, change.merged_at) == (
        "WIP",
        ("a",),
        at(3),
        at(20),
    )
    assert batch.derived == [
        Derivation("pagerduty:d1", "changes", "github:o/r#7"),
        Derivation("pagerduty:d2", "changes", "github:o/r#7"),
    ]
    assert batch.touched == {("shop", None)}
    assert batch.merging == set()  # no repository named: nowhere a push can meet it


def test_a_batch_names_where_pushes_and_reviews_can_move_stored_fields() -> None:
    pushed = SeenCommit("github", "o/r", "f0", "e1", at(2))
    change = Change("github", "o/r#7", "shop", repository="o/r", merge_sha="f0")
    batch = reconcile.gather(
        [Delivery(RawEvent("github", "x", "push", T0, "{}"), Parsed((change,), (pushed,)))]
    )
    assert (batch.repositories, batch.merging, batch.commits) == ({"o/r"}, {"o/r"}, [pushed])


def test_stored_first_moments_and_unsaid_lists_are_kept() -> None:
    later = Incident("pagerduty", "P1", "shop", at(8), labels=None)  # type: ignore[arg-type]
    new = Incident("pagerduty", "P2", "shop", at(8), labels=None)  # type: ignore[arg-type]
    records = {("incidents", later.id): later, ("incidents", new.id): new}
    assert reconcile.moment_columns(records) == {
        "incidents": (("opened_at", "acknowledged_at", "labels"), ["pagerduty:P1", "pagerduty:P2"])
    }
    stored = {("incidents", "pagerduty:P1"): {"opened_at": at(2), "labels": ("db",)}}
    kept = reconcile.first_moments(records, stored)
    assert (
        kept[("incidents", "pagerduty:P1")].opened_at,
        kept[("incidents", "pagerduty:P1")].labels,
    ) == (
        at(2),
        ("db",),
    )
    # not stored yet: its own opening, and an empty list rather than an unsaid one
    assert (
        kept[("incidents", "pagerduty:P2")].opened_at,
        kept[("incidents", "pagerduty:P2")].labels,
    ) == (
        at(8),
        (),
    )


def test_a_webhook_change_the_git_import_stored_keeps_the_git_facts() -> None:
    imported = Change(
        "github",
        "o/r#7",
        "shop",
        title="Fix cart",
        first_commit_at=at(1),
        merged_at=at(20),
        merge_sha="f0",
        additions=12,
        deletions=3,
        files=2,
        deployment_ref="git:r/tag/v1",
    )
    hook = Change(
        "github",
        "o/r#7",
        "shop",
        title="Fix the cart",
        author="ana",
        opened_at=at(4),
        merged_at=at(21),
        merge_sha="f0",
    )
    batch = reconcile.gather([delivery("d1", hook)])
    plan = reconcile.plan(
        batch,
        batch.records,
        imported_changes={imported.id: imported},
        merged={},
        known_services={"shop"},
        mapping=Mapping(),
    )
    change = plan.records[("changes", "github:o/r#7")]
    # the host's title, author and opening; git's merge, size, release and first commit
    assert (change.title, change.author, change.opened_at) == ("Fix the cart", "ana", at(4))
    assert (change.merged_at, change.additions, change.deployment_ref) == (
        at(20),
        12,
        "git:r/tag/v1",
    )
    assert change.first_commit_at == at(1)
    assert plan.services == []  # shop is stored and not configured: nothing to add
    assert plan.names == {"shop"}


def test_a_change_no_import_stored_is_written_as_the_webhook_said() -> None:
    hosted = Change("github", "o/r#8", "shop", deployment_ref=None, merged_at=at(5))
    hook = Change("github", "o/r#8", "shop", title="New", merged_at=at(6))
    batch = reconcile.gather([delivery("d1", hook)])
    plan = reconcile.plan(
        batch,
        batch.records,
        imported_changes={hosted.id: hosted},
        merged={},
        known_services=(),
        mapping=Mapping(),
    )
    assert plan.records[("changes", "github:o/r#8")] == hook
    assert plan.services == [Service("shop")]


def test_services_are_added_as_configured_or_by_name_when_new() -> None:
    mapping = Mapping(services={"o/pay": {"service": "payments", "team": "money"}})
    touched = {("payments", "o/pay"), ("shop", "o/shop"), ("cart", "o/cart")}
    rows = reconcile.services(mapping, touched, known={"cart"})
    # configured ones always (their team may have changed), new ones with their repository
    assert rows == [
        Service("payments", team="money", repository="o/pay"),
        Service("shop", repository="o/shop"),
    ]
