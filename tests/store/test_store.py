"""The store: idempotent writes, atomic imports, self-upgrading schema, one writer at a time."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings
from headway.model import Deployment, RawEvent
from headway.store import Store, base, open_store
from headway.store.duck import serve_url_of
from headway.store.schema import deployments

SMALL_ORG = Path(__file__).parents[1] / "fixtures" / "small_org.jsonl"
runner = CliRunner()


def test_writing_the_same_record_twice_changes_nothing(store: Store) -> None:
    d = Deployment(
        source="ci",
        source_id="42",
        service="api",
        finished_at=datetime(2026, 10, 1, 12, tzinfo=UTC),
        version="v1",
    )
    first = store.write([d])
    again = store.write([d])
    assert (first.new, again.new, again.seen) == (
        {"deployments": 1},
        {"deployments": 0},
        {"deployments": 1},
    )
    assert store.query("SELECT id, version FROM deployments") == [("ci:42", "v1")]


def test_a_partial_redelivery_keeps_what_was_known(store: Store) -> None:
    store.write(
        [
            Deployment(
                source="ci",
                source_id="42",
                service="api",
                version="v1",
                finished_at=datetime(2026, 10, 1, 12, tzinfo=UTC),
            )
        ]
    )
    store.write(
        [
            Deployment(
                source="ci",
                source_id="42",
                service="api",
                status="failure",
                finished_at=datetime(2026, 10, 1, 12, tzinfo=UTC),
            )
        ]
    )
    assert store.query("SELECT version, status FROM deployments") == [("v1", "failure")]


def test_raw_payloads_are_kept(store: Store) -> None:
    store.write(
        [
            RawEvent(
                source="github",
                source_id="delivery-1",
                kind="push",
                received_at=datetime(2026, 10, 1, tzinfo=UTC),
                payload='{"ref": "main"}',
            )
        ]
    )
    assert store.query("SELECT id, payload FROM raw_events") == [
        ("github:delivery-1", '{"ref": "main"}')
    ]


def test_offsets_are_converted_to_utc(store: Store) -> None:
    store.write(
        [
            Deployment(
                source="ci",
                source_id="1",
                service="api",
                finished_at=datetime.fromisoformat("2026-10-01T14:00:00+02:00"),
            )
        ]
    )
    assert store.query("SELECT finished_at FROM deployments") == [(datetime(2026, 10, 1, 12),)]


def test_importing_twice_adds_nothing_the_second_time() -> None:
    first = runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    second = runner.invoke(app, ["import", "jsonl", str(SMALL_ORG)])
    assert first.exit_code == 0, first.output
    # 19 lines: 2 services, d1..d5 + l1 + s1, c1..c6 + lc1, i1..i3
    assert "2 services, 7 deployments, 7 changes, 3 incidents." in first.output
    assert "nothing new; 19 already present" in second.output


def test_a_bad_line_rejects_the_whole_file(tmp_path: Path) -> None:
    lines = SMALL_ORG.read_text().splitlines()
    lines[4] = lines[4].replace('"2026-10-03T12:00:00Z"', '"yesterday"')
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join(lines) + "\n")

    result = runner.invoke(app, ["import", "jsonl", str(bad)])

    assert result.exit_code == 2
    assert (
        f"{bad}:5: deployment field 'finished_at': expected an ISO 8601 timestamp like "
        "2026-10-01T12:00:00Z, got 'yesterday'" in " ".join(result.output.split())
    )
    store = open_store()
    assert store.count("deployments") == 0
    assert store.count("services") == 0
    store.close()


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"type": "deployment", "source": "x"}', "deployment field 'source_id' is required"),
        ('{"type": "release"}', "field 'type': expected one of service, change"),
        (
            '{"type": "deployment", "source": "x", "source_id": "1", "service": "a", '
            '"finished_at": "2026-10-01T12:00:00"}',
            "time zone",
        ),
        (
            '{"type": "deployment", "source": "x", "source_id": "1", "service": "a", '
            '"finished_at": "2026-10-01T12:00:00Z", "kind": "big-bang"}',
            "field 'kind': expected one of deploy",
        ),
        ('{"type": "service", "name": "a", "colour": "red"}', "unknown field(s) colour"),
        ("{not json", "not valid JSON"),
    ],
)
def test_bad_lines_are_named_precisely(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(line + "\n")
    result = runner.invoke(app, ["import", "jsonl", str(path)])
    assert result.exit_code == 2
    assert f"{path}:1:" in result.output
    assert message in " ".join(result.output.split())


def test_an_older_store_upgrades_itself(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(database=str(tmp_path / "old.duckdb"))
    every = base._migration_files()
    monkeypatch.setattr(base, "_migration_files", lambda: every[:1])  # what version 1 shipped
    old = open_store(settings)
    old.write(
        [
            Deployment(
                source="ci",
                source_id="1",
                service="api",
                finished_at=datetime(2026, 10, 1, tzinfo=UTC),
            )
        ]
    )
    old.close()
    monkeypatch.undo()

    upgraded = open_store(settings)

    names = [r[0] for r in upgraded.query("SELECT name FROM schema_migrations ORDER BY name")]
    assert names == [name for name, _ in every]
    assert upgraded.count("deployments") == 1
    assert upgraded.migrate() == []  # nothing left to apply
    upgraded.close()


def test_a_second_writer_is_told_who_holds_the_store(tmp_path: Path) -> None:
    path = tmp_path / "held.duckdb"
    open_store(Settings(database=str(path))).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            import duckdb, sys, time
            con = duckdb.connect({str(path)!r})
            print("holding", flush=True)
            time.sleep(60)
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        env = {**os.environ, "HEADWAY_DATABASE": str(path), "COLUMNS": "300"}
        result = subprocess.run(
            [sys.executable, "-m", "headway", "metrics"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert f"is in use by process {holder.pid}" in result.stderr
    assert "HEADWAY_URL" in result.stderr


def test_deliveries_of_one_id_in_one_batch_merge(store: Store) -> None:
    opened = Deployment(
        source="ci",
        source_id="7",
        service="api",
        version="v7",
        finished_at=datetime(2026, 10, 1, 12, tzinfo=UTC),
    )
    failed = Deployment(
        source="ci",
        source_id="7",
        service="api",
        status="failure",
        finished_at=datetime(2026, 10, 1, 12, tzinfo=UTC),
    )
    result = store.write([opened, failed])
    assert result.new == {"deployments": 1}
    assert store.query("SELECT version, status FROM deployments") == [("v7", "failure")]


def test_csv_import_and_its_errors(tmp_path: Path) -> None:
    good = tmp_path / "deployments.csv"
    good.write_text(
        "source,source_id,service,finished_at,kind,recovers\n"
        "ci,1,api,2026-10-01T12:00:00Z,,\n"
        "ci,2,api,2026-10-01T13:00:00+01:00,rollback,ci:1\n"
    )
    result = runner.invoke(app, ["import", "csv", str(good), "--type", "deployment"])
    assert result.exit_code == 0, result.output
    store = open_store()
    # 13:00+01:00 is 12:00 UTC; the empty `kind` cell means the default, deploy
    assert store.query(
        "SELECT id, kind, finished_at, recovers_id FROM deployments ORDER BY id"
    ) == [
        ("ci:1", "deploy", datetime(2026, 10, 1, 12), None),
        ("ci:2", "rollback", datetime(2026, 10, 1, 12), "ci:1"),
    ]
    store.close()

    bad = tmp_path / "bad.csv"
    bad.write_text(
        "source,source_id,service,finished_at\nci,3,api,2026-10-01T12:00:00Z\nci,4,api,soon\n"
    )
    result = runner.invoke(app, ["import", "csv", str(bad), "--type", "deployment"])
    assert result.exit_code == 2
    assert f"{bad}:3: deployment field 'finished_at': expected an ISO 8601 timestamp" in " ".join(
        result.output.split()
    )
    store = open_store()
    assert store.count("deployments") == 2  # ci:3 was not written either
    store.close()


@pytest.mark.parametrize(
    ("args", "url"),
    [
        (["/usr/bin/python3", "/usr/local/bin/headway", "serve"], "http://127.0.0.1:8000"),
        (["/usr/local/bin/headway", "serve", "--port", "8765"], "http://127.0.0.1:8765"),
        (["python", "-m", "headway", "serve", "--host=0.0.0.0", "--port=9"], "http://127.0.0.1:9"),
        (["headway", "serve", "--host", "10.0.0.5", "--workers", "2"], "http://10.0.0.5:8000"),
        (["headway", "serve", "--host", "::1", "--port", "81"], "http://[::1]:81"),
        (["headway", "import", "git", "serve"], None),
        (["python", "-c", "import duckdb"], None),
        (["/usr/local/bin/headway", "metrics"], None),
    ],
)
def test_a_busy_store_names_the_url_of_the_server_holding_it(
    args: list[str], url: str | None
) -> None:
    assert serve_url_of(args) == url


def test_what_waits_for_a_commit_runs_once_after_the_outermost_one(store: Store) -> None:
    told: list[str] = []

    def tell() -> None:
        told.append("changed")

    # Outside a transaction: at once
    store.after_commit(tell)
    assert told == ["changed"]
    # Inside nested transactions: once, after the outermost commits, however often asked
    with store.transaction():
        with store.transaction():
            store.after_commit(tell)
        store.after_commit(tell)
        assert told == ["changed"]
    assert told == ["changed", "changed"]

    # Rolled back: never
    def undone() -> None:
        with store.transaction():
            store.after_commit(tell)
            raise RuntimeError("undone")

    with pytest.raises(RuntimeError):
        undone()
    with store.transaction():
        pass
    assert told == ["changed", "changed"]


def test_columns_read_what_rows_read_column_by_column(store: Store) -> None:
    started = datetime(2026, 10, 1, 11, 59, 30, 250000, tzinfo=UTC)
    store.write(
        [
            Deployment(source="ci", source_id="1", service="api", finished_at=started),
            Deployment(
                source="ci",
                source_id="2",
                service="api",
                started_at=started,
                finished_at=datetime(2026, 10, 1, 12, tzinfo=UTC),
            ),
        ]
    )
    statement = select(
        deployments.c.id, deployments.c.started_at, deployments.c.finished_at
    ).order_by(deployments.c.id)
    ids, starts, ends = store.columns(statement)
    assert list(ids) == ["ci:1", "ci:2"]
    # a NULL start is NaT once read as instants, whatever the engine answered
    assert np.asarray(starts, "datetime64[us]").tolist() == [None, started.replace(tzinfo=None)]
    assert np.asarray(ends, "datetime64[us]").tolist() == [
        started.replace(tzinfo=None),
        datetime(2026, 10, 1, 12),
    ]
    assert [len(c) for c in store.columns(statement.where(deployments.c.id == "none"))] == [0] * 3
