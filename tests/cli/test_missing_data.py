"""Missing is not zero: a figure with no records behind it says "no data" and why, and a
level needs 10 counted deployments.

tests/fixtures/small_org.jsonl, 2026-10-01 … 2026-10-10 under `dora`: service `api` has five
counted production deployments d1 … d5: d2 failed (incident i1, resolved), d3 failed (rolled
back by d4, its change reverted by c6, which d5 ships), so two failures, both recovered;
`ledger` has one deployment, l1 (2026-10-06), and no failure. No pipeline run is recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway import web
from headway.api.app import create_app
from headway.cli import app
from headway.config import get_settings
from tests.conftest import authorize
from tests.web.conftest import sign_in

SMALL_ORG = Path(__file__).parents[1] / "fixtures" / "small_org.jsonl"
WINDOW = ["--since", "2026-10-01", "--until", "2026-10-10"]
runner = CliRunner()
TOO_FEW_API = "too few to rate: 5 counted deployments; a level needs at least 10"


@pytest.fixture(autouse=True)
def small_org() -> None:
    assert runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)]).exit_code == 0


def _json(*args: str, window: list[str] = WINDOW) -> Any:
    result = runner.invoke(app, [*args, *window, "--format", "json"])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


def test_no_failure_means_no_recovery_figure_not_zero() -> None:
    doc = _json("metrics", "--service", "ledger")
    recovery = doc["failed_deployment_recovery_time"]
    assert recovery["recoveries"] == 0
    assert recovery["median_s"] is None
    assert recovery["reason"] == "no failed deployment in the period, so nothing to recover from"
    # one deployment: the rate is a real 0 of 1, but too few to rate
    assert doc["change_fail_rate"]["rate"] == 0
    assert doc["change_fail_rate"]["level"] is None
    assert doc["change_fail_rate"]["level_reason"] == (
        "too few to rate: 1 counted deployment; a level needs at least 10"
    )
    table = " ".join(runner.invoke(app, ["metrics", "--service", "ledger", *WINDOW]).output.split())
    assert (
        "failed deployment recovery time │ no data │ no failed deployment in the period, so "
        "nothing to recover from │ –"
    ) in table
    assert "change fail rate │ 0.0% │ 0 of 1 deployments failed │ too few to rate" in table


def test_five_deployments_are_too_few_to_rate() -> None:
    doc = _json("metrics", "--service", "api")
    for metric in ("deployment_frequency", "change_fail_rate", "failed_deployment_recovery_time"):
        assert doc[metric]["level"] is None, metric
        assert doc[metric]["level_reason"] == TOO_FEW_API, metric
        assert doc[metric]["reason"] is None, metric
    # the figures themselves are there: 5 deployments over 10 days is 3.5 a week
    assert doc["deployment_frequency"]["per_week"] == 3.5
    assert doc["failed_deployment_recovery_time"]["recoveries"] == 2
    summary = runner.invoke(app, ["metrics", "--each", "service", *WINDOW])
    assert "(too few to rate)" in summary.output


def test_a_scope_with_no_deployments_has_no_data_anywhere() -> None:
    doc = _json(
        "metrics", "--service", "api", window=["--since", "2026-09-01", "--until", "2026-09-30"]
    )
    frequency = doc["deployment_frequency"]
    assert (frequency["deployments"], frequency["per_week"], frequency["per_day"]) == (
        0,
        None,
        None,
    )
    assert frequency["reason"] == "no counted deployments in the period"
    assert doc["deployment_rework_rate"]["rate"] is None
    assert doc["change_lead_time"]["reason"] == (
        "no counted deployments in the period, so no change shipped"
    )


def test_failed_pipeline_runs_without_pipeline_records_are_no_data() -> None:
    friction = _json("signals", "--service", "api")["deployment_friction"]
    assert friction["pipeline_runs"] == 0
    assert friction["failed_runs_per_deployment"] is None
    assert "no pipeline runs are linked to these deployments" in friction["failed_runs_reason"]
    table = " ".join(runner.invoke(app, ["signals", "--service", "api", *WINDOW]).output.split())
    assert "no data: no pipeline runs are linked" in table
    assert "0 failed runs/deploy" not in table


def test_defects_never_recorded_are_no_data_and_incidents_are_counted() -> None:
    # small_org records incidents (i1, i3, i2, all in the window) but no defect at all: its
    # escaped defects are missing, not 0, while its incidents are a count
    doc = _json("signals", "--service", "api")
    defects = doc["escaped_defects"]
    assert defects["defects"] == 0
    assert defects["per_deployment"] is None
    assert defects["reason"].startswith("no defect was ever recorded for these services")
    themes = doc["incident_themes"]
    assert (themes["incidents"], themes["reason"]) == (3, None)
    # a month before any record: the services did record incidents, so 0 is a real count
    quiet = _json(
        "signals", "--service", "api", window=["--since", "2026-09-01", "--until", "2026-09-30"]
    )
    assert (quiet["incident_themes"]["incidents"], quiet["incident_themes"]["reason"]) == (0, None)
    table = " ".join(runner.invoke(app, ["signals", "--service", "api", *WINDOW]).output.split())
    assert "escaped defects │ no data │ no defect was ever recorded" in table


def test_the_api_and_the_web_page_say_the_same() -> None:
    with TestClient(web.install(create_app(get_settings()))) as client:
        query = {"service": "ledger", "since": "2026-10-01", "until": "2026-10-10"}
        sign_in(client)
        page = client.get("/", params=query).text
        authorize(client, "viewer")
        doc = client.get("/api/metrics", params=query).json()
        assert doc["failed_deployment_recovery_time"]["reason"].startswith("no failed deployment")
    card = page[page.index('data-metric="failed_deployment_recovery_time"') :]
    card = card[: card.index("</section>")]
    assert ">no data</a>" in card
    assert "nothing to recover from" in card
    rate = page[page.index('data-metric="change_fail_rate"') :]
    assert "too few to rate" in rate[: rate.index("</section>")]
