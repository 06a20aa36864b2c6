"""`headway review` names each finding's remedy in the terminal, as the JSON and the written
review do."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings
from headway.ingest import ingest
from headway.output import console
from headway.sources.files import parse_record
from headway.store import open_store
from tests.interpret.scenarios import records

runner = CliRunner()


def test_the_review_command_prints_each_finding_with_its_remedy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the worked scenario's store (large releases fail more; a release approval costs)
    database = tmp_path / "bundled.duckdb"
    settings = Settings(database=str(database))
    store = open_store(settings)
    ingest(store, settings, (parse_record(r, "bundled") for r in records("bundled")))
    store.close()
    monkeypatch.setenv("HEADWAY_DATABASE", str(database))
    monkeypatch.setattr(console, "width", 400)  # one line per finding, nothing wrapped
    # When the April review is written, and asked for as JSON
    doc = runner.invoke(app, ["review", "--period", "2026-04", "--format", "json"])
    assert doc.exit_code == 0, doc.output
    found = orjson.loads(doc.output)["findings"]["findings"]
    assert {f["detector"] for f in found} == {"batch_size", "gate_cost"}
    out = runner.invoke(app, ["review", "--period", "2026-04", "--out", str(tmp_path / "r")])
    assert out.exit_code == 0, out.output
    # Then the terminal lists each finding on a row with its scope, confidence and the same
    # remedy the JSON gives
    rows = {line.split("│")[1].strip(): line for line in out.output.splitlines() if "│" in line}
    for f in found:
        row = rows[f["title"]]
        assert f["remedy"] in row
        assert "team bundled" in row
        assert f["confidence"] in row
    assert rows["Large releases fail more"].count("Reduce batch size: release each change") == 1
