"""Events about one record apply in their source's order, whatever order they arrive in."""

from __future__ import annotations

import copy
import itertools
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from headway.config import Settings
from headway.ingest import deliveries
from headway.ingest import reprocess as reprocessing
from headway.model import Deployment, Incident
from headway.ordering import Order, stale_part
from headway.sources import github, gitlab, pagerduty
from headway.sources.mapping import Mapping, PayloadError
from headway.store import Store
from tests.api.conftest import fixture

AT = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


def test_events_compare_by_time_then_by_id_numerically() -> None:
    assert Order("10", AT).newer_than(Order("9", AT))  # 10 > 9, not "10" < "9"
    assert Order("1", AT.replace(minute=1)).newer_than(Order("999", AT))
    assert not Order("7", AT).newer_than(Order("7", AT))  # the same event again


def test_a_stale_event_keeps_only_first_moments() -> None:
    # A deployment's every field is its latest state: a stale status says nothing.
    assert stale_part(Deployment("github", "1", "shop", AT, status="failure")) is None
    # An incident's opening and acknowledgement are first moments: they still count. Its
    # labels are left unsaid (None), not emptied: an empty list would erase the stored ones.
    late = Incident("pagerduty", "P1", "shop", AT, acknowledged_at=AT, title="old", severity="P1")
    unsaid = Incident("pagerduty", "P1", "shop", AT, acknowledged_at=AT, labels=None)  # type: ignore[arg-type]
    assert stale_part(late) == unsaid


def _event(kind: str, event_id: str, occurred: str) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("pagerduty/triggered_v3.json"))
    payload["event"].update(id=event_id, event_type=kind, occurred_at=occurred)
    return payload


EVENTS = [
    ("incident.triggered", "01A", "2026-10-01T12:00:00Z"),
    ("incident.acknowledged", "01B", "2026-10-01T12:05:00Z"),
    ("incident.resolved", "01C", "2026-10-01T12:30:00Z"),
]


@pytest.mark.parametrize("arrival", list(itertools.permutations(range(3))))
def test_an_incident_ends_the_same_whatever_order_its_events_arrive_in(
    store: Store, engine_settings: Settings, arrival: tuple[int, ...]
) -> None:
    # Given PagerDuty's triggered, acknowledged and resolved events, delivered in any order,
    # each once and then each again under another delivery id
    for n, i in enumerate([*arrival, *arrival]):
        kind, event_id, occurred = EVENTS[i]
        payload = _event(kind, event_id, occurred)
        parsed = pagerduty.parse(kind, payload, Mapping())
        raw = deliveries.raw_event("pagerduty", f"d{n}", kind, b"{}", AT, parsed)
        deliveries.commit(store, engine_settings, [deliveries.Delivery(raw, parsed)])
    # Then it is acknowledged at 12:05 and resolved at 12:30, the newest event's state
    [(acknowledged, resolved)] = store.query("SELECT acknowledged_at, resolved_at FROM incidents")
    assert (acknowledged, resolved) == (datetime(2026, 10, 1, 12, 5), datetime(2026, 10, 1, 12, 30))


# -- each adapter's event order ------------------------------------------------------------------


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _github(event: str, name: str, **changes: Any) -> Order | None:
    payload = copy.deepcopy(fixture(f"github/{name}"))
    for path, value in changes.items():
        container = payload
        *parents, last = path.split("__")
        for part in parents:
            container = container[part]
        container[last] = value
    mapping = Mapping(services={"Codertocat/Hello-World": {"deployments": "release"}})
    return github.parse(event, payload, mapping).order


def test_github_pull_request_events_are_ordered_by_updated_at_then_action() -> None:
    # the fixture's `opened` was last updated at 15:20:33
    assert _github("pull_request", "pull_request/opened.payload.json") == Order(
        "opened", _at("2019-05-15T15:20:33Z")
    )
    # a close that merged is `merged`, at its updated_at 15:21:18
    merged = _github(
        "pull_request",
        "pull_request/closed.payload.json",
        pull_request__merged=True,
        pull_request__merged_at="2019-05-15T15:21:18Z",
    )
    assert merged == Order("merged", _at("2019-05-15T15:21:18Z"))
    # without updated_at, the latest moment the request names (its close, 15:21:18)
    closed = _github(
        "pull_request", "pull_request/closed.payload.json", pull_request__updated_at=None
    )
    assert closed == Order("closed", _at("2019-05-15T15:21:18Z"))


def test_github_reviews_releases_runs_and_pushes_name_their_own_event() -> None:
    # a review is its id at its submission
    assert _github("pull_request_review", "pull_request_review/submitted.payload.json") == Order(
        "237895671", _at("2019-05-15T15:20:38Z")
    )
    # a release is its id at its publication (the fixture has no updated_at)
    assert _github("release", "release/published.payload.json") == Order(
        "17372790", _at("2019-05-15T15:20:53Z")
    )
    # a run is its attempt at its updated_at
    assert _github("workflow_run", "workflow_run/completed.payload.json") == Order(
        "1", _at("2020-10-05T16:33:49Z")
    )
    # a push is its head at its push time (`repository.pushed_at`, epoch seconds)
    push = fixture("github/push/with-new-branch.payload.json")
    pushed = _github("push", "push/with-new-branch.payload.json")
    assert pushed is not None
    assert pushed.event == push["after"]
    assert pushed.at == datetime.fromtimestamp(push["repository"]["pushed_at"], UTC)


def _gitlab(name: str, **changes: Any) -> Order | None:
    payload = copy.deepcopy(fixture(f"gitlab/{name}"))
    payload.get("object_attributes", payload).update(changes)
    mapping = Mapping(
        services={payload["project"]["path_with_namespace"]: {"deployments": "release"}}
    )
    return gitlab.parse(payload["object_kind"], payload, mapping).order


def test_gitlab_events_name_their_own_order() -> None:
    # a merge request: its updated_at (17:23:34), then the action
    assert _gitlab("merge_request.json") == Order("open", _at("2013-12-03T17:23:34Z"))
    # a pipeline: its id at the moment it finished (15:26:29; it has no updated_at)
    assert _gitlab("pipeline.json") == Order("31", _at("2016-08-12T15:26:29Z"))
    # a release: its id at its creation time
    assert _gitlab("release.json") == Order("8273642", _at("2021-02-25T21:23:34Z"))
    push = fixture("gitlab/push.json")
    pushed = _gitlab("push.json")
    assert pushed is not None
    assert pushed.event == push["after"]


# -- a pull request's events in every order -----------------------------------------------------

SHA = "c4295bd74fb0f4fda03689c3df3f2803b658fd85"


def _request(name: str, updated: str, title: str, labels: list[str], **more: Any) -> Any:
    payload = copy.deepcopy(fixture(f"github/pull_request/{name}.payload.json"))
    payload["pull_request"].update(
        updated_at=updated, title=title, labels=[{"name": n} for n in labels], **more
    )
    return payload


# opened at 15:20:33, pushed to at 15:20:50 (retitled, labelled docs), merged at 15:21:18
# (retitled again, the docs label removed)
REQUEST = [
    ("pull_request", _request("opened", "2019-05-15T15:20:33Z", "Draft README", ["bug"])),
    (
        "pull_request",
        _request("synchronize", "2019-05-15T15:20:50Z", "README v2", ["bug", "docs"], additions=9),
    ),
    (
        "pull_request",
        _request(
            "closed",
            "2019-05-15T15:21:18Z",
            "Update the README",
            ["bug"],
            merged=True,
            merged_at="2019-05-15T15:21:18Z",
            merge_commit_sha=SHA,
        ),
    ),
]


def _deliver(store: Store, settings: Settings, repository: str, n: int, event: Any) -> None:
    kind, payload = event
    payload = copy.deepcopy(payload)
    payload["repository"]["full_name"] = repository
    parsed = github.parse(kind, payload, Mapping())
    raw = deliveries.raw_event(
        "github", f"{repository}-{n}", kind, orjson.dumps(payload), AT, parsed
    )
    deliveries.commit(store, settings, [deliveries.Delivery(raw, parsed)])


def _changes(store: Store) -> dict[str, tuple[Any, ...]]:
    columns = "repository, title, labels, opened_at, merged_at, merge_sha, closed_at, additions"
    return {
        row[0]: row[1:] for row in store.query(f"SELECT {columns} FROM changes ORDER BY repository")
    }


def test_a_pull_request_ends_the_same_whatever_order_its_events_arrive_in(
    store: Store, engine_settings: Settings
) -> None:
    # Given the request's three events, delivered in each of the six orders (one repository
    # per order), each order once and then again under new delivery ids
    arrivals = list(itertools.permutations(range(len(REQUEST))))
    for a, arrival in enumerate(arrivals):
        for n, i in enumerate([*arrival, *arrival]):
            _deliver(store, engine_settings, f"acme/order-{a}", n, REQUEST[i])
    # Then each ends as the merge (the newest event) says, first opened at 15:20:33:
    # merged, titled "Update the README", labelled bug only, 1 addition (the merge's count)
    expected = (
        "Update the README",
        '["bug"]',
        datetime(2019, 5, 15, 15, 20, 33),
        datetime(2019, 5, 15, 15, 21, 18),
        SHA,
        None,
        1,
    )
    rows = _changes(store)
    assert rows == {f"acme/order-{a}": expected for a in range(len(arrivals))}
    # and `headway reprocess`, replaying every kept delivery, keeps it so
    reprocessing.reprocess(store, engine_settings)
    assert _changes(store) == rows


def test_a_stale_request_event_keeps_the_labels_the_newer_one_set(
    store: Store, engine_settings: Settings
) -> None:
    # Given the merge (labelled bug) applied, when the old `opened` (labelled bug) and the
    # push (labelled bug, docs) arrive late
    for n, i in enumerate((2, 0, 1)):
        _deliver(store, engine_settings, "acme/labels", n, REQUEST[i])
    # Then the labels stay the merge's, neither emptied nor the push's
    [(labels,)] = store.query("SELECT labels FROM changes")
    assert labels == '["bug"]'


def test_an_old_gitlab_merge_request_event_after_the_merge_changes_nothing(
    store: Store, engine_settings: Settings
) -> None:
    opened = copy.deepcopy(fixture("gitlab/merge_request.json"))
    merged = copy.deepcopy(opened)
    merged["object_attributes"].update(
        action="merge", state="merged", title="Final", updated_at="2013-12-04 10:00:00 UTC"
    )
    # Given the request merged (updated 2013-12-04 10:00), when its `open` event (updated
    # 2013-12-03 17:23:34) arrives late, under another delivery id
    for n, payload in enumerate((merged, opened)):
        parsed = gitlab.parse("merge_request", payload, Mapping())
        raw = deliveries.raw_event("gitlab", f"g{n}", "merge_request", b"{}", AT, parsed)
        deliveries.commit(store, engine_settings, [deliveries.Delivery(raw, parsed)])
    # Then the request keeps the merge's title and merge time
    assert store.query("SELECT title, merged_at FROM changes") == [
        ("Final", datetime(2013, 12, 4, 10))
    ]


def test_an_event_time_from_the_future_is_refused() -> None:
    # Given a signed pull_request whose updated_at is 2099 (every real event after it would
    # look older and change nothing)
    payload = copy.deepcopy(REQUEST[0][1])
    payload["pull_request"]["updated_at"] = "2099-01-01T00:00:00Z"
    # When it is interpreted on arrival, 2019-05-16 with the default 300 s allowance
    arrived = datetime(2019, 5, 16, tzinfo=UTC)
    # Then it is refused (a 422 over HTTP) naming the event time and the setting
    with pytest.raises(PayloadError, match="event's own time is 2099-01-01T00:00:00"):
        deliveries.interpret(
            "github", "pull_request", payload, Mapping(), arrived, 300, github.parse
        )
