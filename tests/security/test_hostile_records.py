"""Records no writer accepts: impossible times, ends before starts, negative sizes, repeated
ids and text that is not UTF-8, refused by every source with the line, the field and the fix,
and nothing of the file kept."""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app
from headway.config import Settings, get_settings
from headway.store import Store, open_store
from tests.api.conftest import fixture, signed, with_secrets
from tests.conftest import authorize

runner = CliRunner()

GOOD = {"type": "service", "name": "shop"}
DEPLOY = {
    "type": "deployment",
    "source": "ci",
    "source_id": "d1",
    "service": "shop",
    "finished_at": "2026-10-01T12:00:00Z",
}
CHANGE = {"type": "change", "source": "ci", "source_id": "c1", "service": "shop"}
INCIDENT = {
    "type": "incident",
    "source": "pd",
    "source_id": "i1",
    "service": "shop",
    "opened_at": "2026-10-01T12:00:00Z",
}

# (second line of the file, what the error must say about it)
BAD_LINES = [
    ({**DEPLOY, "finished_at": "1969-12-31T23:59:59Z"}, "deployment field 'finished_at'"),
    ({**DEPLOY, "finished_at": "2100-01-01T00:00:00Z"}, "from 1970-01-01 up to 2100-01-01"),
    ({**DEPLOY, "finished_at": "0001-01-01T00:00:00+01:00"}, "deployment field 'finished_at'"),
    ({**DEPLOY, "finished_at": "9999-12-31T23:59:59-01:00"}, "deployment field 'finished_at'"),
    (
        {**DEPLOY, "started_at": "2026-10-01T13:00:00Z"},
        "deployment field 'finished_at': expected a time at or after started_at",
    ),
    (
        {**INCIDENT, "resolved_at": "2026-10-01T11:00:00Z"},
        "incident field 'resolved_at': expected a time at or after opened_at",
    ),
    (
        {**CHANGE, "opened_at": "2026-10-02T00:00:00Z", "merged_at": "2026-10-01T00:00:00Z"},
        "change field 'merged_at': expected a time at or after opened_at",
    ),
    (
        {
            "type": "pipeline_run",
            "source": "ci",
            "source_id": "p1",
            "started_at": "2026-10-02T00:00:00Z",
            "finished_at": "2026-10-01T00:00:00Z",
        },
        "pipeline_run field 'finished_at'",
    ),
    ({**CHANGE, "additions": -1}, "change field 'additions': expected a count of 0 or more"),
    ({**CHANGE, "deletions": -5}, "change field 'deletions'"),
    ({**CHANGE, "files": -1}, "change field 'files'"),
    ({**CHANGE, "number": 2**63}, "change field 'number': expected an integer between"),
    (GOOD, "services id 'shop' already appears on line 1"),
]


def _file(tmp_path: Path, second: dict[str, Any] | bytes) -> Path:
    path = tmp_path / "records.jsonl"
    line = second if isinstance(second, bytes) else json.dumps(second).encode()
    path.write_bytes(json.dumps(GOOD).encode() + b"\n" + line + b"\n")
    return path


def _stored_services() -> int:
    store = open_store(get_settings())
    try:
        return int(store.query("SELECT COUNT(*) FROM services")[0][0])
    finally:
        store.close()


@pytest.mark.parametrize(("second", "said"), BAD_LINES, ids=[s for _, s in BAD_LINES])
def test_a_bad_line_is_refused_naming_it_and_nothing_is_kept(
    tmp_path: Path, second: dict[str, Any], said: str
) -> None:
    # Given a file whose first line is fine and whose second is not
    path = _file(tmp_path, second)
    # When it is imported
    done = runner.invoke(app, ["import", "jsonl", str(path)])
    # Then the import exits 2 naming line 2 and what is wrong with it
    text = " ".join(done.output.split())
    assert done.exit_code == 2, done.output
    assert "records.jsonl:2: " in text, text
    assert said in text, text
    # and the good first line was not kept either
    assert _stored_services() == 0


def test_a_line_that_is_not_utf8_is_refused_naming_line_and_column(tmp_path: Path) -> None:
    # Given a second line saved in Latin-1 ("Café" with é as the single byte 0xe9)
    path = _file(tmp_path, b'{"type": "service", "name": "Caf\xe9"}')
    done = runner.invoke(app, ["import", "jsonl", str(path)])
    # Then the import exits 2: byte 0xe9 is the 33rd byte of line 2
    text = " ".join(done.output.split())
    assert done.exit_code == 2, done.output
    assert "records.jsonl:2: not valid UTF-8 (byte 0xe9 at column 33); save the file" in text


def test_a_csv_row_that_is_not_utf8_or_repeats_an_id_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "services.csv"
    path.write_bytes(b"name,team\nshop,a\ncaf\xe9,b\n")
    done = runner.invoke(app, ["import", "csv", str(path), "--type", "service"])
    assert done.exit_code == 2
    assert "services.csv:3: not valid UTF-8" in done.output
    path.write_bytes(b"name,team\nshop,a\nshop,b\n")
    done = runner.invoke(app, ["import", "csv", str(path), "--type", "service"])
    assert done.exit_code == 2
    assert "services.csv:3: services id 'shop' already appears on line 2" in done.output


def test_the_same_record_in_two_files_is_an_update_not_a_mistake(tmp_path: Path) -> None:
    # A repeated id is refused inside one file only: importing a newer export of the same
    # records is how a record is corrected.
    (tmp_path / "a").mkdir()
    first, second = _file(tmp_path / "a", DEPLOY), _file(tmp_path, DEPLOY)
    assert runner.invoke(app, ["import", "jsonl", str(first), str(second)]).exit_code == 0


@pytest.fixture
def admin(engine_settings: Settings, store: Store) -> Iterator[TestClient]:
    with TestClient(create_app(with_secrets(engine_settings), store=store)) as c:
        authorize(c, "admin")
        yield c


@pytest.mark.parametrize(
    ("second", "said"),
    BAD_LINES[4:9] + BAD_LINES[-1:],
    ids=[s for _, s in BAD_LINES[4:9]] + ["dup"],
)
def test_the_import_route_refuses_the_same_lines(
    admin: TestClient, store: Store, second: dict[str, Any], said: str
) -> None:
    body = json.dumps(GOOD).encode() + b"\n" + json.dumps(second).encode()
    answer = admin.post("/api/import/jsonl", content=body)
    assert answer.status_code == 400, answer.text
    assert "line 2: " in answer.text
    assert said in answer.text
    assert store.query("SELECT COUNT(*) FROM services")[0][0] == 0


def test_the_import_route_refuses_text_that_is_not_utf8(admin: TestClient) -> None:
    answer = admin.post("/api/import/jsonl", content=b'{"type": "service", "name": "\xff"}')
    assert answer.status_code == 400
    assert "line 1: not valid UTF-8 (byte 0xff at column 30)" in answer.text


def _pull_request(**fields: Any) -> dict[str, Any]:
    payload = copy.deepcopy(fixture("github/pull_request/opened.payload.json"))
    payload["pull_request"].update(fields)
    return payload


@pytest.mark.parametrize(
    ("payload", "said"),
    [
        (_pull_request(created_at="1969-07-20T20:17:40Z"), "changes.opened_at: expected a time"),
        (_pull_request(additions=-3), "changes.additions: expected a count of 0 or more"),
        (
            _pull_request(state="closed", closed_at="2019-05-15T15:20:00Z"),
            "changes.closed_at: expected a time at or after opened_at",
        ),
    ],
    ids=["1969", "negative-additions", "closed-before-opened"],
)
def test_a_webhook_with_a_bad_value_is_refused_naming_the_field(
    admin: TestClient, payload: dict[str, Any], said: str
) -> None:
    url, body, headers = signed("github", payload, "pull_request", str(uuid.uuid4()))
    answer = admin.post(url, content=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert said in answer.text


def test_a_cdevent_from_before_1970_is_refused(admin: TestClient) -> None:
    event = copy.deepcopy(fixture("cdevents/conformance/incident_resolved.json"))
    event["context"]["timestamp"] = "1960-01-01T00:00:00Z"
    url, body, headers = signed("cdevents", event)
    answer = admin.post(url, content=body, headers=headers)
    assert answer.status_code == 422, answer.text
    assert "incidents.opened_at: expected a time from 1970-01-01" in answer.text
