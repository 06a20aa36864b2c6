"""Scheduled flag changes: the time a person gives, read into one instant; the runner that
applies each due schedule once, across restarts and servers; and the CLI and HTTP surfaces.

Times are worked out by hand in the comments: Europe/Paris is UTC+01:00 in winter (CET) and
UTC+02:00 in summer (CEST); in 2026 its clocks go forward on Sunday 29 March at 02:00 (to
03:00) and back on Sunday 25 October at 03:00 (to 02:00). New York (-05:00 / -04:00) moves
on 8 March and 1 November 2026, at 02:00 local time.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from headway.cli import app as cli
from headway.config import Settings, get_settings
from headway.flags.model import ConfigError
from headway.flags.schedule_time import parse_instant
from headway.flags.schedules import ScheduleService
from headway.flags.service import Conflict, FlagService, NotFound
from headway.sdk import Client
from headway.store import Store, audit, open_store
from headway.store import schedules as statements

from .conftest import BOOLEAN_FLAG, Api, eventually, start_live, stop_live

NOW = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def _issue(at: str, tz: str | None, now: datetime = NOW) -> tuple[str, str]:
    with pytest.raises(ConfigError) as refused:
        parse_instant(at, tz, now)
    (issue,) = refused.value.issues
    return issue.path, issue.message


# --- reading the time ------------------------------------------------------------------------


def test_a_wall_time_is_read_with_the_offset_its_zone_has_that_day() -> None:
    # 09:00 in Paris is 08:00 UTC in December (+01:00) and 07:00 UTC in July (+02:00)
    winter = parse_instant("2026-12-08 09:00", "Europe/Paris", NOW)
    assert (winter.at, winter.zone) == (datetime(2026, 12, 8, 8, 0, tzinfo=UTC), "Europe/Paris")
    summer = parse_instant("2026-07-01T09:00", "Europe/Paris", NOW)
    assert summer.at == datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
    # An instant with its offset needs no zone: 09:00-05:00 is 14:00 UTC; Z is UTC itself
    offset = parse_instant("2026-12-08T09:00-05:00", None, NOW)
    assert (offset.at, offset.zone) == (datetime(2026, 12, 8, 14, 0, tzinfo=UTC), "-05:00")
    assert parse_instant("2026-12-08T09:00:30Z", None, NOW).zone == "UTC"


def test_a_wall_time_the_clocks_skip_is_refused_naming_the_times_that_exist() -> None:
    # 29 March 2026 in Paris: 01:59 (+01:00) is 00:59 UTC, then 02:00 becomes 03:00 (+02:00,
    # 01:00 UTC); 02:30 is never shown by a Paris clock
    assert parse_instant("2026-03-29 01:59", "Europe/Paris", NOW).at == datetime(
        2026, 3, 29, 0, 59, tzinfo=UTC
    )
    assert parse_instant("2026-03-29 03:00", "Europe/Paris", NOW).at == datetime(
        2026, 3, 29, 1, 0, tzinfo=UTC
    )
    path, message = _issue("2026-03-29 02:30", "Europe/Paris")
    assert path == "at"
    assert message == (
        "2026-03-29 02:30 does not exist in Europe/Paris: on 2026-03-29 the clocks go forward "
        "from 02:00 to 03:00 (+01:00 to +02:00); give a time from 03:00 on, or one before 02:00"
    )
    # New York skips 02:00-03:00 on 8 March; Lord Howe Island skips half an hour on 4 October
    assert (
        "from 02:00 to 03:00 (-05:00 to -04:00)"
        in _issue("2026-03-08 02:30", "America/New_York")[1]
    )
    assert (
        "from 02:00 to 02:30 (+10:30 to +11:00)"
        in _issue("2026-10-04 02:15", "Australia/Lord_Howe")[1]
    )


def test_a_wall_time_the_clocks_repeat_is_refused_until_an_offset_says_which() -> None:
    # 25 October 2026 in Paris: 02:30 happens at +02:00 (00:30 UTC), then again at +01:00
    # (01:30 UTC) after the clocks go back from 03:00 to 02:00
    path, message = _issue("2026-10-25 02:30", "Europe/Paris")
    assert path == "at"
    assert message == (
        "2026-10-25 02:30 happens twice in Europe/Paris: on 2026-10-25 the clocks go back from "
        "03:00 to 02:00; say which with an offset, 2026-10-25T02:30+02:00 (the first) or "
        "2026-10-25T02:30+01:00 (the second)"
    )
    first = parse_instant("2026-10-25T02:30+02:00", "Europe/Paris", NOW)
    second = parse_instant("2026-10-25T02:30+01:00", "Europe/Paris", NOW)
    assert (first.at, second.at) == (
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    )
    assert first.zone == second.zone == "Europe/Paris"
    # Paris is never +03:00: the offset and the zone disagree, and the zone is named
    path, message = _issue("2026-10-25T02:30+03:00", "Europe/Paris")
    assert (path, message.split(":")[0]) == ("tz", "Europe/Paris is +02")
    # New York's repeated hour: 01:30 on 1 November, at -04:00 then -05:00
    assert "go back from 02:00 to 01:00" in _issue("2026-11-01 01:30", "America/New_York")[1]


@pytest.mark.parametrize(
    ("at", "tz", "field", "says"),
    [
        ("2026-12-08 09:00", None, "at", "has no time zone"),
        ("2026-12-08 09:00", "", "at", "has no time zone"),
        ("2026-12-08 09:00", "Mars/Olympus", "tz", "unknown time zone 'Mars/Olympus'"),
        ("2026-12-08 09:00", "europe/paris", "tz", "unknown time zone"),
        ("2026-12-08 09:00", "localtime", "tz", "unknown time zone"),
        ("2026-12-08 09:00", "../../etc/passwd", "tz", "unknown time zone"),
        ("2026-12-08", "UTC", "at", "is not a date and a time"),
        ("next tuesday", "UTC", "at", "is not a date and a time"),
        ("2026-02-30 09:00", "UTC", "at", "day is out of range for month"),
        ("2026-12-08 09:00\x00", "UTC", "at", "is not a date and a time"),
        ("2026-01-15 12:00", "UTC", "at", "is in the past"),  # now is not the future
        ("2026-01-15 11:59:59", "UTC", "at", "is in the past"),
        ("2031-02-01 12:00", "UTC", "at", "more than 5 years ahead"),
        ("9999-12-31T23:59-05:00", None, "at", "outside the times a schedule can name"),
    ],
)
def test_a_time_that_names_no_future_instant_is_refused_naming_its_field(
    at: str, tz: str | None, field: str, says: str
) -> None:
    path, message = _issue(at, tz)
    assert path == field
    assert says in message


def test_five_years_ahead_is_the_limit() -> None:
    # 366 * 5 = 1,830 days after 2026-01-15 12:00: 2031-01-15 is 1,826 days on (2028 is a
    # leap year), so the limit is 2031-01-19 12:00, allowed; a minute more is not
    assert parse_instant("2031-01-19 12:00", "UTC", NOW).at.year == 2031
    assert _issue("2031-01-19 12:01", "UTC")[0] == "at"


# --- the service and its runner --------------------------------------------------------------


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def flags(store: Store, clock: Clock) -> FlagService:
    service = FlagService(store, clock=clock)
    service.create_flag(BOOLEAN_FLAG, actor="alice")
    return service


def _runner(store: Store, clock: Clock, flags: FlagService, name: str) -> ScheduleService:
    return ScheduleService(store, clock=clock, flags=flags, runner=name)


def _scheduled(flags: FlagService) -> list[Any]:
    return [v for v in flags.history("new-checkout") if v.actor.startswith("schedule:")]


def test_a_due_schedule_is_applied_once_and_recorded_in_the_flags_history(
    store: Store, clock: Clock, flags: FlagService
) -> None:
    runner = _runner(store, clock, flags, "one")
    # Given `on` scheduled for 13:30 Paris on 15 January: 12:30 UTC (+01:00 in winter)
    made = runner.create(
        "new-checkout",
        environment="production",
        action="on",
        at="2026-01-15 13:30",
        tz="Europe/Paris",
        reason="launch",
        actor="alice",
    )
    assert (made.state, made.at) == ("pending", datetime(2026, 1, 15, 12, 30, tzinfo=UTC))
    # When the runner looks before the time, nothing happens
    clock.now = NOW + timedelta(minutes=29)
    assert runner.run_due() == []
    # When it looks at 12:30 UTC, the flag is switched on, once
    clock.now = NOW + timedelta(minutes=30)
    (done,) = runner.run_due()
    assert (done.state, done.flag_version, done.attempts) == ("applied", 2, 1)
    assert done.outcome == "applied as version 2"
    assert flags.require_flag("new-checkout").environments["production"].enabled is True
    assert runner.run_due() == []
    # And the history and the audit name the schedule and who made it
    (version,) = _scheduled(flags)
    assert (version.actor, version.action) == (f"schedule:{made.id} for alice", "enable")
    assert version.comment == "scheduled by alice for 2026-01-15 13:30 Europe/Paris: launch"
    assert [e.actor for e in flags.audit("new-checkout")][-1] == f"schedule:{made.id} for alice"


def test_each_change_is_made_as_its_own_command_makes_it(
    store: Store, clock: Clock, flags: FlagService
) -> None:
    runner = _runner(store, clock, flags, "one")
    for minute, action, variant in ((1, "on", None), (2, "serve", "off"), (3, "kill", None)):
        runner.create(
            "new-checkout",
            environment="production",
            action=action,
            variant=variant,
            at=f"2026-01-15T12:0{minute}Z",
            actor="alice",
        )
    clock.now = NOW + timedelta(minutes=5)
    assert [s.flag_version for s in runner.run_due()] == [2, 3, 4]  # the earliest first
    assert [v.action for v in _scheduled(flags)] == ["enable", "serve", "kill"]
    production = flags.require_flag("new-checkout").environments["production"]
    assert (production.enabled, production.default.variant) == (False, "off")


def test_a_change_that_no_longer_makes_sense_fails_with_the_reason(
    store: Store, clock: Clock, flags: FlagService
) -> None:
    runner = _runner(store, clock, flags, "one")
    at = "2026-01-15T13:00Z"
    made = runner.create(
        "new-checkout", environment="production", action="serve", variant="on", at=at, actor="a"
    )
    # Given the flag archived after the change was scheduled
    clock.now = NOW + timedelta(minutes=20)
    flags.archive("new-checkout", actor="bob")
    clock.now = NOW + timedelta(hours=1)
    (done,) = runner.run_due()
    assert (done.id, done.state, done.flag_version) == (made.id, "failed", None)
    assert done.outcome == (
        "flag 'new-checkout' was archived after this was scheduled; bring it back and schedule "
        "the change again"
    )
    assert _scheduled(flags) == []
    assert runner.run_due() == []  # failed is final: not tried again


def test_a_kill_made_after_an_on_was_scheduled_is_not_undone(
    store: Store, clock: Clock, flags: FlagService
) -> None:
    runner = _runner(store, clock, flags, "one")
    flags.set_enabled("new-checkout", "staging", True, actor="alice")  # version 2
    before = runner.create(
        "new-checkout", environment="staging", action="on", at="2026-01-15T13:00Z", actor="alice"
    )
    clock.now = NOW + timedelta(minutes=10)  # 12:10 UTC: bob kills staging (version 3)
    flags.kill("new-checkout", actor="bob", environment="staging")
    clock.now = NOW + timedelta(minutes=20)  # 12:20: carol schedules `on` again, knowingly
    after = runner.create(
        "new-checkout", environment="staging", action="on", at="2026-01-15T13:00Z", actor="carol"
    )
    clock.now = NOW + timedelta(hours=1)
    done = {s.id: s for s in runner.run_due()}
    assert done[before.id].state == "failed"
    assert done[before.id].outcome == (
        "flag 'new-checkout' was killed in staging at 2026-01-15 12:10:00 UTC by bob, after "
        "this was scheduled; a kill is not undone by a schedule made before it: schedule the "
        "change again"
    )
    assert (done[after.id].state, done[after.id].flag_version) == ("applied", 4)


def test_a_time_passed_while_no_runner_ran_is_applied_late_and_says_so(
    store: Store, clock: Clock, flags: FlagService
) -> None:
    runner = _runner(store, clock, flags, "one")
    runner.create(
        "new-checkout", environment="production", action="on", at="2026-01-15T13:00Z", actor="alice"
    )
    clock.now = datetime(2026, 1, 15, 16, 5, tzinfo=UTC)  # 16:05 - 13:00: 3 h 5 min late
    (done,) = runner.run_due()
    assert done.state == "applied"
    assert _scheduled(flags)[0].comment == (
        "scheduled by alice for 2026-01-15 13:00 UTC (applied 3 h 5 min late: no server was "
        "running the schedule)"
    )


def test_a_claim_left_by_a_runner_that_stopped_is_taken_over_after_the_lease(
    store: Store, clock: Clock, flags: FlagService
) -> None:
    made = _runner(store, clock, flags, "a").create(
        "new-checkout", environment="production", action="on", at="2026-01-15T13:00Z", actor="alice"
    )
    clock.now = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
    # Given runner A took it and stopped before applying it (its transaction never committed)
    assert statements.claim(store, made.id, "a", clock.now, clock.now - timedelta(minutes=1))
    b = _runner(store, clock, flags, "b")
    # When B looks 59 s later, the claim still holds; at 61 s it is stale and B applies it
    clock.now += timedelta(seconds=59)
    assert b.run_due() == []
    clock.now += timedelta(seconds=2)
    (done,) = b.run_due()
    assert (done.state, done.claimed_by, done.attempts) == ("applied", "b", 2)
    assert len(_scheduled(flags)) == 1


def test_a_runner_overtaken_while_applying_rolls_its_change_back(
    store: Store, clock: Clock, flags: FlagService
) -> None:
    told: list[str] = []
    slow_flags = FlagService(store, clock=clock, on_change=lambda: told.append("a"))
    a = _runner(store, clock, slow_flags, "a")
    made = a.create(
        "new-checkout", environment="production", action="on", at="2026-01-15T13:00Z", actor="alice"
    )
    clock.now = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
    assert statements.claim(store, made.id, "a", clock.now, clock.now)
    # Given A stalled past its lease and B took the schedule over and applied it
    clock.now += timedelta(minutes=2)
    (done,) = _runner(store, clock, flags, "b").run_due()
    assert (done.state, done.claimed_by) == ("applied", "b")
    # When A wakes up and applies its claim, its change is rolled back and nobody is told
    assert a.apply(made.id).claimed_by == "b"
    assert len(_scheduled(flags)) == 1
    assert told == []
    assert flags.require_flag("new-checkout").version == 2


def test_people_list_and_cancel_what_has_not_run(
    store: Store, clock: Clock, flags: FlagService
) -> None:
    service = _runner(store, clock, flags, "one")
    later = service.create(
        "new-checkout",
        environment="production",
        action="off",
        at="2026-01-16T09:00Z",
        actor="alice",
    )
    sooner = service.create(
        "new-checkout", environment="production", action="on", at="2026-01-15T13:00Z", actor="alice"
    )
    assert [s.id for s in service.list_schedules()] == [sooner.id, later.id]
    cancelled = service.cancel(later.id, actor="bob")
    assert (cancelled.state, cancelled.outcome) == ("cancelled", "cancelled by bob")
    with pytest.raises(Conflict, match="is cancelled"):
        service.cancel(later.id, actor="bob")
    clock.now = NOW + timedelta(hours=2)
    service.run_due()
    with pytest.raises(Conflict, match="is applied"):
        service.cancel(sooner.id, actor="bob")
    with pytest.raises(NotFound):
        service.cancel("nosuch", actor="bob")
    assert service.list_schedules() == []
    assert [s.state for s in service.list_schedules(finished=True)] == ["applied", "cancelled"]
    # Who scheduled and who cancelled is in the audit chain, as entries of their own
    kinds = [(e.action, e.actor) for e in audit.entries(store, entity="schedule")]
    assert kinds == [("schedule", "alice"), ("schedule", "alice"), ("cancel", "bob")]


def test_a_schedule_is_refused_for_what_it_cannot_change(
    store: Store, clock: Clock, flags: FlagService
) -> None:
    service = _runner(store, clock, flags, "one")
    at = "2026-01-15T13:00Z"
    with pytest.raises(NotFound, match="flag 'nosuch' does not exist"):
        service.create("nosuch", environment="production", action="on", at=at, actor="a")
    with pytest.raises(NotFound, match="no environment 'qa'; it has: development"):
        service.create("new-checkout", environment="qa", action="on", at=at, actor="a")
    for action, variant, field in (
        ("serve", None, "variant"),
        ("serve", "blue", "variant"),
        ("on", "on", "variant"),
        ("flip", None, "action"),
    ):
        with pytest.raises(ConfigError) as refused:
            service.create(
                "new-checkout",
                environment="production",
                action=action,
                variant=variant,
                at=at,
                actor="a",
            )
        assert refused.value.issues[0].path == field
    flags.archive("new-checkout", actor="bob")
    with pytest.raises(Conflict, match="is archived"):
        service.create("new-checkout", environment="production", action="on", at=at, actor="a")
    assert service.list_schedules(finished=True) == []


# --- two runners on one PostgreSQL -------------------------------------------------------------


@pytest.mark.postgres
def test_two_runners_racing_on_one_postgresql_apply_each_schedule_once(
    pg_schema_url: str,
) -> None:
    settings = Settings(database=pg_schema_url)
    stores = [open_store(settings), open_store(settings)]  # two servers: two connections
    try:
        clock = Clock(NOW)
        setup = FlagService(stores[0], clock=clock)
        made = []
        # Given ten flags, each with `on` due at 13:00 UTC
        for n in range(10):
            setup.create_flag({**BOOLEAN_FLAG, "key": f"flag-{n}"}, actor="alice")
            made.append(
                ScheduleService(stores[0], clock=clock).create(
                    f"flag-{n}",
                    environment="production",
                    action="on",
                    at="2026-01-15T13:00Z",
                    actor="alice",
                )
            )
        clock.now = datetime(2026, 1, 15, 13, 0, tzinfo=UTC)
        runners = [
            ScheduleService(store, clock=clock, runner=f"server-{i}")
            for i, store in enumerate(stores)
        ]
        # When both runners look at once, each in its own thread, five times over
        start = threading.Barrier(2)
        applied: dict[str, list[str]] = {"server-0": [], "server-1": []}

        def tick(runner: ScheduleService) -> None:
            for _ in range(5):
                start.wait(10)
                applied[runner.runner] += [
                    s.id for s in runner.run_due() if s.claimed_by == runner.runner
                ]

        threads = [threading.Thread(target=tick, args=(r,)) for r in runners]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        # Then every schedule was applied by exactly one of them, once
        ids = applied["server-0"] + applied["server-1"]
        assert sorted(ids) == sorted(s.id for s in made)
        for schedule in made:
            found = runners[0].get(schedule.id)
            assert (found.state, found.attempts, found.flag_version) == ("applied", 1, 2)
            versions = setup.history(schedule.flag)
            assert [v.actor for v in versions] == ["alice", f"schedule:{schedule.id} for alice"]
            assert setup.require_flag(schedule.flag).environments["production"].enabled
    finally:
        for store in stores:
            store.close()


# --- a server stopped and started again ------------------------------------------------------


def test_a_schedule_due_while_the_server_was_stopped_is_applied_at_its_next_start(
    tmp_path: Path,
) -> None:
    settings = Settings(database=str(tmp_path / "live.duckdb"), schedule_interval=0.05)
    first = start_live(settings)
    keys = (first.admin["Authorization"][7:], first.server_key, first.client_key)
    try:
        # Given a flag, off in production, and `on` scheduled three seconds from now (the
        # server stops well before: its runner would otherwise make the change itself)
        httpx.post(
            f"{first.url}/api/flags", json=BOOLEAN_FLAG, headers=first.admin
        ).raise_for_status()
        at = (datetime.now(UTC) + timedelta(seconds=3)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        made = httpx.post(
            f"{first.url}/api/flags/new-checkout/schedules",
            json={"environment": "production", "action": "on", "at": at},
            headers=first.admin,
        )
        assert made.status_code == 201, made.text
        schedule = made.json()
    finally:
        # When the server stops before that time
        stop_live(first)
    store = open_store(settings)
    try:
        assert ScheduleService(store).get(schedule["id"]).state == "pending"
    finally:
        store.close()
    # And the time passes with no server running
    time.sleep(
        max(0.0, (datetime.fromisoformat(schedule["at"]) - datetime.now(UTC)).total_seconds()) + 0.3
    )
    second = start_live(settings, keys=keys)
    try:
        # Then the next server applies it as it starts, once, and an SDK reads the flag on
        url = f"{second.url}/api/flag-schedules/{schedule['id']}"
        assert eventually(lambda: httpx.get(url, headers=second.admin).json()["state"] == "applied")
        with Client(second.url, second.server_key, flush_interval=0) as client:
            assert client.wait_until_ready(10)
            assert client.boolean("new-checkout", False, {"targetingKey": "u1"}) is True
        history = httpx.get(f"{second.url}/api/flags/new-checkout/history", headers=second.admin)
        actors = [v["actor"] for v in history.json()]
        assert actors == ["token:alice", f"schedule:{schedule['id']} for token:alice"]
        assert "late" not in history.json()[-1]["comment"]  # under a minute: on time
    finally:
        stop_live(second)


def test_an_sdk_streaming_hears_a_scheduled_change_when_it_is_applied(tmp_path: Path) -> None:
    live = start_live(Settings(database=str(tmp_path / "live.duckdb"), schedule_interval=0.05))
    try:
        httpx.post(
            f"{live.url}/api/flags", json=BOOLEAN_FLAG, headers=live.admin
        ).raise_for_status()
        with Client(live.url, live.server_key, flush_interval=0) as client:
            assert client.wait_until_ready(10)
            assert eventually(lambda: client.connected)
            assert client.boolean("new-checkout", True, {"targetingKey": "u1"}) is False
            at = (datetime.now(UTC) + timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            httpx.post(
                f"{live.url}/api/flags/new-checkout/schedules",
                json={"environment": "production", "action": "on", "at": at},
                headers=live.admin,
            ).raise_for_status()
            assert eventually(lambda: client.boolean("new-checkout", False, {"targetingKey": "u1"}))
    finally:
        stop_live(live)


# --- HTTP --------------------------------------------------------------------------------------


def test_the_api_refuses_bad_input_with_422_naming_the_field(api: Api) -> None:
    api.http.post("/api/flags", json=BOOLEAN_FLAG, headers=api.admin).raise_for_status()
    path = "/api/flags/new-checkout/schedules"
    good = {"environment": "production", "action": "on", "at": "2030-01-01T00:00Z"}
    cases = [
        ({"at": "2030-12-08 09:00"}, "at", "has no time zone"),
        ({"at": "2030-12-08 09:00", "tz": "Mars/Olympus"}, "tz", "unknown time zone"),
        ({"at": "2020-12-08 09:00", "tz": "UTC"}, "at", "is in the past"),
        ({"at": "2030-03-31 02:30", "tz": "Europe/Paris"}, "at", "does not exist in Europe/Paris"),
        ({"action": "flip"}, "body.action", ""),
        ({"action": "serve"}, "variant", "name the variant to serve"),
        ({"at": 1700000000}, "body.at", ""),
        ({"at": "x" * 65}, "body.at", ""),
    ]
    for change, field, says in cases:
        answer = api.http.post(path, json={**good, **change}, headers=api.admin)
        assert answer.status_code == 422, (change, answer.text)
        problem = answer.json()["problems"][0]
        assert (problem["field"], says in problem["problem"]) == (field, True), change
    assert (
        api.http.post("/api/flags/nosuch/schedules", json=good, headers=api.admin).status_code
        == 404
    )
    # Nothing was stored by any of them
    assert api.http.get("/api/flag-schedules?all=true", headers=api.admin).json() == []


def test_the_api_schedules_lists_and_cancels(api: Api) -> None:
    api.http.post("/api/flags", json=BOOLEAN_FLAG, headers=api.admin).raise_for_status()
    body = {
        "environment": "staging",
        "action": "serve",
        "variant": "off",
        "at": "2030-12-08 09:00",
        "tz": "Europe/Paris",
        "actor": "ann",
    }
    made = api.http.post("/api/flags/new-checkout/schedules", json=body, headers=api.admin)
    assert made.status_code == 201, made.text
    found = made.json()
    # 09:00 in Paris on 8 December 2030 is 08:00 UTC
    assert (found["at"], found["local"], found["created_by"]) == (
        "2030-12-08T08:00:00Z",
        "2030-12-08 09:00 Europe/Paris",
        "token:alice for ann",
    )
    listed = api.http.get("/api/flags/new-checkout/schedules", headers=api.admin).json()
    assert [s["id"] for s in listed] == [found["id"]]
    # An editor of production alone may neither schedule nor cancel in staging
    _, editor = api.app.state.tokens.create(
        "editor", name="prod-editor", actor="test", environments=["production"]
    )
    scoped = {"Authorization": f"Bearer {editor}"}
    assert (
        api.http.post("/api/flags/new-checkout/schedules", json=body, headers=scoped).status_code
        == 403
    )
    cancel = f"/api/flags/new-checkout/schedules/{found['id']}"
    assert api.http.delete(cancel, headers=scoped).status_code == 403
    assert (
        api.http.post(
            "/api/flags/new-checkout/schedules",
            json={**body, "environment": "production"},
            headers=scoped,
        ).status_code
        == 201
    )
    # Cancelled through another flag's path: 404; through its own: cancelled, then 409
    assert (
        api.http.delete(f"/api/flags/other/schedules/{found['id']}", headers=api.admin).status_code
        == 404
    )
    done = api.http.delete(cancel, headers=api.admin)
    assert (done.status_code, done.json()["state"]) == (200, "cancelled")
    assert api.http.delete(cancel, headers=api.admin).status_code == 409


# --- the command line ------------------------------------------------------------------------

runner = CliRunner()


def test_the_cli_schedules_lists_and_cancels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWAY_ACTOR", "ann")
    assert runner.invoke(cli, ["flags", "create", "checkout"]).exit_code == 0
    at = (datetime.now(UTC) + timedelta(days=30)).replace(hour=9, minute=0)
    made = runner.invoke(
        cli,
        [
            "flags",
            "schedule",
            "checkout",
            "--env",
            "production",
            "--kill",
            "--at",
            f"{at:%Y-%m-%d} 09:00",
            "--tz",
            "UTC",
            "--reason",
            "end of test",
        ],
    )
    assert made.exit_code == 0, made.output
    schedule_id = made.stdout.split()[1].rstrip(":")
    assert made.stdout.startswith(
        f"Scheduled {schedule_id}: kill checkout in production at {at:%Y-%m-%d} 09:00 UTC;"
    )
    listed = runner.invoke(cli, ["flags", "schedules", "checkout", "--format", "json"])
    (found,) = json.loads(listed.stdout)
    assert (found["id"], found["action"], found["created_by"], found["reason"]) == (
        schedule_id,
        "kill",
        "ann",
        "end of test",
    )
    gone = runner.invoke(cli, ["flags", "unschedule", schedule_id])
    assert gone.stdout.startswith(f"Cancelled {schedule_id}: kill checkout in production")
    assert "No scheduled change waiting" in runner.invoke(cli, ["flags", "schedules"]).stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--on", "--at", "2030-12-08 09:00"], "error: at: '2030-12-08 09:00' has no time zone"),
        (
            ["--on", "--at", "2030-12-08 09:00", "--tz", "Mars/Olympus"],
            "error: tz: unknown time zone",
        ),
        (
            ["--on", "--at", "2020-12-08 09:00", "--tz", "UTC"],
            "error: at: 2020-12-08 09:00 is in the past",
        ),
        (
            ["--on", "--kill", "--at", "2030-12-08T09:00Z"],
            "error: give one change: --on, --off, --kill or --serve VARIANT (not --on and --kill)",
        ),
        (["--at", "2030-12-08T09:00Z"], "error: give one change"),
        (
            ["--serve", "blue", "--at", "2030-12-08T09:00Z"],
            "error: variant: flag 'checkout' has no variant 'blue'",
        ),
    ],
)
def test_the_cli_refuses_bad_input_on_stderr_with_exit_2(args: list[str], says: str) -> None:
    assert runner.invoke(cli, ["flags", "create", "checkout"]).exit_code == 0
    done = runner.invoke(cli, ["flags", "schedule", "checkout", "--env", "production", *args])
    assert (done.exit_code, done.stdout) == (2, "")
    assert done.stderr.startswith(says), done.stderr


def test_the_cli_through_a_server_schedules_lists_and_cancels(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = start_live(Settings(database=str(tmp_path / "live.duckdb"), schedule_interval=0))
    try:
        httpx.post(
            f"{live.url}/api/flags", json=BOOLEAN_FLAG, headers=live.admin
        ).raise_for_status()
        monkeypatch.setenv("HEADWAY_URL", live.url)
        monkeypatch.setenv("HEADWAY_TOKEN", live.admin["Authorization"][7:])
        get_settings.cache_clear()
        # 09:00 on 8 December 2030 in New York (-05:00) is 14:00 UTC
        made = runner.invoke(
            cli,
            [
                "flags",
                "schedule",
                "new-checkout",
                "-e",
                "staging",
                "--serve",
                "off",
                "--at",
                "2030-12-08 09:00",
                "--tz",
                "America/New_York",
            ],
        )
        assert made.exit_code == 0, made.output
        schedule_id = made.stdout.split()[1].rstrip(":")
        assert made.stdout.startswith(
            f"Scheduled {schedule_id}: serve off new-checkout in staging at 2030-12-08 09:00 "
            "America/New_York (2030-12-08 14:00 UTC);"
        )
        (found,) = json.loads(runner.invoke(cli, ["flags", "schedules", "--format", "json"]).stdout)
        assert (found["id"], found["created_by"]) == (schedule_id, "token:alice")
        refused = runner.invoke(
            cli,
            [
                "flags",
                "schedule",
                "new-checkout",
                "-e",
                "staging",
                "--on",
                "--at",
                "2030-12-08 09:00",
            ],
        )
        assert (refused.exit_code, refused.stdout) == (2, "")
        assert refused.stderr.startswith("error: at: '2030-12-08 09:00' has no time zone")
        gone = runner.invoke(cli, ["flags", "unschedule", schedule_id])
        assert gone.stdout.startswith(f"Cancelled {schedule_id}: serve off new-checkout in staging")
        again = runner.invoke(cli, ["flags", "unschedule", schedule_id])
        assert (again.exit_code, again.stdout) == (2, "")
        assert f"schedule '{schedule_id}' is cancelled (cancelled by token:alice)" in again.stderr
    finally:
        get_settings.cache_clear()
        stop_live(live)
