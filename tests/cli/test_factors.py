"""The five metrics grouped as DORA's research groups them, and every level naming its report.

Since the 2024 report DORA reads the five metrics as two factors: throughput (change lead
time, deployment frequency, failed deployment recovery time) and instability (change fail
rate, deployment rework rate). The JSON says which metric is in which factor and which report
the levels come from; the table, the overview and the review show the metrics in that order
under the factor's name. Over tests/fixtures/small_org.jsonl, 2026-10-01 … 2026-10-10.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from headway.cli import app

SMALL_ORG = Path(__file__).parents[1] / "fixtures" / "small_org.jsonl"
WINDOW = ["--since", "2026-10-01", "--until", "2026-10-10"]
runner = CliRunner()


@pytest.fixture(autouse=True)
def small_org() -> None:
    assert runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)]).exit_code == 0


@pytest.mark.parametrize(
    ("year", "source"),
    [
        ("2023", "DORA, Accelerate State of DevOps Report 2023: performance clusters"),
        ("2024", "DORA, Accelerate State of DevOps Report 2024: performance clusters"),
        ("2025", "DORA, State of AI-assisted Software Development 2025"),
    ],
)
def test_the_json_names_the_factors_and_the_levels_report(year: str, source: str) -> None:
    done = runner.invoke(app, ["metrics", *WINDOW, "--levels", year, "--format", "json"])
    assert done.exit_code == 0, done.output
    doc = orjson.loads(done.stdout)
    assert doc["factors"] == {
        "throughput": [
            "change_lead_time",
            "deployment_frequency",
            "failed_deployment_recovery_time",
        ],
        "instability": ["change_fail_rate", "deployment_rework_rate"],
    }
    assert doc["levels"]["year"] == year
    assert doc["levels"]["source"] == source


def test_the_table_lists_throughput_then_instability_and_names_the_report() -> None:
    done = runner.invoke(app, ["metrics", *WINDOW], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    first_words = [
        " ".join(line.strip("│ ").split("│")[0].split())
        for line in done.stdout.splitlines()
        if line.startswith("│")
    ]
    assert first_words == [
        "throughput",
        "change lead time",
        "deployment frequency",
        "failed deployment recovery time",
        "instability",
        "change fail rate",
        "deployment rework rate",
        "beside them",
        "release lead time",
    ]
    assert (
        "levels: DORA, Accelerate State of DevOps Report 2024: performance clusters "
        "(docs/definitions.md)" in done.stdout
    )


def test_each_scope_shows_the_throughput_columns_first() -> None:
    done = runner.invoke(app, ["metrics", *WINDOW, "--each", "service"], env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    header = [line for line in done.stdout.splitlines() if line.startswith("┃")]
    factors = " ".join(header[0].replace("┃", " ").split())
    columns = " ".join(header[1].replace("┃", " ").split())
    assert factors == "throughput throughput throughput instability instability"
    assert columns == "scope context lead time deploys/week recovery change fail rate rework"
