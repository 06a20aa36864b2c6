"""Bad rollout requests are refused with a message that says what to change: 4xx over HTTP,
exit code 2 on the command line, on DuckDB and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app as cli
from headway.config import Settings, get_settings
from headway.flags.service import FlagService
from headway.rollouts.controller import RolloutService
from headway.store import open_store
from tests.rollouts.test_end_to_end import FLAG

GOOD = {
    "flag": "new-checkout",
    "treatment": "on",
    "control": "off",
    "stages": "1,5,25,100",
    "guardrails": ["errors:rate:increase:0%:rollback"],
    "service": "checkout",
}
# (what is wrong, how the request differs from GOOD, the message that must explain it)
BAD = [
    (
        "stages out of order",
        {"stages": "1,25,5,100"},
        "stages 1,25,5,100 are out of order: each stage must expose more users",
    ),
    (
        "threshold of the wrong sign",
        {"guardrails": ["errors:rate:increase:-10%:rollback"]},
        "write increase:10%, not increase:-10%",
    ),
    (
        "guardrail on an unknown metric",
        {"guardrails": ["latncy_ms:mean:increase:5%:pause"]},
        "guardrail metric(s) latncy_ms have never reached Headway for production; "
        "known metrics: errors",
    ),
]


@pytest.fixture
def settings(engine_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A store with the flag on (serving off) and `errors` already reported for it."""
    store = open_store(engine_settings)
    flags = FlagService(store)
    flags.create_flag(FLAG, actor="ana")
    RolloutService(store, flags).ingest(
        "production",
        [{"flag": "new-checkout", "variant": "off", "metric": "errors", "n": 1, "total": 1}],
    )
    store.close()
    monkeypatch.setenv("HEADWAY_DATABASE", engine_settings.database)
    # The Prometheus the plans below name is one the operator allows.
    monkeypatch.setenv("HEADWAY_OUTBOUND_HOSTS", '["prometheus:9090"]')
    get_settings.cache_clear()
    return engine_settings


def cli_start(changes: dict[str, object]) -> tuple[int, str]:
    plan = {**GOOD, **changes}
    args = ["rollout", "start", "new-checkout", "--variant", "on", "--control", "off"]
    args += ["--stages", str(plan["stages"]), "--actor", "ana", "--service", "checkout"]
    for spec in plan["guardrails"]:  # type: ignore[attr-defined]
        args += ["--guardrail", spec]
    result = CliRunner().invoke(cli, args)
    return result.exit_code, " ".join(result.output.split())  # undo line wrapping


def test_http_refuses_bad_plans_with_422_and_a_second_rollout_with_409(
    settings: Settings,
) -> None:
    with TestClient(create_app(settings)) as http:
        _, secret = http.app.state.tokens.create("admin", name="release-manager", actor="ana")
        http.headers["Authorization"] = f"Bearer {secret}"
        for case, changes, message in BAD:
            answer = http.post("/api/rollouts", json={**GOOD, **changes})
            assert answer.status_code == 422, case
            assert message in answer.json()["error"], case
        # Nothing was started by the refused plans: the good one goes through, once.
        assert http.post("/api/rollouts", json=GOOD).status_code == 201
        again = http.post("/api/rollouts", json=GOOD)
        assert again.status_code == 409
        assert again.json()["error"] == (
            "flag 'new-checkout' is already rolling out in production (running at 1%); "
            "abort or finish it first"
        )


def test_cli_refuses_bad_plans_and_a_second_rollout_with_exit_code_2(settings: Settings) -> None:
    for case, changes, message in BAD:
        code, output = cli_start(changes)
        assert code == 2, case
        assert output.startswith("error: "), case
        assert message in output, case
    assert cli_start({})[0] == 0
    code, output = cli_start({})
    assert code == 2
    assert output.startswith("error: flag 'new-checkout' is already rolling out in production")


def test_cli_reads_prometheus_queries_as_metric_equals_promql(settings: Settings) -> None:
    base = ["rollout", "start", "new-checkout", "--variant", "on", "--control", "off"]
    guard = ["--guardrail", "timeouts:rate:increase:0%:rollback"]
    result = CliRunner().invoke(cli, [*base, *guard, "--prometheus-query", "timeouts"])
    assert result.exit_code == 2
    assert "--prometheus-query 'timeouts' must be METRIC=PROMQL" in result.output
    # `timeouts` never reached Headway, but Prometheus will count it: the plan is accepted.
    query = 'timeouts=sum(increase(timeouts_total{variant="$variant"}[$window]))'
    prom = ["--prometheus-url", "http://prometheus:9090", "--prometheus-query", query]
    result = CliRunner().invoke(cli, [*base, *guard, *prom, "--json"])
    assert result.exit_code == 0, result.output
    started = json.loads(result.stdout)  # the note that no controller runs is on stderr
    assert started["guardrails"] == ["timeouts:rate:increase:0%:rollback"]
    assert started["prometheus_queries"] == {"timeouts": query.removeprefix("timeouts=")}


def test_http_changes_to_a_rollout_need_an_admin_token(settings: Settings) -> None:
    with TestClient(create_app(settings)) as http:
        _, admin = http.app.state.tokens.create("admin", name="release-manager", actor="ana")
        _, sdk = http.app.state.tokens.create(
            "server", name="checkout", actor="ana", environment="production"
        )
        anonymous = http.post("/api/rollouts", json=GOOD)
        assert anonymous.status_code == 401
        assert "Authorization: Bearer" in anonymous.json()["error"]
        as_service = http.post(
            "/api/rollouts", json=GOOD, headers={"Authorization": f"Bearer {sdk}"}
        )
        assert as_service.status_code == 403
        assert http.post("/api/rollouts/new-checkout/production/pause").status_code == 401
        assert http.get("/api/rollouts").status_code == 401  # reading needs a token too
        _, viewer = http.app.state.tokens.create("viewer", name="watcher", actor="ana")
        reading = http.get("/api/rollouts", headers={"Authorization": f"Bearer {viewer}"})
        assert reading.status_code == 200
        as_viewer = http.post(
            "/api/rollouts", json=GOOD, headers={"Authorization": f"Bearer {viewer}"}
        )
        assert as_viewer.status_code == 403  # a viewer reads, an editor changes
        started = http.post(
            "/api/rollouts", json=GOOD, headers={"Authorization": f"Bearer {admin}"}
        )
        assert started.status_code == 201
