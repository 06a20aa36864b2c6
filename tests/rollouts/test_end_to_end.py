"""End to end: a service evaluates a flag with the SDK, the treatment errors more often, the
rollout rolls itself back, everyone gets control, and `headway metrics` counts the failure."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app as cli
from headway.config import Settings
from headway.flags.service import FlagService
from headway.sdk.client import Client
from headway.store.duck import DuckStore

ENV = "production"
FLAG = {
    "key": "new-checkout",
    "type": "boolean",
    "owner": "payments",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
    "lifecycle": {"kind": "temporary", "expected_removal": "2026-12-31"},
    "environments": {ENV: {"enabled": True, "off_variant": "off", "default": {"variant": "off"}}},
}


def serve_requests(
    sdk: Client, users: range, rng: random.Random
) -> dict[tuple[str, str], tuple[int, int]]:
    """The service: one request per user; the new checkout fails 6 % of the time, the old 1 %.

    Returns (exposures, errors) per (flag, variant), as its telemetry would aggregate them.
    """
    counts: dict[tuple[str, str], list[int]] = {}
    for user in users:
        result = sdk.evaluate("new-checkout", {"targetingKey": f"user-{user}"})
        assert result.variant is not None
        failed = rng.random() < (0.06 if result.variant == "on" else 0.01)
        slot = counts.setdefault(("new-checkout", result.variant), [0, 0])
        slot[0] += 1
        slot[1] += failed
    return {k: (v[0], v[1]) for k, v in counts.items()}


def samples(counts: dict[tuple[str, str], tuple[int, int]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for (flag, variant), (exposures, errors) in counts.items():
        out.append({"flag": flag, "variant": variant, "metric": "$exposures", "n": exposures})
        out.append(
            {
                "flag": flag,
                "variant": variant,
                "metric": "errors",
                "n": errors,
                "total": errors,
                "sumsq": errors,
            }
        )
    return out


def test_a_harmful_rollout_rolls_itself_back_and_counts_as_a_failed_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "e2e.duckdb"
    monkeypatch.setenv("HEADWAY_DATABASE", str(db))
    monkeypatch.setenv("HEADWAY_ROLLOUT_INTERVAL", "3600")  # the test ticks the controller itself
    store = DuckStore(db)
    store.migrate()
    flags = FlagService(store)
    flags.create_flag(FLAG, actor="ana")
    rng = random.Random(5)

    with TestClient(create_app(Settings(database=str(db)), store=store)) as http:
        sdk = Client(offline=True, bootstrap=flags.config(ENV))
        # Before the rollout the service already reports its error metric.
        before = serve_requests(sdk, range(0, 2000), rng)
        assert (
            http.post(
                "/api/rollouts/samples", json={"environment": ENV, "samples": samples(before)}
            ).status_code
            == 202
        )

        bad = http.post(
            "/api/rollouts",
            json={
                "flag": "new-checkout",
                "treatment": "on",
                "control": "off",
                "stages": "20,50,100",
                "guardrails": ["errors:rate:increase:-5%:rollback"],
            },
        )
        assert bad.status_code == 422
        assert "write increase:10%, not increase:-10%" in bad.json()["error"]

        started = http.post(
            "/api/rollouts",
            json={
                "flag": "new-checkout",
                "treatment": "on",
                "control": "off",
                "stages": "20,50,100",
                "min_duration": "1h",
                "min_samples": 200,
                "guardrails": ["errors:rate:increase:0%:rollback"],
                "service": "checkout",
                "actor": "ana",
            },
        )
        assert started.status_code == 201, started.text
        again = http.post(
            "/api/rollouts",
            json={
                "flag": "new-checkout",
                "treatment": "on",
                "control": "off",
                "stages": "20,50,100",
                "guardrails": ["errors:rate:increase:0%:rollback"],
            },
        )
        assert again.status_code == 409

        controller = http.app.state.rollouts  # type: ignore[attr-defined]
        state = "running"
        for batch in range(1, 20):
            sdk.load(flags.config(ENV))  # the SDK picks up the stage's split
            counts = serve_requests(sdk, range(batch * 2000, (batch + 1) * 2000), rng)
            http.post(
                "/api/rollouts/samples", json={"environment": ENV, "samples": samples(counts)}
            )
            controller.tick()
            state = http.get(f"/api/rollouts/new-checkout/{ENV}").json()["state"]
            if state != "running":
                break
        assert state == "rolled_back"

        status = http.get(f"/api/rollouts/new-checkout/{ENV}").json()
        assert status["percent"] == 0
        assert "on treatment against" in status["reason"]
        assert status["events"][-1]["kind"] == "rolled_back"
        assert status["events"][-1]["actor"] == "headway"

        # Everyone gets control now.
        sdk.load(flags.config(ENV))
        served = {
            sdk.evaluate("new-checkout", {"targetingKey": f"u{i}"}).variant for i in range(500)
        }
        assert served == {"off"}
        sdk.close()

    store.close()
    result = CliRunner().invoke(cli, ["metrics", "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    # One release (failed) and its rollback: under the default dora definition both count as
    # deployments and the release failed, so the change fail rate is 1 / 2 = 0.5; the
    # rollback recovered it, so there is one recovery and nothing left unrecovered.
    assert data["change_fail_rate"] == {"deployments": 2, "failed": 1, "rate": 0.5, "level": "low"}
    recovery = data["failed_deployment_recovery_time"]
    assert (recovery["recoveries"], recovery["unrecovered"]) == (1, 0)
