"""The monthly review through the CLI and the HTTP API: files written, content, bad input."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app
from headway.config import Settings
from tests.conftest import authorize

runner = CliRunner()


@pytest.fixture
def org(sim_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the simulated organisation as the CLI's store."""
    path = tmp_path / "org.duckdb"
    shutil.copy(sim_path, path)
    monkeypatch.setenv("HEADWAY_DATABASE", str(path))
    return path


def cli(*args: str) -> Any:
    return runner.invoke(app, list(args))


@pytest.fixture
def written(org: Path, tmp_path: Path) -> dict[str, str]:
    note = cli(
        "note",
        "add",
        "--scope",
        "team:web",
        "--period",
        "2026-10",
        "Card-scheme migration: checkout deploys paused for a week by design.",
    )
    assert note.exit_code == 0, note.output
    out = cli("review", "--period", "2026-10", "--out", str(tmp_path / "review"))
    assert out.exit_code == 0, out.output
    assert "finding(s)" in out.output
    files = {p.suffix: p.read_text() for p in (tmp_path / "review").iterdir()}
    return {"html": files[".html"], "md": files[".md"], "svg": files[".svg"]}


def test_review_html_is_self_contained_and_has_every_part(written: dict[str, str]) -> None:
    html = written["html"]
    # nothing fetched from elsewhere: no scripts, stylesheets or images by URL
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "<script" not in html
    for part in (
        "The five metrics",
        "Within each operating context",
        "Trends",
        "Delivery flow",
        "Findings",
        "Friction signals",
        "Operational review questions",
    ):
        assert part in html
    assert html.count("<svg") >= 8  # the flow picture and seven trend charts
    assert "Card-scheme migration: checkout deploys paused" in html  # the note, beside the metrics
    for title in (
        "Delivery theatre",
        "Failures redefined away",
        "Local optimisation",
        "Quality work hidden",
        "Change slicing without value",
        "Speed improves while outcomes worsen",
        "Comparison ignores operating context",
    ):
        assert title in html
    assert "What decision are these metrics meant to improve?" in html
    assert "Which exception would become dangerous if it quietly became normal practice?" in html


def test_review_markdown_mirrors_the_html(written: dict[str, str]) -> None:
    md = written["md"]
    assert md.startswith("# Delivery review · the whole organisation · October 2026")
    assert "| Change fail rate |" in md
    # the metrics in DORA's factors, throughput first, and the report the levels come from
    metrics = [line.split("|")[1:3] for line in md.splitlines() if line.startswith("| ")]
    rows = [(f.strip(), m.strip()) for f, m in metrics[1:6]]
    assert rows == [
        ("throughput", "Change lead time"),
        ("", "Deployment frequency"),
        ("", "Failed deployment recovery time"),
        ("instability", "Change fail rate"),
        ("", "Deployment rework rate"),
    ]
    assert "Levels: DORA, Accelerate State of DevOps Report 2024: performance clusters." in md
    assert "![Delivery flow](review-2026-10-flow.svg)" in md
    assert "**Review question:**" in md
    assert "&amp;" not in md  # Markdown is not HTML-escaped
    assert written["svg"].startswith("<svg")


def test_review_json_for_one_team(org: Path) -> None:
    out = cli("review", "--period", "2026-10", "--team", "billing", "--format", "json")
    assert out.exit_code == 0, out.output
    doc = orjson.loads(out.output)
    assert doc["scope"] == {"kind": "team", "name": "billing"}
    assert [f["detector"] for f in doc["findings"]["findings"]] == ["local_optimisation"]
    # six months back from October would start in May, but the organisation's first record is
    # in July (120 days before 2026-11-01): May and June are absent, not months of zero
    assert [t["period"]["since"][:7] for t in doc["trend"]] == [
        "2026-07",
        "2026-08",
        "2026-09",
        "2026-10",
    ]
    assert [q["question"][:10] for q in doc["questions"]] == [
        "What decis",
        "Where woul",
        "Which exce",
        "Which evid",
    ]
    assert all(q["evidence"] for q in doc["questions"])


def test_review_bad_input_is_explained(org: Path, tmp_path: Path) -> None:
    cases = [
        (["--period", "2026-13", "--out", str(tmp_path)], "is not a month; use YYYY-MM"),
        # an empty month names the scope's latest deployment and the month that shows it
        (["--period", "2020-01", "--out", str(tmp_path)], "no deployments or changes"),
        (
            ["--period", "2020-01", "--out", str(tmp_path)],
            "finished on 2026-11-01: --period 2026-11",
        ),
        (["--period", "2026-10", "--team", "nobody", "--out", str(tmp_path)], "no team named"),
        (["--period", "2026-10"], "--out DIR is required"),
    ]
    for args, message in cases:
        out = cli("review", *args)
        assert out.exit_code == 2, out.output
        assert message in out.output
        assert "Traceback" not in out.output


def test_a_review_written_before_is_replaced_only_with_force(org: Path, tmp_path: Path) -> None:
    out = tmp_path / "review"
    assert cli("review", "--period", "2026-10", "--out", str(out)).exit_code == 0
    html = out / "review-2026-10.html"
    html.write_text("edited by hand")
    # Writing the same month again into the same folder is refused, naming the files, and
    # leaves them as they were
    again = cli("review", "--period", "2026-10", "--out", str(out))
    assert again.exit_code == 2, again.output
    assert "review-2026-10.html" in again.output
    assert "add --force to replace them" in again.output
    assert html.read_text() == "edited by hand"
    # --force replaces them
    forced = cli("review", "--period", "2026-10", "--out", str(out), "--force")
    assert forced.exit_code == 0, forced.output
    assert html.read_text().startswith("<!doctype html>")
    # and a file given as --out is refused in one line, with no traceback
    single = tmp_path / "review.html"
    single.write_text("mine")
    onto = cli("review", "--period", "2026-10", "--out", str(single))
    assert onto.exit_code == 2
    assert "is a file; give a directory" in onto.output
    assert "Traceback" not in onto.output
    assert single.read_text() == "mine"


def test_http_api_serves_the_same_documents(org: Path) -> None:
    with TestClient(create_app(Settings(database=str(org)))) as client:
        authorize(client, "editor")  # reads, and the note below
        window = {"since": "2026-08-03", "until": "2026-10-31"}  # the simulation's last 90 days
        flow = client.get("/api/flow", params={"team": "payments", **window})
        assert flow.status_code == 200
        assert flow.json()["dominant_stage"] == "approval_wait"
        signals = client.get("/api/signals", params={"team": "web", "ai_label": "none", **window})
        assert signals.json()["ai_assisted"]["ai_assisted"]["changes"] == 0
        findings = client.get("/api/findings", params={"period": "2026-10", "team": "growth"})
        assert [f["detector"] for f in findings.json()["findings"]] == ["speed_outcomes"]
        page = client.get("/api/review.html", params={"period": "2026-10", "team": "web"})
        assert page.status_code == 200
        assert "<svg" in page.text
        created = client.post(
            "/api/notes",
            json={"scope": "team:web", "period": "2026-10", "text": "Freeze week", "author": "ana"},
        )
        assert created.status_code == 201
        listed = client.get("/api/notes", params={"scope": "service:checkout", "period": "2026-10"})
        assert [n["text"] for n in listed.json()] == ["Freeze week"]
        assert client.get("/api/flow", params={"team": "nobody"}).status_code == 404
        # the document's patterns refuse a month or a scope that is not one: 422 naming it
        assert client.get("/api/review", params={"period": "2026-13"}).status_code == 422
        refused = client.post(
            "/api/notes", json={"scope": "web", "period": "2026-10", "text": "x", "author": "a"}
        )
        assert refused.status_code == 422
        assert refused.json()["problems"][0]["field"] == "body.scope"


def test_notes_appear_beside_flow_and_signals(org: Path) -> None:
    assert (
        cli(
            "note",
            "add",
            "--scope",
            "service:checkout",
            "--period",
            "2026-10-05",
            "Payment provider outage all afternoon",
        ).exit_code
        == 0
    )
    for command in ("flow", "signals"):
        out = cli(
            command,
            "--team",
            "web",
            "--since",
            "2026-10-01",
            "--until",
            "2026-10-31",
            "--format",
            "json",
        )
        assert [n["text"] for n in orjson.loads(out.output)["notes"]] == [
            "Payment provider outage all afternoon"
        ]
        table = cli(command, "--team", "web", "--since", "2026-10-01", "--until", "2026-10-31")
        assert "note (service:checkout, 2026-10-05 → 2026-10-06" in table.output
    # a note outside the period is not shown
    out = cli(
        "flow",
        "--team",
        "web",
        "--since",
        "2026-10-10",
        "--until",
        "2026-10-31",
        "--format",
        "json",
    )
    assert orjson.loads(out.output)["notes"] == []
