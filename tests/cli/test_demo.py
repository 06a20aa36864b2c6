"""The demo as a newcomer meets it: its own store, a history that ends today, the same figures
whatever the day."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from headway import definitions as defs
from headway.cli import app
from headway.cli.demo import today
from headway.config import Settings, get_settings
from headway.ingest import ingest
from headway.metrics import dora
from headway.simulate import ANCHOR, Options, generate
from headway.sources.files import parse_record
from headway.store import open_store

runner = CliRunner()


def _times(record: dict[str, object]) -> dict[str, datetime]:
    return {
        k: datetime.fromisoformat(str(v).replace("Z", "+00:00"))
        for k, v in record.items()
        if k.endswith("_at")
    }


def test_a_later_end_gives_the_same_records_later() -> None:
    # Given the same seed, ending on the anchor and 36 days and 7 hours later
    shift = timedelta(days=36, hours=7)
    anchored = list(generate(Options(seed=5, services=6, days=40)))
    later = list(generate(Options(seed=5, services=6, days=40, end=ANCHOR + shift)))
    # Then every record is there, the same but for its times, each moved by exactly the shift
    assert len(later) == len(anchored) > 1000
    for a, b in zip(anchored, later, strict=True):
        assert {k: v for k, v in a.items() if not k.endswith("_at")} == {
            k: v for k, v in b.items() if not k.endswith("_at")
        }
        before, after = _times(a), _times(b)
        assert after.keys() == before.keys()
        assert all(after[k] - before[k] == shift for k in before)


def test_the_figures_depend_on_the_seed_not_on_the_day(tmp_path: Path) -> None:
    # The same organisation ending on the anchor (a Sunday) and on a Wednesday 73 days later:
    # the regulated archetype's weekday release windows are drawn in one calendar, so the
    # default window (the 90 days up to today, the history's end) holds the same records
    # either way.
    figures = []
    for n, end in enumerate((ANCHOR, ANCHOR + timedelta(days=73))):
        settings = Settings(database=str(tmp_path / f"{n}.duckdb"))
        store = open_store(settings)
        opts = Options(seed=7, services=4, days=100, end=end)
        ingest(store, settings, (parse_record(r, "sim") for r in generate(opts)))
        period = dora.default_period(now=end.replace(tzinfo=None) - timedelta(days=1))
        assert period.until == end.replace(tzinfo=None)
        sets = dora.compute_each(store, defs.active(store), "team", period)
        figures.append({s.scope.name: {**s.to_json(), "period": None} for s in sets})
        store.close()
    assert figures[0] == figures[1]
    assert figures[0]["payments"]["deployment_frequency"]["deployments"] > 10


def test_the_demo_writes_its_own_store_and_ends_today(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a newcomer's shell: no HEADWAY_DATABASE, in their project folder
    monkeypatch.delenv("HEADWAY_DATABASE")
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    done = runner.invoke(app, ["demo"])
    assert done.exit_code == 0, done.output
    # Then the demo went to its own file, never the default store, and says how to read it
    assert (tmp_path / ".headway" / "demo.duckdb").exists()
    assert not (tmp_path / ".headway" / "headway.duckdb").exists()
    assert "`export HEADWAY_DATABASE=./.headway/demo.duckdb`" in " ".join(done.output.split())
    # And its history ends today: the default period, the 90 days up to the end of today,
    # holds a deploy day for each of its 89 days before today for a team that ships daily
    monkeypatch.setenv("HEADWAY_DATABASE", "./.headway/demo.duckdb")
    get_settings.cache_clear()
    shown = runner.invoke(app, ["metrics", "--team", "web", "--format", "json"])
    assert shown.exit_code == 0, shown.output
    doc = json.loads(shown.output)
    assert doc["period"]["days"] == 90
    assert doc["period"]["until"].startswith((today() + timedelta(days=1)).date().isoformat())
    assert doc["deployment_frequency"]["deploy_days"] == 89
    latest = runner.invoke(app, ["list", "deployments", "--team", "web", "--format", "json"])
    finished = max(d["finished_at"] for d in json.loads(latest.output))
    assert finished.startswith((today() - timedelta(days=1)).date().isoformat())


def test_the_demo_refuses_a_store_that_holds_real_history(tmp_path: Path) -> None:
    # Given the store HEADWAY_DATABASE names holds a service someone imported
    (tmp_path / "mine.jsonl").write_text(
        json.dumps({"type": "service", "name": "shop", "context": "internal"}) + "\n"
    )
    assert runner.invoke(app, ["import", "jsonl", str(tmp_path / "mine.jsonl")]).exit_code == 0
    # When the demo is pointed at it, it refuses and says where it would write instead
    done = runner.invoke(app, ["demo", "--services", "2", "--days", "10"])
    assert done.exit_code == 2
    said = " ".join(done.output.split())
    assert "holds services the demo did not simulate (shop)" in said
    assert "./.headway/demo.duckdb" in said
    listed = runner.invoke(app, ["list", "deployments", "--format", "json"])
    assert json.loads(listed.output) == []


def test_simulate_ends_today_by_default(tmp_path: Path) -> None:
    out = tmp_path / "org.jsonl"
    done = runner.invoke(app, ["simulate", "--services", "2", "--days", "10", "--out", str(out)])
    assert done.exit_code == 0, done.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    starts = [
        r["started_at"]
        for r in records
        if r["type"] == "deployment" and r["service"] == "storefront"
    ]
    # storefront deploys several times a day: its last deployment started yesterday (the
    # history ends at 00:00 today), its first in the first of the ten days before today
    assert max(starts)[:10] == (today() - timedelta(days=1)).date().isoformat()
    assert min(starts)[:10] == (today() - timedelta(days=10)).date().isoformat()
    assert datetime.now(UTC) >= today()
