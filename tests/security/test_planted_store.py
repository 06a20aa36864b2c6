"""No stored record can break a read: each value the writers refuse (or a database tool could
still put there) is planted with plain SQL, and every read, through the CLI and the HTTP API,
must answer: a figure may leave the record out and say so, but never a traceback or a 5xx."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app
from headway.config import Settings, get_settings
from headway.ingest import ingest
from headway.sources.files import read_jsonl
from headway.store import open_store
from tests.conftest import FIXTURES, authorize

runner = CliRunner()
LONG = "ü" * 20_000  # non-ASCII, and longer than any terminal or page
BIG = 2**63 - 1

# Each statement plants one kind of value the readers must survive.
PLANTED = [
    # times at the ends of what the engines hold
    "INSERT INTO deployments (id, source, source_id, service, finished_at, environment, status, "
    "kind) VALUES ('x:year1', 'x', 'year1', 'api', TIMESTAMP '0001-01-01 00:00:00', "
    "'production', 'success', 'deploy')",
    "INSERT INTO deployments (id, source, source_id, service, finished_at, environment, status, "
    "kind) VALUES ('x:year9999', 'x', 'year9999', 'api', TIMESTAMP '9999-12-31 23:59:59', "
    "'production', 'success', 'deploy')",
    # an end before its start, and a status and kind no writer uses
    "INSERT INTO deployments (id, source, source_id, service, finished_at, started_at, "
    "environment, status, kind, recovers_id) VALUES ('x:back', 'x', 'back', 'api', "
    "TIMESTAMP '2026-10-05 12:00:00', TIMESTAMP '2026-10-05 13:00:00', 'production', "
    "'success', 'deploy', 'nowhere:1')",
    "INSERT INTO deployments (id, source, source_id, service, finished_at, environment, status, "
    "kind) VALUES ('x:odd', 'x', 'odd', 'api', TIMESTAMP '2026-10-06 12:00:00', 'production', "
    "'exploded', 'teleport')",
    # a change with every kind of bad value, shipped by the backwards deployment
    "INSERT INTO changes (id, source, source_id, service, title, labels, first_commit_at, "
    "opened_at, first_review_at, approved_at, merged_at, additions, deletions, files, is_revert, "
    "deployment_id) VALUES ('x:c1', 'x', 'c1', 'api', "
    f"'{LONG}', 'not json', TIMESTAMP '0001-01-01 00:00:00', TIMESTAMP '2026-10-05 11:00:00', "
    "TIMESTAMP '2026-10-05 10:00:00', TIMESTAMP '2026-10-04 00:00:00', "
    "TIMESTAMP '2026-10-03 00:00:00', -5, NULL, -1, NULL, 'x:back')",
    # sizes whose sum overflows 64 bits
    "INSERT INTO changes (id, source, source_id, service, merged_at, additions, deletions, files, "
    f"deployment_id) VALUES ('x:c2', 'x', 'c2', 'api', TIMESTAMP '2026-10-05 11:00:00', {BIG}, "
    f"{BIG}, {BIG}, 'x:back')",
    # a change shipped by a deployment that does not exist
    "INSERT INTO changes (id, source, source_id, service, merged_at, deployment_id, labels) "
    "VALUES ('x:c3', 'x', 'c3', 'api', TIMESTAMP '9999-12-31 00:00:00', 'nowhere:2', '[1, {}]')",
    # incidents resolved before they opened, from year 1 and year 9999
    "INSERT INTO incidents (id, source, source_id, service, opened_at, acknowledged_at, "
    "resolved_at, labels, title, deployment_id, attribution, customer_impact) VALUES "
    "('x:i1', 'x', 'i1', 'api', TIMESTAMP '2026-10-05 14:00:00', TIMESTAMP '0001-01-01 00:00:00', "
    f"TIMESTAMP '2026-10-05 13:00:00', '{{', '{LONG}', 'x:back', 'bogus', NULL)",
    "INSERT INTO incidents (id, source, source_id, service, opened_at, resolved_at, "
    "deployment_id) VALUES ('x:i2', 'x', 'i2', 'api', TIMESTAMP '0001-01-01 00:00:00', "
    "TIMESTAMP '9999-12-31 23:59:59', 'x:year1')",
    # approvals decided before they were asked for, and ever after
    "INSERT INTO approvals (id, source, source_id, kind, change_ref, service, requested_at, "
    "decided_at, decision) VALUES ('x:a1', 'x', 'a1', 'change_advisory', 'x:c1', 'api', "
    "TIMESTAMP '2026-10-05 12:00:00', TIMESTAMP '0001-01-01 00:00:00', 'approved')",
    "INSERT INTO approvals (id, source, source_id, kind, change_ref, service, requested_at, "
    "decided_at, decision) VALUES ('x:a2', 'x', 'a2', 'made up', 'x:c1', 'api', "
    "TIMESTAMP '2026-10-05 12:00:00', TIMESTAMP '9999-12-31 23:59:59', NULL)",
    "INSERT INTO pipeline_runs (id, source, source_id, service, started_at, finished_at, "
    "conclusion, deployment_ref) VALUES ('x:p1', 'x', 'p1', 'api', "
    "TIMESTAMP '9999-12-31 23:59:59', TIMESTAMP '0001-01-01 00:00:00', 'failure', 'x:back')",
    "INSERT INTO defects (id, source, source_id, service, found_at, title, deployment_ref) "
    "VALUES ('x:f1', 'x', 'f1', 'api', TIMESTAMP '0001-01-01 00:00:00', NULL, 'x:back')",
    # a service with a long non-ASCII name, no team and owners that are not JSON
    f"INSERT INTO services (name, team, context, owners) VALUES ('{LONG}', NULL, '{LONG}', '[')",
    "INSERT INTO deployments (id, source, source_id, service, finished_at, environment, status, "
    f"kind) VALUES ('x:long', 'x', 'long', '{LONG}', TIMESTAMP '2026-10-07 12:00:00', "
    "'production', 'failure', 'deploy')",
    "UPDATE services SET team = NULL, owners = NULL WHERE name = 'ledger'",
]

WINDOW = ["--since", "2026-09-01", "--until", "2026-10-31"]
CLI_READS = [
    ["metrics"],
    ["metrics", *WINDOW],
    ["metrics", *WINDOW, "--format", "json"],
    ["metrics", *WINDOW, "--by", "week"],
    ["metrics", "--since", "0001-01-01", "--until", "9999-12-30", "--format", "json"],
    ["metrics", *WINDOW, "--each", "service"],
    ["metrics", *WINDOW, "--each", "team", "--format", "json"],
    ["metrics", *WINDOW, "--definition", "devlake"],
    ["metrics", *WINDOW, "--definition", "fourkeys", "--format", "json"],
    ["list", "deployments", *WINDOW],
    ["list", "deployments", *WINDOW, "--format", "json"],
    ["list", "changes", *WINDOW],
    ["list", "changes", *WINDOW, "--format", "json"],
    ["list", "incidents", *WINDOW],
    ["list", "incidents", "--since", "0001-01-01", "--until", "9999-12-30", "--format", "json"],
    ["flow"],
    ["flow", *WINDOW],
    ["flow", *WINDOW, "--format", "json"],
    ["signals", *WINDOW],
    ["signals", *WINDOW, "--format", "json"],
    ["review", "--period", "2026-10", "--format", "json"],
    ["review", "--period", "2026-10"],  # --out is added below
]
SPAN = "since=2026-09-01&until=2026-10-31"
API_READS = [
    "/api/metrics",
    f"/api/metrics?{SPAN}",
    f"/api/metrics?{SPAN}&by=week",
    f"/api/metrics?{SPAN}&each=context",
    "/api/metrics?since=0001-01-01&until=9999-12-30",
    f"/api/deployments?{SPAN}",
    "/api/deployments?since=0001-01-01&until=9999-12-30",
    f"/api/changes?{SPAN}",
    "/api/changes?since=0001-01-01&until=9999-12-30",
    f"/api/incidents?{SPAN}",
    "/api/incidents?since=0001-01-01&until=9999-12-30",
    "/api/flow",
    f"/api/flow?{SPAN}",
    f"/api/signals?{SPAN}",
    "/api/signals",
    "/api/findings?period=2026-10",
    "/api/review?period=2026-10",
    "/api/review.html?period=2026-10",
    "/api/notes?period=2026-10",
    "/api/sources/status",
]


@pytest.fixture
def planted(engine_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The small organisation, then every planted value, on each engine."""
    store = open_store(engine_settings)
    try:
        ingest(store, engine_settings, read_jsonl(FIXTURES / "small_org.jsonl"))
        for statement in PLANTED:
            store.execute(statement)
    finally:
        store.close()
    monkeypatch.setenv("HEADWAY_DATABASE", engine_settings.database)
    get_settings.cache_clear()
    yield engine_settings
    get_settings.cache_clear()


def _traceback(text: str) -> bool:
    # (no \w+ before the name: over a 20,000-letter word that search would be quadratic)
    return "Traceback" in text or re.search(r"(Error|Exception): ", text) is not None


def test_every_cli_read_answers(planted: Settings, tmp_path: Path) -> None:
    broken = []
    for args in CLI_READS:
        full = [*args, "--out", str(tmp_path / "review")] if args[-1] == "2026-10" else args
        done = runner.invoke(app, full)
        if done.exit_code != 0 or _traceback(done.output):
            broken.append((" ".join(full), done.exit_code, repr(done.exception)[:300]))
    assert not broken, "\n".join(map(str, broken))


def test_every_api_read_answers(planted: Settings) -> None:
    store = open_store(planted)
    broken: list[tuple[str, int, str]] = []
    try:
        with TestClient(create_app(planted, store=store), raise_server_exceptions=False) as http:
            authorize(http, "viewer")
            for path in API_READS:
                answer = http.get(path)
                if answer.status_code != 200:
                    broken.append((path, answer.status_code, answer.text[-300:]))
    finally:
        store.close()
    assert not broken, "\n".join(map(str, broken))
