"""GitLab payloads → canonical records."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from headway.sources import gitlab
from headway.sources.mapping import Mapping
from tests.conftest import FIXTURES

M = Mapping()


def load(name: str) -> dict:  # type: ignore[type-arg]
    return json.loads((FIXTURES / "gitlab" / name).read_text())


def test_merge_request_push_pipeline() -> None:
    (mr,) = gitlab.parse("merge_request", load("merge_request.json"), M).records
    assert (mr.id, mr.service, mr.merged_at, mr.labels) == (
        "gitlab:gitlabhq/gitlab-test!1",
        "gitlab-test",
        None,
        ("API",),
    )
    push = gitlab.parse("push", load("push.json"), M)
    assert len(push.commits) == 2
    assert push.commits[0].push_head == "da1560886d4f094c3e6c9ef40349f7d38b5d27d7"
    # 2011-12-12T14:27:31+02:00 = 12:27:31 UTC
    assert push.commits[0].committed_at == datetime(2011, 12, 12, 12, 27, 31, tzinfo=UTC)
    (run,) = gitlab.parse("pipeline", load("pipeline.json"), M).records
    assert (run.conclusion, run.finished_at) == (
        "success",
        datetime(2016, 8, 12, 15, 26, 29, tzinfo=UTC),
    )


def test_a_merge_request_closed_without_merging_records_when() -> None:
    payload = load("merge_request.json")
    assert gitlab.parse("merge_request", payload, M).records[0].closed_at is None
    payload["object_attributes"].update(
        state="closed", action="close", updated_at="2013-12-04 10:00:00 UTC"
    )
    (mr,) = gitlab.parse("merge_request", payload, M).records
    # no closed_at in the event: it is sent as the request closes, at updated_at
    assert (mr.merged_at, mr.closed_at) == (None, datetime(2013, 12, 4, 10, 0, tzinfo=UTC))


def test_deployments_only_on_production() -> None:
    assert "staging" in (gitlab.parse("deployment", load("deployment.json"), M).ignored or "")
    payload = load("deployment.json")
    payload["environment"] = "production"
    (d,) = gitlab.parse("deployment", payload, M).records
    # 2021-04-28 21:50:00 +0200 = 19:50 UTC
    assert (d.status, d.finished_at, d.sha) == (
        "success",
        datetime(2021, 4, 28, 19, 50, tzinfo=UTC),
        "279484c09fbe69ededfced8c1bb6e6d24616b468",
    )


def test_issue_incident_release_and_tags() -> None:
    issue = load("issue.json")
    assert gitlab.parse("issue", issue, M).ignored  # label API: neither incident nor defect
    issue["object_attributes"]["issue_type"] = "incident"
    (incident,) = gitlab.parse("issue", issue, M).records
    assert (incident.id, incident.severity) == ("gitlab:gitlabhq/gitlab-test#23", "high")
    assert gitlab.parse("release", load("release.json"), M).ignored
    tagged = Mapping(services={"jsmith/example": {"deployments": "tag"}})
    (tag,) = gitlab.parse("tag_push", load("tag_push.json"), tagged).records
    assert (tag.version, tag.service) == ("v1.0.0", "example")
