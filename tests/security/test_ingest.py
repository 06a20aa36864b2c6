"""Attacks on what Headway ingests, replayed as a client would: a stored value that would
become a git option, a replayed or late webhook that would move state backwards, and
signed webhooks with wrongly typed fields."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from headway.config import Settings
from headway.store import open_store
from tests.api.conftest import fixture, signed
from tests.security.conftest import Server
from tests.sources.conftest import RepoBuilder

# the server's settings beyond the shared ones (tests/security/conftest.py)
LIVE_ENV = {"HEADWAY_SERVICE_MAP": json.dumps({"acme/released": {"deployments": "release"}})}

# -- a stored sha that would be a git option ---------------------------------------------------


def _planted_deployment(target: Path, repository: str = "shop") -> dict[str, Any]:
    """A deployment that looks like one `headway import git` wrote, whose sha is an option of
    `git log` that writes a file."""
    return {
        "type": "deployment",
        "source": "git",
        "source_id": f"{repository}/tag/v9.9.9",
        "service": repository,
        "finished_at": "2026-10-01T12:00:00Z",
        "sha": f"--output={target}",
    }


def test_a_sha_that_is_an_option_is_refused_at_import(live: Server, tmp_path: Path) -> None:
    target = tmp_path / "planted"
    line = json.dumps(_planted_deployment(target))
    # Given an admin token, when the record is imported over HTTP
    with live.client(live.admin) as client:
        answer = client.post("/api/import/jsonl", content=line + "\n")
    # then it is refused, naming the line, the field and what a sha is
    assert answer.status_code == 400, answer.text
    detail = answer.json()["error"]
    assert "line 1: deployment field 'sha': expected a commit id" in detail, detail
    assert "hexadecimal" in detail, detail
    # and through the CLI (against the server) it exits 2 with the same message
    planted = tmp_path / "planted.jsonl"
    planted.write_text(line + "\n")
    done = live.headway("import", "jsonl", str(planted), remote=True)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "hexadecimal" in done.stdout + done.stderr
    assert not target.exists()


def _headway(database: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    env.update(HEADWAY_DATABASE=database, COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "headway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_sha_planted_in_the_store_never_reaches_git(
    engine_settings: Settings, tmp_path: Path
) -> None:
    # Given a repository imported once (one release, v1.0)
    repo = RepoBuilder(tmp_path / "shop")
    repo.commit("first", "2026-10-01T09:00:00+00:00")
    repo.tag("v1.0", "2026-10-01T10:00:00+00:00")
    database = engine_settings.database
    first = _headway(database, "import", "git", str(repo.path), "--service", "shop")
    assert first.returncode == 0, first.stdout + first.stderr
    # and its release's sha overwritten in the store itself, past every check at write
    target = tmp_path / "planted"
    store = open_store(engine_settings)
    try:
        [(dep_id,)] = store.query("SELECT id FROM deployments WHERE source = 'git'")
        store.run(
            text("UPDATE deployments SET sha = :sha WHERE id = :id"),
            sha=f"--output={target}",
            id=dep_id,
        )
    finally:
        store.close()
    # When a new commit is imported (a re-import reads from the stored releases' commits)
    repo.commit("second", "2026-10-02T09:00:00+00:00")
    again = _headway(database, "import", "git", str(repo.path), "--service", "shop")
    # Then git never ran with it: no file, and the import stops naming the record (exit 2)
    assert not target.exists()
    assert again.returncode == 2, again.stdout + again.stderr
    message = " ".join((again.stdout + again.stderr).split())
    assert f"deployment {dep_id} has sha '--output={target}'" in message, message
    assert "hexadecimal" in message, message


# -- replayed and late webhooks ----------------------------------------------------------------


def _status(repository: str, status_id: int, state: str, at: str) -> dict[str, Any]:
    """A GitHub deployment_status of deployment 145988746 of `repository`."""
    payload = copy.deepcopy(fixture("github/deployment_status/payload.json"))
    payload["repository"]["full_name"] = repository
    payload["deployment_status"].update(id=status_id, state=state, created_at=at, updated_at=at)
    return payload


def _send(live: Server, payload: Any, event: str = "deployment_status") -> Any:
    url, body, headers = signed("github", payload, event, delivery=str(uuid.uuid4()))
    with live.client() as client:
        return client.post(url, content=body, headers=headers)


def _deployments(live: Server, service: str) -> list[tuple[str, str]]:
    with live.client(live.admin) as client:
        answer = client.get(
            "/api/deployments",
            params={"service": service, "since": "2019-05-01", "until": "2019-06-01"},
        )
    assert answer.status_code == 200, answer.text
    return [(d["id"], d["status"]) for d in answer.json()]


def _metrics(live: Server, service: str) -> Any:
    with live.client(live.admin) as client:
        answer = client.get(
            "/api/metrics",
            params={"service": service, "since": "2019-05-01", "until": "2019-06-01"},
        )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_replayed_status_under_a_new_delivery_id_changes_nothing(live: Server) -> None:
    # Given a deployment that failed (status 100 at 15:20:54, a second after the deployment was created) and then succeeded (status
    # 209916254 at 15:20:55)
    failed = _status("acme/replayed", 100, "failure", "2019-05-15T15:20:54Z")
    succeeded = _status("acme/replayed", 209916254, "success", "2019-05-15T15:20:55Z")
    assert _send(live, failed).status_code == 200
    assert _send(live, succeeded).status_code == 200
    deployment = "github:acme/replayed/deployments/145988746"
    assert _deployments(live, "replayed") == [(deployment, "success")]
    before = _metrics(live, "replayed")
    # When the failure's signed body is sent again under a new X-GitHub-Delivery id
    replay = _send(live, failed)
    # Then it is kept but ignored, as older than status 209916254, and nothing moves
    assert replay.status_code == 202, replay.text
    assert "209916254" in replay.json()["note"]
    assert _deployments(live, "replayed") == [(deployment, "success")]
    # one successful deployment in the period: change failure rate 0, as before the replay
    after = _metrics(live, "replayed")
    assert after == before


def test_an_older_status_after_a_newer_one_changes_nothing(live: Server) -> None:
    # Given a deployment whose success (status 7, 15:20:55) arrived first
    assert (
        _send(live, _status("acme/late", 7, "success", "2019-05-15T15:20:55Z")).status_code == 200
    )
    before = _metrics(live, "late")
    # When its earlier failure (status 6, 15:20:54) arrives late
    late = _send(live, _status("acme/late", 6, "failure", "2019-05-15T15:20:54Z"))
    # Then it is ignored and the deployment stays successful
    assert late.status_code == 202, late.text
    assert _deployments(live, "late") == [("github:acme/late/deployments/145988746", "success")]
    assert _metrics(live, "late") == before
    # while a newer failure (status 8, 15:30) still applies: a failed deployment is no longer
    # listed among the deployments (1 -> 0)
    assert (
        _send(live, _status("acme/late", 8, "failure", "2019-05-15T15:30:00Z")).status_code == 200
    )
    assert _deployments(live, "late") == []
    assert _metrics(live, "late") != before


def _request(repository: str, action: str, updated: str, title: str, **more: Any) -> Any:
    """A GitHub pull_request event of request #2 of `repository`."""
    name = "closed" if action == "closed" else "opened"
    payload = copy.deepcopy(fixture(f"github/pull_request/{name}.payload.json"))
    payload["repository"]["full_name"] = repository
    payload["action"] = action
    payload["pull_request"].update(updated_at=updated, title=title, **more)
    return payload


def _changes(live: Server, service: str) -> list[tuple[str, str, str | None]]:
    with live.client(live.admin) as client:
        answer = client.get(
            "/api/changes",
            params={"service": service, "since": "2019-05-01", "until": "2019-06-01"},
        )
    assert answer.status_code == 200, answer.text
    return [(c["id"], c["title"], c["merged_at"]) for c in answer.json()]


MERGE = "c4295bd74fb0f4fda03689c3df3f2803b658fd85"


def test_an_old_opened_request_after_its_merge_neither_renames_nor_reopens_it(
    live: Server,
) -> None:
    # Given request #2 opened at 15:20:33 as "Draft", then merged at 15:21:18 as "Final"
    opened = _request("acme/pr-replay", "opened", "2019-05-15T15:20:33Z", "Draft")
    merged = _request(
        "acme/pr-replay",
        "closed",
        "2019-05-15T15:21:18Z",
        "Final",
        merged=True,
        merged_at="2019-05-15T15:21:18Z",
        merge_commit_sha=MERGE,
    )
    assert _send(live, opened, "pull_request").status_code == 200
    assert _send(live, merged, "pull_request").status_code == 200
    change = ("github:acme/pr-replay#2", "Final", "2019-05-15T15:21:18Z")
    assert _changes(live, "pr-replay") == [change]
    # When the signed `opened` body is sent again under a new delivery id, and an old
    # `closed` without a merge (15:21:00, "Abandoned") arrives late
    replay = _send(live, opened, "pull_request")
    late = _send(
        live,
        _request("acme/pr-replay", "closed", "2019-05-15T15:21:00Z", "Abandoned"),
        "pull_request",
    )
    # Then both are answered as older than the merge, kept only for the opening time they
    # give (15:20:33, no earlier than the stored one), and the request is still the merged
    # "Final"
    for answer in (replay, late):
        assert answer.status_code == 200, answer.text
        assert "event merged at 2019-05-15T15:21:18Z" in answer.json()["note"], answer.text
    assert _changes(live, "pr-replay") == [change]
    # and no close without a merge was recorded: nothing waits as an abandoned request
    with live.client(live.admin) as client:
        flow = client.get(
            "/api/flow",
            params={"service": "pr-replay", "since": "2019-05-01", "until": "2019-06-01"},
        )
    assert flow.status_code == 200, flow.text
    assert "Abandoned" not in flow.text


def test_a_replayed_review_is_the_same_event(live: Server) -> None:
    review = copy.deepcopy(fixture("github/pull_request_review/submitted.payload.json"))
    review["repository"]["full_name"] = "acme/review-replay"
    # Given review 237895671 submitted
    assert _send(live, review, "pull_request_review").status_code == 200
    # When its signed body is sent again under a new delivery id
    again = _send(live, review, "pull_request_review")
    # Then it is answered as the review already applied (same id, same submission time),
    # kept only for the request time it gives
    assert again.status_code == 200, again.text
    assert "event 237895671 at 2019-05-15T15:20:38Z" in again.json()["note"], again.text


def _run(repository: str, attempt: int, conclusion: str, updated: str) -> Any:
    payload = copy.deepcopy(fixture("github/workflow_run/completed.payload.json"))
    payload["repository"]["full_name"] = repository
    payload["workflow_run"].update(run_attempt=attempt, conclusion=conclusion, updated_at=updated)
    return payload


def test_an_old_failed_run_attempt_replayed_after_the_rerun_changes_nothing(live: Server) -> None:
    # Given run 289782451 failed at attempt 1 (16:33:49), then succeeded at attempt 2 (16:40)
    failed = _run("acme/run-replay", 1, "failure", "2020-10-05T16:33:49Z")
    assert _send(live, failed, "workflow_run").status_code == 200
    rerun = _run("acme/run-replay", 2, "success", "2020-10-05T16:40:00Z")
    assert _send(live, rerun, "workflow_run").status_code == 200
    # When the failure is sent again under a new delivery id
    replay = _send(live, failed, "workflow_run")
    # Then it is answered as older than attempt 2, kept only for the start it gives
    assert replay.status_code == 200, replay.text
    assert "event 2 at 2020-10-05T16:40:00Z" in replay.json()["note"], replay.text


def test_a_replayed_push_is_counted_once(live: Server) -> None:
    push = copy.deepcopy(fixture("github/push/with-new-branch.payload.json"))
    push["repository"]["full_name"] = "acme/push-replay"
    # Given a push of one direct commit to master (pushed 2019-05-15T15:20:57Z)
    assert _send(live, push, "push").status_code == 200
    direct = "git:acme/push-replay/6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert _changes(live, "push-replay") == [(direct, "Initial commit", "2019-05-15T15:20:57Z")]
    # When its signed body is sent again under a new delivery id
    replay = _send(live, push, "push")
    # Then it is ignored as the push already applied, and the commit is still one change
    assert replay.status_code == 202, replay.text
    assert "event 6113728f27ae82c7b1a177c8d03f9e96e0adf246 at" in replay.json()["note"]
    assert _changes(live, "push-replay") == [(direct, "Initial commit", "2019-05-15T15:20:57Z")]


def _release(published: str) -> Any:
    payload = copy.deepcopy(fixture("github/release/published.payload.json"))
    payload["repository"]["full_name"] = "acme/released"
    payload["release"].update(published_at=published)
    return payload


def _released(live: Server) -> list[tuple[str, str]]:
    with live.client(live.admin) as client:
        answer = client.get(
            "/api/deployments",
            params={"service": "released", "since": "2019-05-01", "until": "2019-06-01"},
        )
    assert answer.status_code == 200, answer.text
    return [(d["id"], d["finished_at"]) for d in answer.json()]


def test_an_old_publication_of_a_release_does_not_move_it_back(live: Server) -> None:
    # Given release 17372790 published at 15:20:53, unpublished, and published again at 16:00
    # (acme/released counts releases as deployments: LIVE_ENV)
    first = _release("2019-05-15T15:20:53Z")
    assert _send(live, first, "release").status_code == 200
    assert _send(live, _release("2019-05-15T16:00:00Z"), "release").status_code == 200
    release = ("github:acme/released/releases/17372790", "2019-05-15T16:00:00Z")
    assert _released(live) == [release]
    # When the first publication is sent again under a new delivery id
    replay = _send(live, first, "release")
    # Then it is ignored and the deployment stays at 16:00
    assert replay.status_code == 202, replay.text
    assert "event 17372790 at 2019-05-15T16:00:00Z" in replay.json()["note"], replay.text
    assert _released(live) == [release]


# -- wrongly typed fields ----------------------------------------------------------------------


def _set(payload: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    mutated = copy.deepcopy(payload)
    container = mutated
    *parents, last = (int(p) if p.isdigit() else p for p in path.split("."))
    for part in parents:
        container = container[part]
    container[last] = value
    return mutated


# (source, fixture, GitHub event, field, wrongly typed value, kind listed, field named)
WRONG_TYPES = [
    (
        "github",
        "github/deployment_status/payload.json",
        "deployment_status",
        "deployment.sha",
        12345,  # a number where a string is
        "deployment_status",
        "deployments.sha",
    ),
    (
        "github",
        "github/pull_request/opened.payload.json",
        "pull_request",
        "pull_request.additions",
        "many",  # a string where a number is
        "pull_request",
        "changes.additions",
    ),
    ("gitlab", "gitlab/push.json", None, "commits.0.id", 12, "push", "seen_commits.sha"),
    (
        "pagerduty",
        "pagerduty/triggered_v3.json",
        None,
        "event.data.title",
        {"text": "x"},  # an object where a string is
        "incident.triggered",
        "incidents.title",
    ),
    (
        "opsgenie",
        "opsgenie/create.json",
        None,
        "alert.message",
        ["x"],  # a list where a string is
        "Create",
        "incidents.title",
    ),
    (
        "jira",
        "jira/webhook-issue-created.json",
        None,
        "issue.key",
        {"k": 1},
        "jira:issue_created",
        "key",
    ),
    (
        "cdevents",
        "cdevents/conformance/service_deployed.json",
        None,
        "subject.content.artifactId",
        {"purl": "x"},
        "dev.cdevents.service.deployed.0.3.0",
        "artifactId",
    ),
]


@pytest.mark.parametrize(
    ("source", "name", "event", "field", "value", "kind", "named"),
    WRONG_TYPES,
    ids=[f"{w[0]}-{w[3]}" for w in WRONG_TYPES],
)
def test_a_wrongly_typed_field_is_a_422_listed_as_rejected(
    live: Server,
    source: str,
    name: str,
    event: str | None,
    field: str,
    value: Any,
    kind: str,
    named: str,
) -> None:
    # Given a real payload with one field of another JSON type, correctly signed
    payload = _set(fixture(name), field, value)
    url, body, headers = signed(source, payload, event, delivery=str(uuid.uuid4()))
    with live.client() as client:
        answer = client.post(url, content=body, headers=headers)
    # Then it gets 422 naming the field
    assert answer.status_code == 422, answer.text
    assert named in answer.json()["error"], answer.text
    # and is listed as rejected by source and kind
    with live.client(live.admin) as client:
        status = client.get("/api/sources/status").json()
    rejected = [
        r for r in status if (r["source"], r["kind"], r["status"]) == (source, kind, "rejected")
    ]
    assert rejected, status
