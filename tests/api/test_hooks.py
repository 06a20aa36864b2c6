"""Webhook endpoints over HTTP: authenticity, exactly-once storage, bad input, first commits."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings
from headway.store import Store
from tests.api.conftest import (
    SECRETS,
    Hooks,
    body_of,
    fixture,
    github_headers,
    pagerduty_headers,
    rows,
    with_secrets,
)

GH = "github"


@pytest.mark.parametrize(
    ("event", "path", "table"),
    [
        ("pull_request", "github/pull_request/opened.payload.json", "changes"),
        ("pull_request_review", "github/pull_request_review/submitted.payload.json", "approvals"),
        ("deployment_status", "github/deployment_status/payload.json", "deployments"),
        ("workflow_run", "github/workflow_run/completed.payload.json", "pipeline_runs"),
        ("check_suite", "github/check_suite/completed.payload.json", "pipeline_runs"),
        ("deployment_review", "github/deployment_review/requested.payload.json", "approvals"),
        ("issues", "github/issues/labeled.payload.json", "defects"),  # labelled `bug`
    ],
)
def test_a_signed_delivery_is_stored_once_however_often_it_arrives(
    hooks: Hooks, store: Store, event: str, path: str, table: str
) -> None:
    # Given a real GitHub payload, signed with the configured secret
    payload = fixture(path)
    # When the same delivery arrives three times
    answers = [hooks.github(event, payload, delivery="d-1") for _ in range(3)]
    # Then the first is stored, the others are duplicates, and one row of each exists
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["outcome"] for a in answers] == ["accepted", "duplicate", "duplicate"]
    assert rows(store, f"SELECT count(*) FROM {table}") == [(1,)]
    assert rows(store, "SELECT id, kind, status FROM raw_events") == [
        ("github:d-1", event, "accepted")
    ]


def test_a_merged_pull_request_gets_its_first_commit_from_the_push_that_merged_it(
    hooks: Hooks, store: Store
) -> None:
    pr = fixture("github/pull_request/closed.payload.json")
    pr["pull_request"].update(
        merged=True, merged_at="2019-05-15T16:00:00Z", merge_commit_sha="e" * 40
    )
    push = fixture("github/push/payload.json")
    push.update(
        ref="refs/heads/master",
        after="e" * 40,
        deleted=False,
        commits=[
            {"id": "a" * 40, "timestamp": "2019-05-14T09:00:00+02:00"},  # 07:00 UTC, the earliest
            {"id": "b" * 40, "timestamp": "2019-05-15T10:00:00Z"},
            {"id": "e" * 40, "timestamp": "2019-05-15T16:00:00Z"},  # the merge commit itself
        ],
    )
    # The push arrives before the pull request's `closed` event: order must not matter.
    # Its commits name no pull request, so until one claims the push they are taken for
    # direct commits: 3 commits seen + 3 direct changes = 6 records.
    assert hooks.github("push", push).json()["records"] == 6
    assert hooks.github("pull_request", pr).json()["outcome"] == "accepted"
    got = rows(store, "SELECT id, service, first_commit_at, merged_at, merge_sha FROM changes")
    # first commit = min(07:00Z on the 14th, 10:00Z and 16:00Z on the 15th) = 2019-05-14 07:00
    assert got == [
        (
            "github:Codertocat/Hello-World#2",
            "Hello-World",
            datetime(2019, 5, 14, 7, 0),
            datetime(2019, 5, 15, 16, 0),
            "e" * 40,
        )
    ]
    # A later, partial event (a label change) keeps the first commit.
    pr["action"] = "labeled"
    hooks.github("pull_request", pr)
    assert rows(store, "SELECT first_commit_at FROM changes") == [(datetime(2019, 5, 14, 7, 0),)]


def test_reviews_set_first_review_and_approval(hooks: Hooks, store: Store) -> None:
    hooks.github("pull_request", fixture("github/pull_request/opened.payload.json"))
    review = fixture("github/pull_request_review/submitted.payload.json")  # commented 15:20:38
    hooks.github("pull_request_review", review)
    approved = copy.deepcopy(review)
    approved["review"].update(id=2, state="approved", submitted_at="2019-05-15T17:00:00Z")
    hooks.github("pull_request_review", approved)
    assert rows(store, "SELECT first_review_at, approved_at FROM changes") == [
        (datetime(2019, 5, 15, 15, 20, 38), datetime(2019, 5, 15, 17, 0))
    ]


def test_deployments_count_only_finished_ones_on_production(hooks: Hooks, store: Store) -> None:
    assert (
        hooks.github(
            "deployment_status", fixture("github/deployment_status/gh-pages.payload.json")
        ).status_code
        == 202
    )  # in_progress
    failed = fixture("github/deployment_status/payload.json")
    failed["deployment_status"]["state"] = "failure"
    staging = copy.deepcopy(failed)
    staging["deployment_status"]["environment"] = "staging"
    staging["deployment"]["id"] = 7
    assert (
        hooks.github("deployment_status", staging)
        .json()["note"]
        .startswith("environment `staging`")
    )
    assert hooks.github("deployment_status", failed).status_code == 200
    assert rows(store, "SELECT service, environment, status, finished_at FROM deployments") == [
        ("Hello-World", "production", "failure", datetime(2019, 5, 15, 15, 20, 55))
    ]


def test_unsigned_or_wrongly_signed_deliveries_are_refused_and_not_stored(
    client: TestClient, store: Store
) -> None:
    body = body_of(fixture("github/pull_request/opened.payload.json"))
    unsigned = github_headers(body, "pull_request")
    del unsigned["X-Hub-Signature-256"]
    wrong = github_headers(body, "pull_request", secret="not-the-secret")
    tampered = github_headers(body, "pull_request")
    for headers, content in ((unsigned, body), (wrong, body), (tampered, body + b" ")):
        answer = client.post("/hooks/github", content=content, headers=headers)
        assert answer.status_code == 401
        assert "X-Hub-Signature-256" in answer.json()["error"]
    assert (
        client.post("/hooks/gitlab", json={}, headers={"X-Gitlab-Token": "nope"}).status_code == 401
    )
    assert client.post("/hooks/opsgenie", json={}).status_code == 401
    assert rows(store, "SELECT count(*) FROM raw_events") == [(0,)]


def test_a_source_without_a_configured_secret_is_refused(
    engine_settings: Settings, store: Store
) -> None:
    settings = with_secrets(engine_settings, github_webhook_secret=None)
    body = body_of(fixture("github/ping/payload.json"))
    with TestClient(create_app(settings, store=store)) as client:
        answer = client.post("/hooks/github", content=body, headers=github_headers(body, "ping"))
    assert answer.status_code == 403
    assert "HEADWAY_GITHUB_WEBHOOK_SECRET" in answer.json()["error"]
    assert rows(store, "SELECT count(*) FROM raw_events") == [(0,)]


def test_pagerduty_accepts_any_signature_while_secrets_rotate(
    client: TestClient, store: Store
) -> None:
    body = body_of(fixture("pagerduty/triggered_v3.json"))
    headers = pagerduty_headers(body, secrets=("old-secret", SECRETS["pagerduty_webhook_secret"]))
    answer = client.post("/hooks/pagerduty", content=body, headers=headers)
    assert answer.status_code == 200, answer.text
    assert (
        client.post(
            "/hooks/pagerduty",
            content=body,
            headers=pagerduty_headers(body, secrets=("old-secret",)),
        ).status_code
        == 401
    )
    assert rows(store, "SELECT id, service, opened_at FROM incidents") == [
        ("pagerduty:PFQZPSY", "pig208", datetime(2021, 6, 4, 13, 35, 29, 781000))
    ]


def test_a_rotation_accepts_the_previous_secret_until_it_is_removed(
    engine_settings: Settings, store: Store
) -> None:
    settings = with_secrets(
        engine_settings,
        github_webhook_secret="new-secret",
        github_webhook_secret_previous="old-secret",
        gitlab_webhook_secret="new-token",
        gitlab_webhook_secret_previous="old-token",
    )
    body = body_of(fixture("github/ping/payload.json"))
    with TestClient(create_app(settings, store=store)) as client:
        for secret, status in (("old-secret", 202), ("new-secret", 202), ("other", 401)):
            headers = github_headers(body, "ping", secret=secret)
            answer = client.post("/hooks/github", content=body, headers=headers)
            assert answer.status_code == status, (secret, answer.text)
        # the refusal names the current secret's setting, not the one being replaced
        assert "HEADWAY_GITHUB_WEBHOOK_SECRET)" in answer.json()["error"]
        for token, status in (("old-token", 202), ("new-token", 202), ("other", 401)):
            headers = {"X-Gitlab-Token": token, "Content-Type": "application/json"}
            kind = {"object_kind": f"x-{token}"}  # a new body each time: not a redelivery
            answer = client.post("/hooks/gitlab", json=kind, headers=headers)
            assert answer.status_code == status, (token, answer.text)
    # once the previous secret is removed, it is refused like any other
    with TestClient(
        create_app(
            settings.model_copy(update={"github_webhook_secret_previous": None}), store=store
        )
    ) as client:
        headers = github_headers(body, "ping", secret="old-secret")
        assert client.post("/hooks/github", content=body, headers=headers).status_code == 401


def test_incident_lifecycle_from_pagerduty_keeps_the_earliest_opening(
    client: TestClient, store: Store
) -> None:
    triggered = fixture("pagerduty/triggered_v3.json")
    acknowledged = copy.deepcopy(triggered)
    acknowledged["event"].update(
        id="E2", event_type="incident.acknowledged", occurred_at="2021-06-04T13:50:00Z"
    )
    resolved = copy.deepcopy(triggered)
    resolved["event"].update(
        id="E3", event_type="incident.resolved", occurred_at="2021-06-04T14:35:29Z"
    )
    # Out of order: acknowledged first (opened unknown, so provisionally 13:50), then the rest.
    for payload in (acknowledged, triggered, resolved):
        body = body_of(payload)
        assert (
            client.post(
                "/hooks/pagerduty", content=body, headers=pagerduty_headers(body)
            ).status_code
            == 200
        )
    # opened = the trigger's 13:35:29.781, earlier than the provisional 13:50
    assert rows(store, "SELECT opened_at, acknowledged_at, resolved_at FROM incidents") == [
        (
            datetime(2021, 6, 4, 13, 35, 29, 781000),
            datetime(2021, 6, 4, 13, 50),
            datetime(2021, 6, 4, 14, 35, 29),
        )
    ]


def test_token_sources_accept_header_bearer_or_query_token(
    client: TestClient, store: Store
) -> None:
    opsgenie = body_of(fixture("opsgenie/create.json"))
    jira = fixture("jira/webhook-issue-created.json")
    jira["issue"]["fields"]["issuetype"]["name"] = "Incident"
    gitlab = body_of(fixture("gitlab/merge_request.json"))
    json_type = {"Content-Type": "application/json"}
    assert (
        client.post(
            "/hooks/opsgenie",
            content=opsgenie,
            headers={**json_type, "X-Headway-Token": "og-token"},
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/hooks/jira?token=jira-token", content=body_of(jira), headers=json_type
        ).status_code
        == 200
    )
    assert (
        client.post(
            "/hooks/gitlab", content=gitlab, headers={**json_type, "X-Gitlab-Token": "gl-token"}
        ).status_code
        == 200
    )
    assert rows(store, "SELECT id, service FROM incidents ORDER BY id") == [
        ("jira:TES-41", "TES"),
        ("opsgenie:ec03dad6-62c8-4c94-b38b-d88f398e900f", "Server"),
    ]
    assert rows(store, "SELECT id FROM changes") == [("gitlab:gitlabhq/gitlab-test!1",)]


def test_bad_input_gets_a_4xx_with_a_reason_never_a_5xx(
    engine_settings: Settings, store: Store
) -> None:
    settings = with_secrets(engine_settings, webhook_max_bytes=60_000)  # the PR fixture is ~25 kB
    big = body_of({"zen": "x" * 70_000})
    future = fixture("github/pull_request/opened.payload.json")
    future["pull_request"]["created_at"] = "2999-01-01T00:00:00Z"
    with TestClient(create_app(settings, store=store)) as client:

        def send(content: bytes, event: str = "pull_request", **extra: str):  # type: ignore[no-untyped-def]
            headers = {**github_headers(content, event), **extra}
            return client.post("/hooks/github", content=content, headers=headers)

        malformed = send(b'{"action": ')
        form = send(b"payload=%7B%7D", **{"Content-Type": "application/x-www-form-urlencoded"})
        unused = send(body_of({"ref": "v1", "ref_type": "tag"}), event="create")
        too_big = send(big)
        far_future = send(body_of(future))
        not_an_object = send(b"[1, 2]")
        no_event = client.post(
            "/hooks/github",
            content=b"{}",
            headers={k: v for k, v in github_headers(b"{}", "x").items() if k != "X-GitHub-Event"},
        )
        missing_field = send(
            body_of(
                {
                    "action": "opened",
                    "pull_request": {"number": 1},
                    "repository": {"full_name": "a/b"},
                }
            )
        )
    assert (malformed.status_code, "not valid JSON" in malformed.json()["error"]) == (400, True)
    assert (form.status_code, "application/json" in form.json()["error"]) == (415, True)
    assert (unused.status_code, unused.json()["outcome"]) == (202, "ignored")
    assert (too_big.status_code, "HEADWAY_WEBHOOK_MAX_BYTES" in too_big.json()["error"]) == (
        413,
        True,
    )
    assert far_future.status_code == 422
    assert "changes.opened_at" in far_future.json()["error"]
    assert not_an_object.status_code == 400
    assert no_event.status_code == 400
    assert (missing_field.status_code, "created_at" in missing_field.json()["error"]) == (422, True)
    # Kept raw: the unused event (ignored) and the two unusable ones (rejected); nothing derived.
    assert rows(store, "SELECT kind, status FROM raw_events ORDER BY kind, status") == [
        ("create", "ignored"),
        ("pull_request", "rejected"),
        ("pull_request", "rejected"),
    ]
    assert rows(store, "SELECT count(*) FROM changes") == [(0,)]


def test_unmapped_repositories_are_their_own_service_mapped_ones_get_team_and_context(
    engine_settings: Settings, store: Store
) -> None:
    settings = with_secrets(
        engine_settings,
        service_map={
            "Codertocat/Hello-World": {"service": "greeter", "team": "core", "context": "regulated"}
        },
    )
    payload = fixture("github/pull_request/opened.payload.json")
    other = copy.deepcopy(payload)
    other["repository"]["full_name"] = "acme/checkout"
    with TestClient(create_app(settings, store=store)) as client:
        for p in (payload, other):
            body = body_of(p)
            client.post("/hooks/github", content=body, headers=github_headers(body, "pull_request"))
    assert rows(store, "SELECT name, team, context, repository FROM services ORDER BY name") == [
        ("checkout", None, "customer-facing", "acme/checkout"),
        ("greeter", "core", "regulated", "Codertocat/Hello-World"),
    ]


def test_openapi_lists_every_hook(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for source in ("github", "gitlab", "pagerduty", "opsgenie", "jira", "cdevents"):
        assert "post" in paths[f"/hooks/{source}"]
    assert client.get("/healthz").json()["status"] == "ok"


def test_prometheus_exposes_deliveries_and_dora_per_service(
    hooks: Hooks, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # today is 2026-10-20, so the default period is 2026-07-23 up to the end of 2026-10-20
    monkeypatch.setenv("HEADWAY_NOW", "2026-10-20T12:00:00Z")
    status = fixture("github/deployment_status/payload.json")
    status["deployment_status"]["created_at"] = "2026-10-15T10:00:00Z"
    hooks.github("deployment_status", status)
    assert client.get("/metrics").status_code == 401  # a scrape token is needed
    _, scrape = client.app.state.tokens.create("scrape", name="prometheus", actor="test")
    text = client.get("/metrics", headers={"Authorization": f"Bearer {scrape}"}).text
    assert 'headway_webhook_deliveries_total{outcome="accepted",source="github"}' in text
    # one deployment in the default period, as `headway metrics` counts it: 1 / 90 per day
    line = next(x for x in text.splitlines() if x.startswith("headway_dora_deployments_per_day{"))
    assert 'service="Hello-World"' in line
    assert float(line.rsplit(" ", 1)[1]) == pytest.approx(1 / 90, rel=1e-3)


def test_jira_hmac_signature_is_accepted(client: TestClient, store: Store) -> None:
    body = body_of(fixture("jira/webhook-issue-updated-resolved.json"))
    signature = hmac.new(b"jira-token", body, hashlib.sha256).hexdigest()
    answer = client.post(
        "/hooks/jira",
        content=body,
        headers={"Content-Type": "application/json", "X-Hub-Signature": f"sha256={signature}"},
    )
    # A Story is neither incident nor defect: kept, ignored, with the reason.
    assert answer.status_code == 202
    assert "Story" in answer.json()["note"]
    assert (
        json.loads(rows(store, "SELECT payload FROM raw_events")[0][0])["issue"]["key"] == "TES-41"
    )


def test_cdevents_need_the_bearer_token_and_are_stored_once(
    client: TestClient, store: Store
) -> None:
    body = body_of(fixture("cdevents/conformance/service_deployed.json"))
    headers = {"Content-Type": "application/json", "Authorization": "Bearer cd-token"}
    assert (
        client.post(
            "/hooks/cdevents", content=body, headers={"Content-Type": "application/json"}
        ).status_code
        == 401
    )
    first = client.post("/hooks/cdevents", content=body, headers=headers)
    again = client.post("/hooks/cdevents", content=body, headers=headers)
    assert (first.status_code, first.json()["outcome"]) == (200, "accepted")
    assert again.json()["outcome"] == "duplicate"
    assert rows(store, "SELECT count(*) FROM deployments WHERE source = 'cdevents'") == [(1,)]
    broken = json.loads(body)
    broken["context"].update(id="another-event", timestamp="yesterday")
    answer = client.post("/hooks/cdevents", content=body_of(broken), headers=headers)
    assert answer.status_code == 422
    assert "context.timestamp" in answer.json()["error"]


def test_cdevents_service_option_is_kept_for_reprocess(
    client: TestClient, store: Store, hook_settings: Settings
) -> None:
    from headway.ingest import reprocess as reprocessing

    headers = {"Content-Type": "application/json", "Authorization": "Bearer cd-token"}
    # Given an incident that names no service, and a merged change whose repository is
    # TestRepo/TestOrg
    incident = fixture("cdevents/conformance/incident_reported.json")
    del incident["subject"]["content"]["service"]
    change = fixture("cdevents/conformance/change_merged.json")
    # When they arrive without ?service=, the incident cannot be placed: 422
    refused = client.post("/hooks/cdevents", content=body_of(incident), headers=headers)
    assert refused.status_code == 422
    assert "?service=" in refused.json()["error"]
    # ... and with ?service=checkout both belong to checkout (the URL wins over the repository)
    incident["context"]["id"] = "incident-with-service"
    for payload in (incident, change):
        answer = client.post(
            "/hooks/cdevents?service=checkout", content=body_of(payload), headers=headers
        )
        assert (answer.status_code, answer.json()["outcome"]) == (200, "accepted")
    derived = "SELECT id, service FROM {} WHERE source = 'cdevents' ORDER BY id"
    assert rows(store, derived.format("incidents")) == [("cdevents:incident-123", "checkout")]
    assert rows(store, derived.format("changes")) == [("cdevents:mySubject123", "checkout")]

    # Then reprocessing derives them exactly as they were derived when they arrived: three
    # raw deliveries, the refused one still refused and the other two still in checkout
    result = reprocessing.reprocess(store, hook_settings)
    assert (result.deliveries, result.outcomes) == (3, {"accepted": 2, "rejected": 1})
    assert rows(store, derived.format("incidents")) == [("cdevents:incident-123", "checkout")]
    assert rows(store, derived.format("changes")) == [("cdevents:mySubject123", "checkout")]
    assert rows(store, "SELECT status, default_service FROM raw_events ORDER BY status") == [
        ("accepted", "checkout"),
        ("accepted", "checkout"),
        ("rejected", None),
    ]


def test_reprocess_keeps_what_the_git_import_added_to_a_direct_commit(
    hooks: Hooks, store: Store, hook_settings: Settings
) -> None:
    from headway.ingest import reprocess as reprocessing
    from headway.model import Change

    # Given a push of one commit straight onto the default branch
    push = fixture("github/push/payload.json")
    sha = "d" * 40
    push.update(
        ref="refs/heads/master",
        after=sha,
        deleted=False,
        commits=[{"id": sha, "timestamp": "2019-05-15T10:00:00Z", "message": "Fix typo"}],
    )
    push["repository"]["default_branch"] = "master"
    assert hooks.github("push", push).json()["records"] == 2  # the commit seen, and the change
    change_id = f"git:Codertocat/Hello-World/{sha}"
    # and `headway import git` of the same repository, which knows the release that shipped it
    store.write(
        [
            Change(
                source="git",
                source_id=f"Codertocat/Hello-World/{sha}",
                service="Hello-World",
                files=1,
                deployment_ref="git:Codertocat/Hello-World/tag/v1.0.0",
            )
        ]
    )
    # When the repository moves to another service and the deliveries are reprocessed
    moved = hook_settings.model_copy(
        update={"service_map": {"Codertocat/Hello-World": {"service": "greeter"}}}
    )
    reprocessing.reprocess(store, moved)
    # Then the change moves, and keeps its release and size
    assert rows(store, "SELECT id, service, files, deployment_ref FROM changes") == [
        (change_id, "greeter", 1, "git:Codertocat/Hello-World/tag/v1.0.0")
    ]
