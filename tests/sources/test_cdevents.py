"""CDEvents: validation against the schemas, mapping onto the canonical model, the CLI."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import get_settings
from headway.model import Deployment, RawEvent
from headway.sources import cdevents
from headway.store import open_store
from tests.conftest import FIXTURES

CONFORMANCE = FIXTURES / "cdevents" / "conformance"
runner = CliRunner()


def event(
    kind: str,
    subject: dict[str, Any],
    *,
    at: str,
    spec: str = "0.5.0",
    version: str = "0.3.0",
    event_id: str = "e-1",
) -> dict[str, Any]:
    return {
        "context": {
            "specversion": spec,
            "id": event_id,
            "source": "/ci/prod",
            "type": f"dev.cdevents.{kind}.{version}",
            "timestamp": at,
        },
        "subject": subject,
    }


def deployed(at: str, event_id: str, env: str = "production", **extra: Any) -> dict[str, Any]:
    return event(
        "service.deployed",
        {
            "id": "checkout",
            "source": "/k8s",
            **extra,
            "content": {"environment": {"id": env}, "artifactId": "pkg:oci/checkout@v1"},
        },
        at=at,
        event_id=event_id,
    )


def incident(predicate: str, at: str) -> dict[str, Any]:
    return event(
        f"incident.{predicate}",
        {
            "id": "inc-9",
            "source": "/pagerduty",
            "content": {
                "description": "Checkout errors",
                "environment": {"id": "production"},
                "service": {"id": "checkout"},
            },
        },
        at=at,
        event_id=f"i-{predicate}",
    )


def write(path: Path, *events: dict[str, Any]) -> Path:
    path.write_text(json.dumps(list(events) if len(events) > 1 else events[0]))
    return path


def run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())


def query(sql: str) -> list[tuple[Any, ...]]:
    store = open_store(get_settings())
    try:
        return store.query(sql)
    finally:
        store.close()


def test_every_conformance_example_validates() -> None:
    files = sorted(CONFORMANCE.glob("*.json"))
    assert len(files) == 48
    for path in files:
        cdevents.validate(json.loads(path.read_text()))


def test_conformance_examples_import_with_unknown_types_kept_and_reported() -> None:
    out = run("import", "cdevents", str(CONFORMANCE), "--service", "demo")
    # 48 events: deployed, upgraded and rolledback are deployments; 5 change events make one
    # change (abandoned is kept as evidence only); 3 pipeline run events one run; 3 incident
    # events one incident; 3 approval events one approval; 30 (artifact, build, test, …) ignored.
    assert (
        "Imported 48 CDEvents: 48 raw events, 1 changes, 1 approvals, 1 pipeline runs, 3 deployments, 1 incidents"
        in out
    )
    assert "30 event(s) have no delivery meaning" in out
    assert "artifact.published (1)" in out
    # Kept as ignored as well: the 3 events of a subject older than another one about it that
    # give no first moment (stamped in one instant, a run's queued comes before its finished,
    # the change's updated before its merge, the approval's updated before its closing; the
    # run's start, the change's opening and first review, the incident's detection and the
    # approval's request still count)
    assert query(
        "SELECT note LIKE 'CDEvents type%', count(*) FROM raw_events WHERE status = 'ignored' "
        "GROUP BY 1 ORDER BY 1"
    ) == [(False, 3), (True, 30)]
    assert (
        query("SELECT kind, version FROM deployments WHERE kind = 'rollback'")[0][0] == "rollback"
    )
    run_row = query("SELECT workflow, conclusion, started_at IS NOT NULL FROM pipeline_runs")
    assert run_row == [("myPipeline", "failure", True)]
    assert query("SELECT decision, actor FROM approvals") == [("approved", "urn:user:bob")]


def test_parse_is_pure_and_returns_records_and_the_raw_event() -> None:
    parsed = cdevents.parse(deployed("2024-05-01T12:00:00+02:00", "d-1"))
    assert parsed.kind == "service.deployed"
    assert parsed.status == "accepted"
    dep, raw = parsed.records
    assert isinstance(dep, Deployment)
    assert isinstance(raw, RawEvent)
    assert (dep.service, dep.environment, dep.kind) == ("checkout", "production", "deploy")
    assert dep.finished_at.isoformat() == "2024-05-01T10:00:00+00:00"  # 12:00+02:00 in UTC
    assert json.loads(raw.payload)["context"]["id"] == "d-1"


def test_spec_04_events_with_a_subject_type_are_accepted() -> None:
    old = deployed("2024-05-01T10:00:00Z", "d-04", type="service")
    old["context"].update(specversion="0.4.1", type="dev.cdevents.service.deployed.0.1.1")
    assert cdevents.parse(old).status == "accepted"


def test_unknown_type_is_kept_raw_with_a_note() -> None:
    parsed = cdevents.parse(
        event(
            "widget.polished",
            {"id": "w", "content": {}},
            at="2024-05-01T10:00:00Z",
            version="0.1.0",
        )
    )
    (raw,) = parsed.records
    assert (raw.status, parsed.status) == ("ignored", "ignored")
    assert "dev.cdevents.widget.polished.0.1.0" in (raw.note or "")


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda e: e["subject"]["content"].pop("environment"),
            "service.deployed event fails its schema at field subject.content: 'environment' is a required property",
        ),
        (
            lambda e: e["context"].update(timestamp="yesterday"),
            "field context.timestamp: 'yesterday'",
        ),
        (
            lambda e: e["context"].update(specversion="0.2.0"),
            "field context.specversion: '0.2.0' is not a supported",
        ),
        (lambda e: e["context"].update(type="service.deployed"), "is not a CDEvents type"),
    ],
)
def test_schema_failures_name_the_field(mutate: Any, message: str) -> None:
    bad = deployed("2024-05-01T10:00:00Z", "d-1")
    mutate(bad)
    with pytest.raises(cdevents.CDEventError, match=message.replace("(", r"\(")):
        cdevents.validate(bad)


def test_a_bad_event_in_a_batch_writes_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    write(folder / "a.json", deployed("2024-05-01T10:00:00Z", "d-1"))
    bad = deployed("2024-05-01T11:00:00Z", "d-2")
    del bad["subject"]["content"]["artifactId"]
    write(folder / "b.json", deployed("2024-05-01T10:30:00Z", "d-3"), bad)
    out = run("import", "cdevents", str(folder), code=2)
    assert f"{folder / 'b.json'}[1]" in out
    assert "'artifactId' is a required property" in out
    assert query("SELECT count(*) FROM deployments") == [(0,)]
    assert query("SELECT count(*) FROM raw_events") == [(0,)]


def test_incident_resolved_later_keeps_its_detection_time_and_counts_as_a_failure(
    tmp_path: Path,
) -> None:
    run(
        "import",
        "cdevents",
        str(
            write(
                tmp_path / "a.json",
                deployed("2024-05-01T10:00:00Z", "d-1"),
                incident("detected", "2024-05-01T10:20:00Z"),
            )
        ),
    )
    run(
        "import",
        "cdevents",
        str(write(tmp_path / "b.json", incident("resolved", "2024-05-01T13:30:00Z"))),
    )
    assert [(str(o), str(r)) for o, r in query("SELECT opened_at, resolved_at FROM incidents")] == [
        ("2024-05-01 10:20:00", "2024-05-01 13:30:00")
    ]
    out = runner.invoke(
        app,
        [
            "list",
            "deployments",
            "--service",
            "checkout",
            "--since",
            "2024-04-01",
            "--until",
            "2024-05-31",
            "--format",
            "json",
        ],
    ).output
    (dep,) = json.loads(out)
    # The incident opened 20 min after the only production deployment (inside dora@2's
    # 30-minute window): blamed on it; it was resolved at 13:30, which is when the failed
    # deployment recovered.
    assert dep["failed"]
    assert dep["failure_reason"] == "incident"
    assert dep["recovered_at"].startswith("2024-05-01T13:30:00")


def _conformance(name: str, at: str, event_id: str, **content: Any) -> dict[str, Any]:
    found: dict[str, Any] = json.loads((CONFORMANCE / f"{name}.json").read_text())
    found["context"].update(timestamp=at, id=event_id)
    found["subject"]["content"].update(content)
    return found


# A run queued at 10:00, started 10:01, failed 10:30 and, retried, succeeded at 10:45; an
# incident detected at 11:00 and resolved at 13:00.
LIFE = [
    _conformance("pipelinerun_queued", "2024-05-01T10:00:00Z", "r-1"),
    _conformance("pipelinerun_started", "2024-05-01T10:01:00Z", "r-2"),
    _conformance("pipelinerun_finished", "2024-05-01T10:30:00Z", "r-3"),
    _conformance("pipelinerun_finished", "2024-05-01T10:45:00Z", "r-4", outcome="success"),
    _conformance("incident_detected", "2024-05-01T11:00:00Z", "i-1"),
    _conformance("incident_resolved", "2024-05-01T13:00:00Z", "i-2"),
]


@pytest.mark.parametrize(
    "listed", [[0, 1, 2, 3, 4, 5], [5, 4, 3, 2, 1, 0], [3, 0, 5, 2, 4, 1]], ids=str
)
def test_events_in_a_file_in_any_order_give_the_store_of_their_time_order(
    tmp_path: Path, listed: list[int]
) -> None:
    # Given the events listed in a file in time order, reversed, or shuffled
    path = write(tmp_path / "life.json", *(LIFE[i] for i in listed))
    # When the file is imported
    run("import", "cdevents", str(path), "--service", "checkout")
    # Then the run is the retry's success at 10:45, started at 10:01 (the failure at 10:30 is
    # older, whatever its place in the file), and the incident opened 11:00, resolved 13:00
    state = (
        query("SELECT started_at, finished_at, conclusion FROM pipeline_runs"),
        query("SELECT opened_at, resolved_at FROM incidents"),
    )
    assert state == (
        [(datetime(2024, 5, 1, 10, 1), datetime(2024, 5, 1, 10, 45), "success")],
        [(datetime(2024, 5, 1, 11), datetime(2024, 5, 1, 13))],
    )
    # And importing the same file again changes nothing: every event is already kept
    assert "Imported 6 CDEvents: nothing new." in run("import", "cdevents", str(path))
    assert query("SELECT count(*) FROM raw_events") == [(6,)]
    again = (
        query("SELECT started_at, finished_at, conclusion FROM pipeline_runs"),
        query("SELECT opened_at, resolved_at FROM incidents"),
    )
    assert again == state


def test_an_old_event_imported_after_a_newer_one_changes_nothing(tmp_path: Path) -> None:
    # Given the retry's success (10:45) imported, when the failure (10:30) is imported later
    run("import", "cdevents", str(write(tmp_path / "new.json", LIFE[3])), "--service", "checkout")
    run("import", "cdevents", str(write(tmp_path / "old.json", LIFE[2])), "--service", "checkout")
    # Then the run stays successful, and the failure is kept raw as ignored, saying why
    assert query("SELECT finished_at, conclusion FROM pipeline_runs") == [
        (datetime(2024, 5, 1, 10, 45), "success")
    ]
    [(note,)] = query("SELECT note FROM raw_events WHERE status = 'ignored'")
    assert "an older event than the one already applied" in note, note


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    assert "does not exist" in run("import", "cdevents", str(tmp_path / "nope.json"), code=2)
    assert "no .json or .jsonl files" in run("import", "cdevents", str(tmp_path), code=2)
