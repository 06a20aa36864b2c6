"""Release lead time on a hand-built history whose every number is worked out by hand.

Service `shop` (acme/shop), October 2026, the `dora` definition (lead time from the first
commit, interpolated percentiles). Each change is deployed at 12:00 the day it merges:

  PR 1  first commit 10-01 08:00, no flag              → released at deploy: 4 h
  PR 2  10-02 08:00, adds `checkout` (off until 10-03 12:00 in production)
                                                        → deploy-to-release 24 h, release 28 h
  PR 3  10-04 06:00, uses `search` (on since 09-30)     → released at deploy: 6 h (0 h after)
  PR 4  10-05 08:00, adds `dark` (still off)            → unreleased: counted, not measured
  PR 5  10-06 10:00, removes `old`                      → removing gates nothing: 2 h
  PR 6  10-07 08:00, adds `pay`, uses `checkout` (on); `pay` goes to 50 % at 18:00 (not
        everyone) and 100 % at 10-08 00:00             → the last flag rules: 12 h after, 16 h

Released: 2, 4, 6, 16, 28 h → median 6 h; mean 56/5 = 11.2 h; p75 (position 3 of 0…4) 16 h;
p90 (position 3.6) 16 + 0.6 × 12 = 23.2 h.
Deploy to release (PRs 2, 3, 6): 0, 12, 24 h → median 12 h; p75 (position 1.5) 18 h;
p90 (position 1.8) 21.6 h; mean 12 h.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.flags.lifecycle import Stamped
from headway.flags.model import parse_flag
from headway.flags.service import FlagService
from headway.ingest import ingest
from headway.metrics import dora, flow
from headway.metrics.release import release_moment, summarise
from headway.metrics.scope import Period, Scope
from headway.model import Change, Deployment, Service
from headway.store import Store
from headway.store import github as github_rows
from tests.flags.conftest import split

HOUR = 3600.0
OCTOBER = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))
BOOLEAN = {
    "type": "boolean",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
}


def at(day: int, hour: int, month: int = 10) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = at(30, 9, month=9)

    def __call__(self) -> datetime:
        return self.now


def pull(number: int, first_commit: datetime) -> Change:
    merged = first_commit.replace(hour=10)
    return Change(
        source="github",
        source_id=f"acme/shop#{number}",
        service="shop",
        repository="acme/shop",
        number=number,
        first_commit_at=first_commit,
        opened_at=first_commit,
        merged_at=merged,
    )


def deployment(day: int) -> Deployment:
    return Deployment(
        source="ci",
        source_id=f"deploy-{day}",
        service="shop",
        environment="production",
        started_at=at(day, 11),
        finished_at=at(day, 12),
    )


def create(service: FlagService, key: str) -> None:
    service.create_flag({"key": key, "owner": "dev", **BOOLEAN}, actor="test")


@pytest.fixture
def history(store: Store, engine_settings: Settings) -> Store:
    clock = Clock()
    flags = FlagService(store, clock=clock)
    create(flags, "search")
    flags.set_enabled("search", "production", True, actor="test")
    for key in ("old", "dark"):
        create(flags, key)
    clock.now = at(2, 9)
    create(flags, "checkout")
    clock.now = at(3, 12)
    flags.set_enabled("checkout", "production", True, actor="test")
    clock.now = at(7, 9)
    create(flags, "pay")
    clock.now = at(7, 18)
    flags.update_environment(
        "pay", "production", {"enabled": True, "default": split(50)}, actor="test"
    )
    clock.now = at(8, 0)
    flags.update_environment(
        "pay", "production", {"enabled": True, "default": {"variant": "on"}}, actor="test"
    )

    ingest(
        store,
        engine_settings,
        [
            Service(name="shop"),
            pull(1, at(1, 8)),
            deployment(1),
            pull(2, at(2, 8)),
            deployment(2),
            pull(3, at(4, 6)),
            deployment(4),
            pull(4, at(5, 8)),
            deployment(5),
            pull(5, at(6, 10)),
            deployment(6),
            pull(6, at(7, 8)),
            deployment(7),
        ],
    )
    for number, pairs in (
        (2, [("checkout", "added")]),
        (3, [("search", "used")]),
        (4, [("dark", "added")]),
        (5, [("old", "removed")]),
        (6, [("pay", "added"), ("checkout", "used")]),
    ):
        github_rows.put_pull_flags(store, "acme/shop", number, "0" * 40, pairs, at(1, 0))
    return store


def test_release_lead_time_waits_for_the_last_flag_to_reach_everyone(history: Store) -> None:
    metrics = dora.compute(history, PRESETS["dora"], Scope(), OCTOBER)
    release = metrics.to_json()["release_lead_time"]
    assert release == {
        "changes": 5,
        "flagged": 4,
        "unreleased": 1,
        "median_s": 6 * HOUR,
        "p75_s": 16 * HOUR,
        "p90_s": 23.2 * HOUR,
        "mean_s": 11.2 * HOUR,
        "deploy_to_release": {
            "changes": 3,
            "median_s": 12 * HOUR,
            "p75_s": 18 * HOUR,
            "p90_s": 21.6 * HOUR,
            "mean_s": 12 * HOUR,
        },
        "reason": None,
        "negative": 0,
    }
    # the five keys are untouched: change lead time still ends at the deployment
    assert metrics.change_lead_time["changes"] == 6


def test_the_flow_ends_with_the_wait_from_deployment_to_release(history: Store) -> None:
    doc = flow.breakdown(history, PRESETS["dora"], Scope(), OCTOBER).to_json()
    assert doc["release_wait"] == {
        "stage": "release_wait",
        "label": "release wait",
        "from": "deployed",
        "to": "its flags reached everyone",
        "changes": 3,
        "median_s": 12 * HOUR,
        "p75_s": 18 * HOUR,
        "p90_s": 21.6 * HOUR,
        "mean_s": 12 * HOUR,
        "flagged": 4,
        "unreleased": 1,
    }
    # lead time's own stages still end at the deployment and share all of it
    assert [s["stage"] for s in doc["stages"]][-1] == "deploy_wait"


def test_with_nothing_flagged_release_lead_time_is_change_lead_time(history: Store) -> None:
    # October 1 alone holds PR 1 (unflagged, 4 h) and October 6 PR 5 (it removes a flag: 2 h)
    for day in (1, 6):
        period = Period(datetime(2026, 10, day), datetime(2026, 10, day + 1))
        metrics = dora.compute(history, PRESETS["dora"], Scope(), period)
        lead, release = metrics.change_lead_time, metrics.release_lead_time
        assert release is not None
        assert (release["changes"], release["flagged"], release["unreleased"]) == (1, 0, 0)
        for stat in ("median_s", "p75_s", "p90_s", "mean_s"):
            assert release[stat] == lead[stat] == {1: 4, 6: 2}[day] * HOUR
        assert release["deploy_to_release"]["changes"] == 0


def test_each_service_has_its_own_release_lead_time(history: Store) -> None:
    [shop] = dora.compute_each(history, PRESETS["dora"], "service", OCTOBER)
    assert shop.release_lead_time is not None
    assert shop.release_lead_time["median_s"] == 6 * HOUR


def test_a_lower_median_definition_takes_the_lower_value() -> None:
    # percentile_disc over 2, 4, 6, 16, 28 h (cumulative shares .2, .4, .6, .8, 1): the median
    # is 6 h, p75 16 h and p90 the first value whose share reaches 90 %: 28 h
    lower = PRESETS["dora"].model_copy(
        update={"summary": PRESETS["dora"].summary.model_copy(update={"median": "lower"})}
    )
    rows = [
        ("org", f"c{i}", hours * HOUR, 0, at(1, 12), "production", None)
        for i, hours in enumerate([16, 2, 28, 6, 4])
    ]
    figure = summarise(rows, lambda key: [], lower)["org"]
    assert (figure["median_s"], figure["p75_s"], figure["p90_s"], figure["mean_s"]) == (
        6 * HOUR,
        16 * HOUR,
        28 * HOUR,
        11.2 * HOUR,
    )
    assert figure["deploy_to_release"]["changes"] == 0


def _stamped(at_: datetime, **production: Any) -> Stamped:
    env = {"enabled": True, "off_variant": "off", "default": {"variant": "on"}, **production}
    document = {"key": "f", "owner": "o", "lifecycle": LIFECYCLE, **BOOLEAN}
    flag = parse_flag({**document, "environments": {"production": env}})
    return Stamped(flag, at_)


DEPLOYED = at(10, 12)
LIFECYCLE = {"kind": "release", "expected_removal": "2027-06-30"}


@pytest.mark.parametrize(
    ("history", "released"),
    [
        ([], DEPLOYED),  # a flag Headway does not hold gates nothing
        ([_stamped(at(9, 0))], DEPLOYED),  # on before the deployment
        ([_stamped(at(9, 0), enabled=False), _stamped(at(11, 0))], at(11, 0)),
        # on, then off just before the deployment, on again after it
        (
            [_stamped(at(8, 0)), _stamped(at(9, 0), enabled=False), _stamped(at(12, 0))],
            at(12, 0),
        ),
        # a split is not everyone; serving the off variant is not released
        ([_stamped(at(9, 0), default=split(50)), _stamped(at(11, 0))], at(11, 0)),
        ([_stamped(at(9, 0), default={"variant": "off"})], None),
        ([_stamped(at(11, 0), enabled=False)], None),
        # created after the deployment, switched on later still
        ([_stamped(at(10, 13), enabled=False), _stamped(at(10, 15))], at(10, 15)),
    ],
)
def test_the_release_moment_is_when_everyone_first_gets_the_flag(
    history: list[Stamped], released: datetime | None
) -> None:
    assert release_moment(history, "production", DEPLOYED) == released


def test_a_flag_without_the_deployments_environment_is_read_in_production() -> None:
    history = [_stamped(at(9, 0), enabled=False), _stamped(at(11, 0))]
    assert release_moment(history, "prod-eu", DEPLOYED) == at(11, 0)
