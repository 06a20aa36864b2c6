"""CDEvents: validation against the schemas, mapping onto the canonical model, the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from headway.cli import app
from headway.config import get_settings
from headway.model import Deployment, Incident, RawEvent
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
        "Imported 48 CDEvents: 1 approvals, 48 raw events, 1 changes, 1 incidents, 1 pipeline runs, 3 deployments"
        in out
    )
    assert "30 event(s) have no delivery meaning" in out
    assert "artifact.published (1)" in out
    assert query("SELECT count(*) FROM raw_events WHERE status = 'ignored'") == [(30,)]
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
                incident("detected", "2024-05-01T11:00:00Z"),
            )
        ),
    )
    run(
        "import",
        "cdevents",
        str(write(tmp_path / "b.json", incident("resolved", "2024-05-01T13:30:00Z"))),
    )
    assert [(str(o), str(r)) for o, r in query("SELECT opened_at, resolved_at FROM incidents")] == [
        ("2024-05-01 11:00:00", "2024-05-01 13:30:00")
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
    # The incident opened an hour after the only production deployment: blamed on it; it was
    # resolved at 13:30, which is when the failed deployment recovered.
    assert dep["failed"]
    assert dep["failure_reason"] == "incident"
    assert dep["recovered_at"].startswith("2024-05-01T13:30:00")


def test_complete_folds_deliveries_of_one_incident() -> None:
    resolved, detected = (
        cdevents.parse(incident(p, t)).records[0]
        for p, t in (("resolved", "2024-05-01T13:00:00Z"), ("detected", "2024-05-01T11:00:00Z"))
    )
    (merged,) = [
        r for r in cdevents.complete(None, [resolved, detected]) if isinstance(r, Incident)
    ]
    assert (merged.opened_at.hour, merged.resolved_at and merged.resolved_at.hour) == (11, 13)


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    assert "does not exist" in run("import", "cdevents", str(tmp_path / "nope.json"), code=2)
    assert "no .json or .jsonl files" in run("import", "cdevents", str(tmp_path), code=2)
