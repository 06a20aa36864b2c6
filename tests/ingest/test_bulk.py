"""`headway import jsonl` in blocks through Arrow (`ingest.bulk`, `sources.bulk`): the same
stored rows and the same refusals, naming the same line and field, as the line-by-line path
(`records.ingest` over `files.read_jsonl`), on both stores."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import Settings, get_settings
from headway.ingest import ingest
from headway.ingest.bulk import ingest_jsonl
from headway.sources.bulk import read_blocks
from headway.sources.files import InputError, read_jsonl
from headway.store import Store, open_store

runner = CliRunner()
TABLES = ("services", "changes", "deployments", "incidents", "approvals", "pipeline_runs")
TABLES += ("defects",)

# One record of every type, with every field some line gives: lists, defaults left out,
# times in every offset form, a date-like title, text beyond ASCII, nulls for absent fields.
LINES: list[dict[str, Any]] = [
    {"type": "service", "name": "shop", "team": "web", "owners": ["ana", "bo"]},
    {
        "type": "service",
        "name": "api",
        "context": "regulated",
        "repository": None,
        "owners": ['say "hi"', "back\\slash", "tab\t", "del\x7f", "plain"],
    },
    {
        "type": "deployment",
        "source": "ci",
        "source_id": "d1",
        "service": "shop",
        "started_at": "2026-10-01T11:50:00Z",
        "finished_at": "2026-10-01T14:00:00+02:00",
        "sha": "abc1234",
    },
    {
        "type": "deployment",
        "source": "github",
        "source_id": "acme/shop/2",
        "service": "shop",
        "finished_at": "2026-10-02T09:00:00.250-05:30",
        "status": "failure",
        "kind": "hotfix",
        "version": "v1.2.3",
        "recovers": "ci:d1",
        "environment": "staging",
    },
    {
        "type": "change",
        "source": "github",
        "source_id": "acme/shop#7",
        "service": "shop",
        "title": "2026-10-01",
        "labels": ["bug", "Ünïcode", ""],
        "number": 7,
        "additions": 0,
        "deletions": 12,
        "files": 3,
        "opened_at": "2026-09-30T10:00:00Z",
        "merged_at": "2026-10-01T09:00:00Z",
        "merge_sha": "ABCDEF0123456789",
        "is_revert": True,
        "reverts": "github:acme/shop#3",
        "deployment_ref": "ci:d1",
    },
    {"type": "change", "source": "git", "source_id": "shop/abc", "service": "api", "labels": []},
    {
        "type": "incident",
        "source": "pd",
        "source_id": "Q1",
        "service": "shop",
        "opened_at": "2026-10-01 13:00:00+00:00",  # a space: Python reads it, row by row
        "resolved_at": "2026-10-01T15:00:00Z",
        "customer_impact": False,
        "labels": ["db"],
        "cause_ref": "ci:d1",
        "url": "https://example.org/Q1",
    },
    {
        "type": "approval",
        "source": "github",
        "source_id": "r1",
        "kind": "security",
        "change_ref": "github:acme/shop#7",
        "decided_at": "2026-10-01T08:00:00Z",
        "decision": "approved",
    },
    {
        "type": "pipeline_run",
        "source": "ci",
        "source_id": "p1",
        "service": "shop",
        "sha": "abc1234",
        "started_at": "2026-10-01T11:00:00Z",
        "finished_at": "2026-10-01T11:30:00Z",
        "conclusion": "success",
    },
    {
        "type": "defect",
        "source": "jira",
        "source_id": "B-1",
        "service": "shop",
        "found_at": "2026-10-03T00:00:00Z",
        "deployment_ref": "ci:d1",
    },
]


def _write(path: Path, lines: list[dict[str, Any] | bytes]) -> Path:
    text = [line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines]
    path.write_bytes(b"\n".join(text) + b"\n")
    return path


def _rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {t: sorted(store.query(f"SELECT * FROM {t}"), key=repr) for t in TABLES}


def _pair(settings: Settings, tmp_path: Path) -> tuple[Store, Store]:
    if settings.is_postgres:
        old = open_store(settings)
        return old, old
    return open_store(settings), open_store(Settings(database=str(tmp_path / "old.duckdb")))


def test_the_same_rows_are_stored_as_line_by_line(
    engine_settings: Settings, tmp_path: Path
) -> None:
    # Given a file with every record type, read in blocks of a few lines (a block of 300
    # bytes ends mid-file many times, so line numbers and ids cross blocks)
    path = _write(tmp_path / "all.jsonl", [*LINES, b"", b"   "])
    new, old = _pair(engine_settings, tmp_path)
    try:
        # When the line-by-line path stores it, and then the bulk path in a fresh store
        ingest(old, engine_settings, read_jsonl(path))
        expected = _rows(old)
        if old is new:
            for table in TABLES:
                new.execute(f"DELETE FROM {table}")
        done = ingest_jsonl(new, engine_settings, [path], block=300)
        # Then every table holds the same rows, links included
        assert _rows(new) == expected
        assert sum(done.new.values()) == len(LINES)
        # and importing again changes nothing and counts every record as already there
        again = ingest_jsonl(new, engine_settings, [path], block=300)
        assert sum(again.new.values()) == 0
        assert sum(again.seen.values()) == len(LINES)
        assert _rows(new) == expected
    finally:
        new.close()
        if old is not new:
            old.close()


def test_a_later_file_updates_and_an_absent_field_keeps_its_value(
    engine_settings: Settings, tmp_path: Path
) -> None:
    first = _write(tmp_path / "a.jsonl", LINES[2:3])
    later = {**LINES[2], "sha": None, "status": "failure", "finished_at": "2026-10-01T12:30:00Z"}
    second = _write(tmp_path / "b.jsonl", [later])
    store = open_store(engine_settings)
    try:
        ingest_jsonl(store, engine_settings, [first, second])
        sha, status, finished = store.query(
            "SELECT sha, status, finished_at FROM deployments WHERE id = 'ci:d1'"
        )[0]
        # the second file said the status and a new finish (14:00+02:00 was 12:00 UTC), and
        # left the sha unsaid: the first file's stays
        assert (sha, status, str(finished)) == ("abc1234", "failure", "2026-10-01 12:30:00")
    finally:
        store.close()


# Lines the bulk path must refuse as the line-by-line one does, word for word.
BAD: list[dict[str, Any] | bytes] = [
    {"type": "deploy", "source": "ci"},
    {"source": "ci"},
    {**LINES[2], "finished_at": None},
    {**LINES[2], "colour": "red"},
    {**LINES[0], "source": "ci"},
    {**LINES[2], "service": ""},
    {**LINES[2], "service": 5},
    {**LINES[2], "source": "c:i"},
    {**LINES[2], "recovers": "d0"},
    {**LINES[2], "status": "ok"},
    {**LINES[2], "kind": "Deploy"},
    {**LINES[7], "kind": "review"},
    {**LINES[2], "sha": "xyz"},
    {**LINES[3], "version": "v1..2"},
    {**LINES[3], "version": "-rf"},
    {**LINES[2], "finished_at": "2026-10-01T12:00:00"},
    {**LINES[2], "finished_at": "2026-02-30T12:00:00Z"},
    {**LINES[2], "finished_at": "2026-10-01T12:00:00+24:00"},
    {**LINES[2], "finished_at": "2026-10-01T24:00:00Z"},
    {**LINES[2], "finished_at": "0000-01-01T00:00:00Z"},
    {**LINES[2], "finished_at": "1969-12-31T23:59:59Z"},
    {**LINES[2], "finished_at": "2100-01-01T00:00:00Z"},
    {**LINES[2], "finished_at": "0001-01-01T00:00:00+01:00"},
    {**LINES[2], "finished_at": 20261001},
    {**LINES[2], "started_at": "2026-10-01T13:00:00Z"},
    {**LINES[6], "resolved_at": "2026-10-01T12:00:00Z"},
    {**LINES[4], "additions": -1},
    {**LINES[4], "number": 2**63},
    {**LINES[4], "number": -(2**63)},
    {**LINES[4], "number": 1.0},
    {**LINES[4], "number": "7"},
    {**LINES[4], "is_revert": 1},
    {**LINES[4], "labels": "bug"},
    {**LINES[4], "labels": ["bug", None]},
    {**LINES[4], "labels": ["a\u0000b"]},
    {**LINES[4], "title": "a\u0000b"},
    {**LINES[6], "customer_impact": "yes"},
    LINES[1],  # a service the file gave already
    b"[1, 2]",
    b'"text"',
    b'{"type": "service", "name": "x"} {"type": "service", "name": "y"}',
    b'{"type": "service", "name": "x",}',
    b'{"type": "service", "name": "Caf\xe9"}',
    b'\xef\xbb\xbf{"type": "service", "name": "bom"}',
    b'{"type": "service", "name": "\\ud800"}',
]


@pytest.mark.parametrize("bad", BAD, ids=[str(i) for i in range(len(BAD))])
def test_a_bad_line_is_refused_with_the_same_words(tmp_path: Path, bad: Any) -> None:
    # Given a good file with one bad line in the middle, read in small blocks
    path = _write(tmp_path / "f.jsonl", [*LINES[:5], bad, *LINES[5:]])
    with pytest.raises(InputError) as by_line:
        list(read_jsonl(path))
    # Then both paths name line 6 and say the same
    assert str(by_line.value).startswith(f"{path}:6: "), by_line.value
    for block in (120, 400, 1 << 20):
        with pytest.raises(InputError) as in_blocks:
            list(read_blocks(path, block))
        assert str(in_blocks.value) == str(by_line.value)


# Lines the line-by-line path accepts though pyarrow reads them otherwise or not at all.
ODD: list[dict[str, Any] | bytes] = [
    {**LINES[2], "source_id": "d8", "finished_at": "2026-10-01T14:00+02:00"},  # no seconds
    {**LINES[2], "source_id": "d9", "finished_at": "2026-10-01T12:00:00.1234567Z"},  # 7 digits
    b'{"type": "service", "name": "x", "name": "twice"}',  # the last one counts
    b'  {"type": "service", "name": "indented"}',
    b'{"type": "service", "name": "odd", "colour": null}',  # an unknown field left empty
    {"type": "service", "name": "1.5", "team": "2026-10-01T12:00:00Z"},  # date-like text
]


@pytest.mark.parametrize("odd", ODD, ids=[str(i) for i in range(len(ODD))])
def test_a_line_python_reads_is_accepted_as_it_reads_it(
    engine_settings: Settings, tmp_path: Path, odd: Any
) -> None:
    path = _write(tmp_path / "f.jsonl", [*LINES, odd])
    new, old = _pair(engine_settings, tmp_path)
    try:
        ingest(old, engine_settings, read_jsonl(path))
        expected = _rows(old)
        if old is new:
            for table in TABLES:
                new.execute(f"DELETE FROM {table}")
        ingest_jsonl(new, engine_settings, [path], block=200)
        assert _rows(new) == expected
    finally:
        new.close()
        if old is not new:
            old.close()


def test_a_repeated_id_in_a_later_block_names_both_lines(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.jsonl", [*LINES, LINES[4]])
    with pytest.raises(InputError) as error:
        list(read_blocks(path, 200))
    # line 11 gives the change of line 5 again, three blocks later
    assert str(error.value) == (
        f"{path}:11: changes id 'github:acme/shop#7' already appears on line 5; a file gives "
        "each record once (merge the two lines, or give one its own source_id)"
    )


def test_the_command_keeps_nothing_of_a_file_with_a_bad_last_block(
    engine_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a file whose first blocks are good and whose last line is bad
    monkeypatch.setenv("HEADWAY_DATABASE", engine_settings.database)
    get_settings.cache_clear()
    monkeypatch.setattr("headway.sources.bulk.BLOCK", 300)
    monkeypatch.setattr("headway.ingest.bulk.BLOCK", 300)
    path = _write(tmp_path / "f.jsonl", [*LINES, {**LINES[4], "source_id": "n", "files": -2}])
    done = runner.invoke(app, ["import", "jsonl", str(path)])
    # Then the command exits 2 naming line and field, and the store holds nothing of it
    assert done.exit_code == 2, done.output
    text = " ".join(done.output.split())
    assert "f.jsonl:11: change field 'files': expected a count of 0 or more, got -2" in text
    store = open_store(engine_settings)
    try:
        assert [store.count(t) for t in TABLES] == [0] * len(TABLES)
    finally:
        store.close()


def test_plain_lines_pass_as_columns_and_only_odd_ones_line_by_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "f.jsonl", LINES)
    (found,) = list(read_blocks(path))
    # every line but the incident's, whose time has a space for its 'T', stays in columns
    assert {t: rows.num_rows for t, rows in found.tables.items()} == {
        "services": 2,
        "deployments": 2,
        "changes": 2,
        "approvals": 1,
        "pipeline_runs": 1,
        "defects": 1,
    }
    assert [r.id for r in found.records] == ["pd:Q1"]
    assert found.services == {"shop", "api"}
    assert found.lines == 10
