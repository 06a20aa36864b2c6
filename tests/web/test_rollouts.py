"""Rollouts in the app: where each stands, and pause, resume and roll back after a
confirmation, each recorded in its history and served to SDKs."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

from headway.rollouts.plan import RolloutPlan
from tests.web.conftest import csrf_of, sign_in
from tests.web.test_flags import FLAG


def _start(client: TestClient) -> Any:
    app: Any = client.app
    app.state.flags.create_flag(FLAG, actor="test")
    plan = RolloutPlan.build(
        flag="new-checkout",
        environment="production",
        treatment="on",
        control="off",
        stages="10,50,100",
        guardrails=["errors:rate:increase:0%:rollback"],
        service="api",
    )
    # a guardrail's metric must have reached Headway before a rollout may watch it
    sample = {"flag": "new-checkout", "variant": "off", "metric": "errors", "n": 10, "total": 0}
    app.state.rollouts.ingest("production", [sample])
    # FLAG serves `on` to everyone: the rollout starts over it, as --force does
    return app.state.rollouts.start(plan, actor="token:ops", force=True)


def _do(client: TestClient, action: str) -> Any:
    confirm = client.get(f"/rollouts/new-checkout/production/confirm?action={action}")
    assert confirm.status_code == 200, confirm.text
    return client.post(
        f"/rollouts/new-checkout/production/{action}",
        data={"csrf": csrf_of(confirm.text), "reason": "checking a dashboard"},
        follow_redirects=False,
    )


def test_the_list_shows_each_rollout_where_it_stands(client: TestClient) -> None:
    _start(client)
    sign_in(client)
    page = client.get("/rollouts").text
    row = page.split('data-rollout="new-checkout/production"')[1].split("</tr>")[0]
    assert re.findall(r"<td[^>]*>([^<]*)</td>", row)[:5] == [
        "production",
        "api",
        "running",
        "10%",
        "1 of 3",
    ]


def test_pause_resume_and_roll_back_from_the_page(client: TestClient) -> None:
    _start(client)
    sign_in(client, "editor")
    page = client.get("/rollouts/new-checkout/production").text
    assert re.findall(r"confirm\?action=(\w+)", page) == ["pause", "rollback"]
    assert _do(client, "pause").status_code == 303
    paused = client.get("/rollouts/new-checkout/production").text
    assert '<span class="state-name">paused</span>' in paused
    assert re.findall(r"confirm\?action=(\w+)", paused) == ["resume", "rollback"]
    assert "checking a dashboard" in paused
    assert _do(client, "pause").status_code == 409  # already paused: says so, changes nothing
    assert _do(client, "resume").status_code == 303
    assert _do(client, "rollback").status_code == 303
    done = client.get("/rollouts/new-checkout/production").text
    assert '<span class="state-name">rolled back</span>' in done
    assert "confirm?action" not in done
    events = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", done.split("History")[1])
    assert events == ["started", "paused", "resumed", "rolled back"]
    served = client.app.state.flags.get_flag("new-checkout")  # type: ignore[attr-defined]
    assert served.environments["production"].default.variant == "off"


def test_a_viewer_sees_but_cannot_command(client: TestClient) -> None:
    _start(client)
    sign_in(client, "viewer")
    page = client.get("/rollouts/new-checkout/production").text
    assert "confirm?action" not in page
    assert "an editor token can pause" in page
    refused = client.post("/rollouts/new-checkout/production/pause", data={"csrf": csrf_of(page)})
    assert refused.status_code == 403
    assert client.get("/rollouts/nope/production").status_code == 404


def test_a_rollout_page_shows_its_json_twin(client: TestClient) -> None:
    _start(client)
    sign_in(client)
    page = client.get("/rollouts/new-checkout/production").text
    twin = client.get("/api/rollouts/new-checkout/production").json()  # with the session
    assert f'<span class="state-name">{twin["state"]}</span>' in page
    assert f'<span class="exposure">{twin["percent"]:g}%</span>' in page
    stages = re.findall(r"<li[^>]*>([\d.]+)%</li>", page)
    assert stages == [f"{p:g}" for p in twin["stages"]]
    events = re.findall(r"<tr><td>[^<]*</td><td>([^<]*)</td>", page.split("History")[1])
    assert events == [e["kind"].replace("_", " ") for e in twin["events"]]
