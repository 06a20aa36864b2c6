"""`headway flags` and `headway tokens` through the real root CLI.

Every test runs twice: on the store directly, and through a running server (HEADWAY_URL with
an admin HEADWAY_TOKEN), where the same commands must give the same results.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from tests.flags.conftest import start_live, stop_live

runner = CliRunner()


@pytest.fixture(autouse=True, params=["store", "server"])
def where(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    if request.param == "store":
        yield "store"
        return
    live = start_live(Settings(database=str(tmp_path / "served.duckdb")))
    monkeypatch.setenv("HEADWAY_URL", live.url)
    monkeypatch.setenv("HEADWAY_TOKEN", live.admin["Authorization"].removeprefix("Bearer "))
    get_settings.cache_clear()
    try:
        yield "server"
    finally:
        stop_live(live)
        get_settings.cache_clear()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_create_target_split_kill_and_history(where: str) -> None:
    _ok("flags", "create", "new-checkout", "--owner", "payments", "--remove-by", "2030-01-01")
    # Served `off` by default, so the split below grows `on` out of nothing
    _ok("flags", "set", "new-checkout", "--env", "production", "--on", "--default", "off")
    _ok(
        "flags",
        "rule",
        "add",
        "new-checkout",
        "--when",
        "country in FR,DE",
        "--when",
        "plan eq pro",
        "--serve",
        "on",
        "--id",
        "eu-pro",
    )
    _ok("flags", "split", "new-checkout", "on=10", "off=90")
    shown = json.loads(_ok("flags", "show", "new-checkout", "--format", "json"))
    prod = shown["environments"]["production"]
    assert prod["rules"][0]["conditions"] == [
        {"attribute": "country", "operator": "in", "value": ["FR", "DE"]},
        {"attribute": "plan", "operator": "eq", "value": "pro"},
    ]
    # The default served `off` to every bucket before; `on` takes the 10,000 buckets `off` gives
    # up from its top end: off 0-90,000, on 90,000-100,000
    assert prod["default"]["split"]["allocation"] == [[0, 90000, "off"], [90000, 100000, "on"]]
    # A user matching the rule gets `on` by TARGETING_MATCH
    out = _ok(
        "flags",
        "eval",
        "new-checkout",
        "--context",
        '{"targetingKey": "u1", "country": "FR", "plan": "pro"}',
    )
    assert "rule eu-pro: matched" in out
    assert "reason TARGETING_MATCH" in out
    # Raising the split to 30 %: `off` gives up 70,000-90,000, so `on` owns 70,000-100,000 and
    # keeps everyone it had
    _ok("flags", "split", "new-checkout", "on=30", "off=70")
    shown = json.loads(_ok("flags", "show", "new-checkout", "--format", "json"))
    assert shown["environments"]["production"]["default"]["split"]["allocation"] == [
        [0, 70000, "off"],
        [70000, 100000, "on"],
    ]
    _ok("flags", "kill", "new-checkout", "--reason", "error spike")
    listed = json.loads(_ok("flags", "list", "--format", "json"))
    assert not any(e["enabled"] for e in listed[0]["environments"].values())
    history = json.loads(_ok("flags", "history", "new-checkout", "--format", "json"))
    assert [h["action"] for h in history] == [
        "create",
        "update",
        "rule-add",
        "split",
        "split",
        "kill",
    ]
    assert history[-1]["comment"] == "error spike"
    # Through a server, the server names the actor: the admin token the fixture made, "alice"
    assert history[-1]["actor"].startswith("token:alice" if where == "server" else "cli:")
    _ok("flags", "archive", "new-checkout")
    assert json.loads(_ok("flags", "list", "--format", "json")) == []


def test_bad_input_names_the_field() -> None:
    _ok("flags", "create", "f", "--permanent")
    result = runner.invoke(
        app, ["flags", "rule", "add", "f", "--when", "age between 1", "--serve", "on"]
    )
    assert result.exit_code == 2
    assert "environments.production.rules[0].conditions[0].operator" in result.output
    result = runner.invoke(app, ["flags", "split", "f", "on=50", "off=40"])
    assert result.exit_code == 2
    assert "weights sum to 90 %" in result.output
    result = runner.invoke(app, ["flags", "show", "missing"])
    assert (result.exit_code, "does not exist" in result.output) == (2, True)


def _api_tokens() -> list[dict[str, object]]:
    # The server fixture made tokens of its own; look only at this test's.
    listed = json.loads(_ok("tokens", "list", "--format", "json"))
    return [t for t in listed if t["name"] == "api"]


def test_tokens() -> None:
    out = _ok("tokens", "create", "--kind", "server", "--name", "api", "--env", "production")
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("hws_")
    listed = _api_tokens()
    assert [(t["kind"], t["environment"], t["revoked"]) for t in listed] == [
        ("server", "production", False)
    ]
    _ok("tokens", "revoke", str(listed[0]["id"]))
    assert _api_tokens()[0]["revoked"] is True
    gone = runner.invoke(app, ["tokens", "revoke", "nope"])
    assert gone.exit_code != 0
    bad = runner.invoke(app, ["tokens", "create", "--kind", "client", "--name", "x"])
    assert bad.exit_code == 2
    assert "environment" in bad.output


def test_stale_lists_temporary_flags_past_their_removal_date() -> None:
    _ok("flags", "create", "old-banner", "--owner", "web", "--remove-by", "2020-01-01")
    _ok("flags", "create", "new-banner", "--owner", "web", "--remove-by", "2999-01-01")
    _ok("flags", "create", "kill-switch", "--owner", "web", "--permanent")
    stale = json.loads(_ok("flags", "list", "--stale", "--format", "json"))
    assert [f["key"] for f in stale] == ["old-banner"]


def test_client_side_marker() -> None:
    _ok("flags", "create", "banner", "--owner", "web", "--permanent")
    assert "server SDK keys only" in _ok("flags", "show", "banner")
    out = _ok("flags", "set", "banner", "--client-side")
    assert "evaluated by client keys too (v2)" in out
    assert json.loads(_ok("flags", "show", "banner", "--format", "json"))["client_side"] is True
    # Marking it again changes nothing, so no new version
    assert "(v2)" in _ok("flags", "set", "banner", "--client-side")
    _ok("flags", "set", "banner", "--server-only", "--on")
    history = json.loads(_ok("flags", "history", "banner", "--format", "json"))
    assert [h["document"]["client_side"] for h in history] == [False, True, False, False]
    assert history[-1]["document"]["environments"]["production"]["enabled"] is True


def test_create_with_nothing_else_is_a_release_flag_that_serves_true_when_on(
    where: str,
) -> None:
    # Given a flag created with nothing but its key
    out = _ok("flags", "create", "dark-mode")
    shown = json.loads(_ok("flags", "show", "dark-mode", "--format", "json"))
    # Then it is a boolean release flag expected to go 40 days from today (the release kind's
    # lifetime), with no date the user had to invent
    expected = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=40)).isoformat()
    assert shown["type"] == "boolean"
    assert shown["lifecycle"] == {"kind": "release", "expected_removal": expected}
    assert f"release flag dark-mode, expected removal in 40 days ({expected})" in out
    ctx = '{"targetingKey": "u1"}'
    # When it is off it serves false; switched on, true; off again, false
    assert "value false, variant off, reason DISABLED" in _ok(
        "flags", "eval", "dark-mode", "--context", ctx
    )
    _ok("flags", "set", "dark-mode", "--env", "production", "--on")
    assert "value true, variant on, reason STATIC" in _ok(
        "flags", "eval", "dark-mode", "--context", ctx
    )
    _ok("flags", "set", "dark-mode", "--env", "production", "--off")
    assert "value false, variant off, reason DISABLED" in _ok(
        "flags", "eval", "dark-mode", "--context", ctx
    )


def test_a_stored_flag_that_served_false_when_on_keeps_serving_it(
    where: str, tmp_path: Path
) -> None:
    # Given a flag document stored as flags were before: on in production, default `off`
    doc = {
        "key": "legacy",
        "type": "boolean",
        "owner": "web",
        "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
        "lifecycle": {"kind": "temporary", "expected_removal": "2030-01-01"},
        "environments": {
            "production": {"enabled": True, "off_variant": "off", "default": {"variant": "off"}}
        },
    }
    path = tmp_path / "legacy.json"
    path.write_text(json.dumps(doc))
    _ok("flags", "create", "legacy", "--file", str(path))
    # When it is switched on again, it still serves false, and the CLI says how to serve true
    out = _ok("flags", "set", "legacy", "--env", "production", "--on")
    assert "serves off (false) to everyone" in out
    assert "value false, variant off, reason STATIC" in _ok(
        "flags", "eval", "legacy", "--context", "{}"
    )


def test_kinds_set_lifetimes_and_long_lived_kinds_have_no_date(where: str) -> None:
    today = dt.datetime.now(dt.UTC).date()
    _ok("flags", "create", "ops", "--kind", "operational")
    _ok("flags", "create", "perm", "--kind", "permission")
    ops = json.loads(_ok("flags", "show", "ops", "--format", "json"))["lifecycle"]
    perm = json.loads(_ok("flags", "show", "perm", "--format", "json"))["lifecycle"]
    assert ops == {"kind": "operational", "expected_removal": str(today + dt.timedelta(days=7))}
    assert perm == {"kind": "permission", "expected_removal": None}
    bad = runner.invoke(app, ["flags", "create", "x", "--kind", "forever"])
    assert bad.exit_code == 2
    assert "lifecycle.kind" in bad.output
