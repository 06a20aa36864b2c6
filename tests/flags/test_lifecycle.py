"""A flag's owner, kind, created and released dates, and the stale flags, from its versions."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway.config import Settings
from headway.flags.lifecycle import Stamped, environment_state, flag_state, lifecycle_of
from headway.flags.model import ConfigError, EnvironmentConfig, parse_flag
from headway.flags.service import FlagService
from headway.store import Store, base, open_store
from tests.conftest import authorize
from tests.flags.conftest import boolean_flag, flag_app, split

BOOLEAN = {
    "type": "boolean",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
}
DAY0 = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = DAY0

    def __call__(self) -> datetime:
        return self.now


def _env(**fields: Any) -> EnvironmentConfig:
    return EnvironmentConfig.model_validate(
        {"enabled": True, "off_variant": "off", "default": {"variant": "on"}, **fields}
    )


@pytest.mark.parametrize(
    ("fields", "state"),
    [
        ({}, "on"),
        ({"enabled": False}, "off"),
        ({"default": {"variant": "off"}}, "off"),  # switched on, serving the off variant
        ({"default": split(25)}, "partial"),
        ({"default": split(100)}, "on"),  # a 100/0 split gives everyone `on`
        (
            {"rules": [{"conditions": [], "serve": {"variant": "off"}}]},
            "partial",  # a rule serves off to some, the default on to others
        ),
    ],
)
def test_an_environment_is_on_off_or_partial(fields: dict[str, Any], state: str) -> None:
    assert environment_state(_env(**fields)) == state


def test_dates_come_from_the_versions() -> None:
    # Given a flag created off on Sep 1, switched on in production on Sep 3 and given a new
    # owner on Sep 10 (a change no user sees)
    off = boolean_flag(enabled=False)
    on = boolean_flag()
    moved = on.model_copy(update={"owner": "team-web"})
    t = [DAY0, DAY0 + timedelta(days=2), DAY0 + timedelta(days=9)]

    # When its lifecycle is read
    life = lifecycle_of([Stamped(off, t[0]), Stamped(on, t[1]), Stamped(moved, t[2])])

    # Then it was created Sep 1, released and last changed Sep 3, owned by team-web now
    assert (life.created_at, life.released_at, life.changed_at) == (t[0], t[1], t[1])
    assert (life.owner, life.kind, life.state) == ("team-web", "temporary", "on")
    assert lifecycle_of([Stamped(off, t[0])]).released_at is None


def test_a_flag_with_mixed_environments_is_partial() -> None:
    flag = boolean_flag()
    both = flag.model_copy(
        update={"environments": {"production": _env(), "staging": _env(enabled=False)}}
    )
    assert flag_state(both) == "partial"


def _create(service: FlagService, key: str, kind: str = "release", **lifecycle: Any) -> None:
    lifecycle = {"kind": kind, **lifecycle}
    document = {"key": key, "owner": f"owner-{key}", "lifecycle": lifecycle, **BOOLEAN}
    service.create_flag(document, actor="test")


def _on_everywhere(service: FlagService, key: str) -> None:
    for env in service.environment_keys():
        service.set_enabled(key, env, True, actor="test")


def test_stale_release_flags_are_listed_with_their_reason(store: Store) -> None:
    clock = Clock()
    service = FlagService(store, clock=clock)
    # Sep 1: four flags. `settled` (release) goes fully on everywhere on Sep 2; `half`
    # (release, removal due 2027) is on for a quarter of production; `trial` is an
    # experiment, off everywhere, due for removal 40 days after creation (Oct 11).
    _create(service, "settled")
    _create(service, "half", expected_removal="2027-06-30")
    _create(service, "trial", kind="experiment")
    clock.now = DAY0 + timedelta(days=1)
    _on_everywhere(service, "settled")
    service.update_environment(
        "half", "production", {"enabled": True, "default": split(25)}, actor="test"
    )
    # Oct 11: `fresh` (release) is created, off everywhere
    clock.now = DAY0 + timedelta(days=40)
    _create(service, "fresh", expected_removal="2027-06-30")
    # Oct 12: settled's owner changes (no rule change)
    clock.now = DAY0 + timedelta(days=41)
    service.update_flag("settled", {"owner": "team-web"}, actor="test")

    # Oct 17, 30-day threshold
    clock.now = DAY0 + timedelta(days=46)
    stale = service.stale(timedelta(days=30))

    # settled: fully on since Sep 2 → 45 days; trial: past Oct 11 by 6 days.
    # half is partial, fresh is off for only 6 days: neither is stale.
    assert [(s.key, s.reason, s.since, s.days) for s in stale] == [
        ("settled", "fully-on", date(2026, 9, 2), 45),
        ("trial", "past-removal", date(2026, 10, 11), 6),
    ]
    assert stale[0].owner == "team-web"
    assert "since 2026-09-02 (45 days, more than 30)" in stale[0].detail
    # With a 5-day threshold, fresh (off since Oct 11, 6 days) is stale too.
    assert [s.key for s in service.stale(timedelta(days=5))] == ["settled", "fresh", "trial"]

    life = service.lifecycle("settled")
    assert life.created_at == DAY0
    assert life.released_at == DAY0 + timedelta(days=1)
    assert service.lifecycle("fresh").released_at is None
    with pytest.raises(ConfigError, match="after_days"):
        service.stale(timedelta(0))


def test_a_kind_may_be_written_ops() -> None:
    flag = parse_flag(
        {
            "key": "k",
            "type": "boolean",
            "owner": "sre",
            "variants": [{"key": "on", "value": True}],
            "lifecycle": {"kind": "ops", "expected_removal": "2030-01-01"},
        }
    )
    assert flag.lifecycle.kind == "operational"


def test_lifecycle_and_stale_flags_over_http(tmp_path: Path) -> None:
    with TestClient(flag_app(Settings(database=str(tmp_path / "h.duckdb")))) as http:
        authorize(http, "editor")
        created = {"key": "checkout", "owner": "payments", **BOOLEAN}
        assert http.post("/api/flags", json=created).status_code == 201

        life = http.get("/api/flags/checkout/lifecycle")
        assert life.status_code == 200
        body = life.json()
        assert (body["owner"], body["kind"], body["state"]) == ("payments", "release", "off")
        assert body["released_at"] is None

        # Created a moment ago: stale after no threshold of at least one day
        assert http.get("/api/stale-flags", params={"after_days": 1}).json() == []
        refused = http.get("/api/stale-flags", params={"after_days": 0})
        assert refused.status_code == 422
        assert http.get("/api/flags/nope/lifecycle").status_code == 404


def test_a_store_from_the_previous_release_upgrades(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a store with every migration before the code references (0015) and a flag switched
    # on there (written by today's service, which needs the audit chain of 0014)
    settings = Settings(database=str(tmp_path / "old.duckdb"))
    every = base._migration_files()
    before = [m for m in every if m[0] < "0015"]
    monkeypatch.setattr(base, "_migration_files", lambda: before)
    old = open_store(settings)
    clock = Clock()
    service = FlagService(old, clock=clock)
    _create(service, "legacy", kind="permission")
    clock.now = DAY0 + timedelta(days=3)
    _on_everywhere(service, "legacy")
    old.close()
    monkeypatch.undo()

    # When the new release opens it
    upgraded = open_store(settings)
    try:
        names = [r[0] for r in upgraded.query("SELECT name FROM schema_migrations ORDER BY name")]
        assert names == [name for name, _ in every]
        # Then the flag's dates come from the versions it already had
        life = FlagService(upgraded).lifecycle("legacy")
        assert (life.created_at, life.kind, life.state) == (DAY0, "permission", "on")
        assert life.released_at == DAY0 + timedelta(days=3)
        assert upgraded.count("flag_ref_scans") == 0
    finally:
        upgraded.close()


def test_the_cli_shows_a_flags_lifecycle() -> None:
    from typer.testing import CliRunner

    from headway.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["flags", "create", "banner", "--owner", "web"]).exit_code == 0
    before = runner.invoke(app, ["flags", "lifecycle", "banner", "--json"])
    assert before.exit_code == 0, before.output
    life = json.loads(before.stdout)
    assert (life["owner"], life["kind"], life["state"], life["released_at"]) == (
        "web",
        "release",
        "off",
        None,
    )
    on = runner.invoke(app, ["flags", "set", "banner", "--env", "production", "--on"])
    assert on.exit_code == 0, on.output
    after = json.loads(runner.invoke(app, ["flags", "lifecycle", "banner", "--json"]).stdout)
    assert after["state"] == "partial"  # on in production, off in development and staging
    assert after["released_at"] is not None
    shown = runner.invoke(app, ["flags", "lifecycle", "banner"])
    assert "release flag owned by web" in shown.output
    missing = runner.invoke(app, ["flags", "lifecycle", "nosuch"])
    assert missing.exit_code == 2
