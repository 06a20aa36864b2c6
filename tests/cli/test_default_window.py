"""The default window follows the clock, not the store: a user who imports an old history is
told where its data is, and a record written elsewhere never moves a scope's window.

tests/fixtures/small_org.jsonl holds service `api`'s production deployments d1 … d5 (d4 a
rollback) from 2026-10-01 to 2026-10-08, one on staging, and one of `ledger`'s. Today is fixed at 2027-03-01 09:00 UTC through
HEADWAY_NOW, so the default period is 2026-12-02 up to the end of 2027-03-01 (90 whole days).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app
from headway.config import get_settings
from tests.conftest import authorize

SMALL_ORG = Path(__file__).parents[1] / "fixtures" / "small_org.jsonl"
runner = CliRunner()
# The 90 days up to api's latest deployment (2026-10-08): 2026-07-11 … 2026-10-08.
HINT = (
    "service api has no counted deployments between 2026-12-02 and 2027-03-01. Its latest "
    "counted deployment finished on 2026-10-08: --since 2026-07-11 --until 2026-10-08"
)


@pytest.fixture(autouse=True)
def months_later(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWAY_NOW", "2027-03-01T09:00:00Z")
    assert runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)]).exit_code == 0


def _json(*args: str) -> Any:
    result = runner.invoke(app, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_an_old_history_says_where_its_data_is() -> None:
    # Given a history whose last deployment was months ago, when the user asks for its metrics
    # without a window, then the table says there is nothing in the last 90 days, when the
    # latest deployment was, and which options show it.
    table = runner.invoke(app, ["metrics", "--service", "api"])
    assert table.exit_code == 0, table.output
    assert "2026-12-02 → 2027-03-02" in table.output  # the period (its end exclusive)
    assert HINT in " ".join(table.output.split())
    doc = _json("metrics", "--service", "api")
    assert doc["period"] == {
        "since": "2026-12-02T00:00:00Z",
        "until": "2027-03-02T00:00:00Z",
        "days": 90,
    }
    assert doc["deployment_frequency"]["deployments"] == 0
    assert doc["warnings"][0].startswith(HINT)
    # the options it names show the history: api's 5 counted deployments (d1 … d5; dora
    # counts the rollback, not the staging deployment)
    shown = _json("metrics", "--service", "api", "--since", "2026-07-11", "--until", "2026-10-08")
    assert shown["deployment_frequency"]["deployments"] == 5
    assert not any("no counted deployments" in w for w in shown["warnings"])
    # flow and signals say the same
    flow = _json("flow", "--service", "api")
    assert "Its latest counted deployment finished on 2026-10-08" in flow["warnings"][0]
    signals = _json("signals", "--service", "api")
    assert "Its latest counted deployment finished on 2026-10-08" in signals["warnings"][0]


def test_a_record_elsewhere_does_not_move_a_scopes_window(tmp_path: Path) -> None:
    before = _json("metrics", "--service", "api")
    # a deployment of another service today (a rollout, a new import) …
    today = tmp_path / "today.jsonl"
    today.write_text(
        '{"type": "deployment", "source": "t", "source_id": "today", "service": "ledger", '
        '"started_at": "2027-03-01T08:00:00Z", "finished_at": "2027-03-01T08:30:00Z"}\n'
    )
    assert runner.invoke(app, ["import", "jsonl", str(today)]).exit_code == 0
    # … changes neither api's period nor its figures
    assert _json("metrics", "--service", "api") == before
    ledger = _json("metrics", "--service", "ledger")
    assert ledger["deployment_frequency"]["deployments"] == 1
    assert ledger["period"] == before["period"]


def test_the_api_and_prometheus_use_the_same_window() -> None:
    with TestClient(create_app(get_settings())) as client:
        authorize(client, "admin")
        doc = client.get("/api/metrics", params={"service": "api"}).json()
        assert doc["period"]["since"] == "2026-12-02T00:00:00Z"
        assert doc["warnings"][0].startswith(HINT)
        _, scrape = client.app.state.tokens.create("scrape", name="prometheus", actor="test")  # type: ignore[attr-defined]
        text = client.get("/metrics", headers={"Authorization": f"Bearer {scrape}"}).text
    # the gauges cover the same 90 days: api deployed nothing in them, ledger once (10-06 is
    # outside), so both count 0
    assert 'headway_dora_deployments{context="customer-facing",service="api"} 0.0' in text
    assert 'headway_dora_deployments{context="regulated",service="ledger"} 0.0' in text


def test_the_demo_and_the_review_take_today_from_the_same_clock(tmp_path: Path) -> None:
    # Given today fixed at 2027-03-01, a simulated history ends at its start: storefront,
    # which deploys several times a day, last deployed on 2027-02-28
    out = tmp_path / "org.jsonl"
    done = runner.invoke(app, ["simulate", "--services", "2", "--days", "10", "--out", str(out)])
    assert done.exit_code == 0, done.output
    records = [orjson.loads(line) for line in out.read_text().splitlines()]
    starts = [
        r["started_at"]
        for r in records
        if r["type"] == "deployment" and r["service"] == "storefront"
    ]
    assert max(starts)[:10] == "2027-02-28"
    # and a review without --period is of February 2027, which api did not deploy in: the
    # refusal names that month and the one api's latest deployment (2026-10-08) falls in
    review = runner.invoke(app, ["review", "--service", "api", "--format", "json"])
    assert review.exit_code == 2, review.output
    assert review.stdout == ""
    said = " ".join(review.stderr.split())
    assert "no deployments or changes in service api in 2027-02;" in said
    assert "Its latest counted deployment finished on 2026-10-08: --period 2026-10" in said
