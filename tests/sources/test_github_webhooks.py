"""GitHub payloads → canonical records (pure: no HTTP, no store)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from headway.model import Approval, Change, Defect, Deployment, PipelineRun
from headway.sources import github
from headway.sources.mapping import Mapping
from tests.conftest import FIXTURES

M = Mapping()


def load(path: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / "github" / path).read_text())


def test_a_pull_request_closed_without_merging_has_no_merge() -> None:
    (change,) = github.parse("pull_request", load("pull_request/closed.payload.json"), M).records
    assert isinstance(change, Change)
    assert change.id == "github:Codertocat/Hello-World#2"
    assert (change.service, change.number, change.author) == ("Hello-World", 2, "Codertocat")
    assert change.opened_at == datetime(2019, 5, 15, 15, 20, 33, tzinfo=UTC)
    assert (change.merged_at, change.merge_sha) == (None, None)
    assert (change.additions, change.deletions, change.files, change.labels) == (1, 1, 1, ("bug",))


def test_a_request_closed_without_merging_records_when_it_was_given_up() -> None:
    (change,) = github.parse("pull_request", load("pull_request/closed.payload.json"), M).records
    # the payload's closed_at, 2019-05-15T15:21:18Z; an open or merged request has none
    assert change.closed_at == datetime(2019, 5, 15, 15, 21, 18, tzinfo=UTC)
    (opened,) = github.parse("pull_request", load("pull_request/opened.payload.json"), M).records
    assert opened.closed_at is None
    merged = load("pull_request/closed.payload.json")
    merged["pull_request"].update(merged=True, merged_at="2019-05-15T15:21:18Z")
    (change,) = github.parse("pull_request", merged, M).records
    assert (change.merged_at, change.closed_at) == (
        datetime(2019, 5, 15, 15, 21, 18, tzinfo=UTC),
        None,
    )


def test_a_revert_names_the_change_it_reverts() -> None:
    payload = load("pull_request/opened.payload.json")
    payload["pull_request"].update(title='Revert "Add feature"', body="Reverts acme/shop#41")
    (change,) = github.parse("pull_request", payload, M).records
    assert (change.is_revert, change.reverts) == (True, "github:acme/shop#41")


def test_deployment_status_success_on_production() -> None:
    (d,) = github.parse("deployment_status", load("deployment_status/payload.json"), M).records
    assert isinstance(d, Deployment)
    assert (d.id, d.status, d.environment, d.sha) == (
        "github:Codertocat/Hello-World/deployments/145988746",
        "success",
        "production",
        "f95f852bd8fca8fcc58a9a2d6c842781e32a215e",
    )
    # started when the deployment was created (15:20:53), finished at the status (15:20:55)
    assert (d.started_at, d.finished_at) == (
        datetime(2019, 5, 15, 15, 20, 53, tzinfo=UTC),
        datetime(2019, 5, 15, 15, 20, 55, tzinfo=UTC),
    )


def test_configured_production_environments_decide() -> None:
    payload = load("deployment_status/payload.json")
    assert github.parse(
        "deployment_status", payload, Mapping(production_environments=("prod",))
    ).ignored


def test_runs_reviews_gates_and_issues() -> None:
    (run,) = github.parse("workflow_run", load("workflow_run/completed.payload.json"), M).records
    assert isinstance(run, PipelineRun)
    assert run.conclusion == "success"
    (review,) = github.parse(
        "pull_request_review", load("pull_request_review/submitted.payload.json"), M
    ).records
    assert isinstance(review, Approval)
    assert (review.change_ref, review.decision) == ("github:Codertocat/Hello-World#2", "commented")
    (gate,) = github.parse(
        "deployment_review", load("deployment_review/requested.payload.json"), M
    ).records
    assert (gate.kind, gate.decision) == ("deployment_gate", None)
    (defect,) = github.parse("issues", load("issues/labeled.payload.json"), M).records
    assert isinstance(defect, Defect)
    assert defect.id == "github:Codertocat/Hello-World/issues/1"


def test_releases_count_only_where_configured() -> None:
    payload = load("release/published.payload.json")
    assert github.parse("release", payload, M).ignored
    mapped = Mapping(services={"Codertocat/Hello-World": {"deployments": "release"}})
    (d,) = github.parse("release", payload, mapped).records
    assert (d.version, d.finished_at) == ("0.0.1", datetime(2019, 5, 15, 15, 20, 53, tzinfo=UTC))


def test_unused_events_are_ignored_with_a_reason() -> None:
    assert "not used" in (github.parse("create", load("create/payload.json"), M).ignored or "")
    assert github.parse("push", load("push/payload.json"), M).ignored  # a deleted tag: no commits
