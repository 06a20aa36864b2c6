"""End to end: a service evaluates a flag with the SDK against a running server and tracks its
errors; the treatment errors more often, the server's controller rolls the rollout back by
itself, the SDK serves control to everyone, and `headway metrics` counts the failed release."""

from __future__ import annotations

import json
import random

import httpx
import pytest
from typer.testing import CliRunner

from headway.cli import app as cli
from headway.config import Settings
from headway.sdk import Client
from tests.flags.conftest import Live, eventually, start_live, stop_live

ENV = "production"
FLAG = {
    "key": "new-checkout",
    "type": "boolean",
    "owner": "payments",
    "service": "checkout",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
    "lifecycle": {"kind": "temporary", "expected_removal": "2026-12-31"},
    "environments": {ENV: {"enabled": True, "off_variant": "off", "default": {"variant": "off"}}},
}
PLAN = {
    "flag": "new-checkout",
    "treatment": "on",
    "control": "off",
    "stages": "20,50,100",
    "min_duration": "1h",  # no stage ends by time during the test: only the judge can act
    "min_samples": 200,
    "guardrails": ["errors:rate:increase:0%:rollback"],
    "service": "checkout",
    "actor": "ana",
}


def serve_requests(sdk: Client, users: range, rng: random.Random) -> None:
    """The service: one request per user; the new checkout fails 6 % of the time, the old 1 %.

    It reports each failure with `track`, which the SDK attributes to the variant served.
    """
    for user in users:
        context = {"targetingKey": f"user-{user}"}
        new_checkout = sdk.boolean("new-checkout", False, context)
        if rng.random() < (0.06 if new_checkout else 0.01):
            sdk.track("errors", context=context)


def served(sdk: Client, users: int) -> set[str | None]:
    """The variants the SDK serves to `users` users who have not made requests yet."""
    return {sdk.evaluate("new-checkout", {"targetingKey": f"u{i}"}).variant for i in range(users)}


def rollout_state(live: Live) -> str:
    answer = httpx.get(f"{live.url}/api/rollouts/new-checkout/{ENV}", headers=live.admin)
    return str(answer.json()["state"])


def test_a_harmful_rollout_rolls_itself_back_and_counts_as_a_failed_release(
    engine_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADWAY_DATABASE", engine_settings.database)
    monkeypatch.setenv("HEADWAY_ROLLOUT_INTERVAL", "0.05")  # the server's controller judges
    live = start_live(engine_settings)
    rng = random.Random(5)
    try:
        httpx.post(f"{live.url}/api/flags", json=FLAG, headers=live.admin).raise_for_status()
        sdk = Client(live.url, live.server_key, flush_interval=0)  # the test flushes
        assert sdk.wait_until_ready(10)

        # Before the rollout the service already reports its error metric (all on control).
        serve_requests(sdk, range(0, 2000), rng)
        assert sdk.flush() > 0

        # Given a rollout of `on` guarded by the error rate
        started = httpx.post(f"{live.url}/api/rollouts", json=PLAN, headers=live.admin)
        assert started.status_code == 201, started.text
        # Then the SDK receives the first stage's 20/80 split over its stream
        assert eventually(lambda: served(sdk, 200) == {"on", "off"})

        # When traffic flows, the treatment erring 6 % against 1 %
        state = "running"
        for batch in range(1, 20):
            serve_requests(sdk, range(batch * 2000, (batch + 1) * 2000), rng)
            sdk.flush()
            state = eventually(lambda: rollout_state(live) != "running", timeout=0.5)
            if state:
                break
        # Then the controller rolled it back by itself
        assert rollout_state(live) == "rolled_back"
        status = httpx.get(f"{live.url}/api/rollouts/new-checkout/{ENV}", headers=live.admin).json()
        assert status["percent"] == 0
        assert "on treatment against" in status["reason"]
        assert (status["events"][-1]["kind"], status["events"][-1]["actor"]) == (
            "rolled_back",
            "headway",
        )

        # And the SDK serves control to everyone.
        assert eventually(lambda: served(sdk, 500) == {"off"})
        sdk.close()
    finally:
        stop_live(live)

    result = CliRunner().invoke(cli, ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # One release (failed) and its rollback: under the default dora definition both count as
    # deployments and the release failed, so the change fail rate is 1 / 2 = 0.5; the
    # rollback recovered it, so there is one recovery and nothing left unrecovered. Two
    # deployments are too few to rate, so the rate carries no level and says why.
    assert data["change_fail_rate"] == {
        "deployments": 2,
        "failed": 1,
        "rate": 0.5,
        "level": None,
        "level_reason": "too few to rate: 2 counted deployments; a level needs at least 10",
        "reason": None,
    }
    recovery = data["failed_deployment_recovery_time"]
    assert (recovery["recoveries"], recovery["unrecovered"]) == (1, 0)
