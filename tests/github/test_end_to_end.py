"""The whole loop through a running app and a fake GitHub: install the app, a pull request
adds a flag (created off, one check run), it merges, a deployment to production succeeds, the
release plan every new flag gets rolls the flag out as SDKs report exposures, and the change's
release lead time is in the metrics JSON.

The payloads are GitHub's documented examples (tests/fixtures/github), moved to today so the
metrics window holds them: opened two hours ago, merged one hour ago, deployed 30 minutes ago.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings
from tests.conftest import FIXTURES, authorize
from tests.github.fake_github import State, keyed
from tests.github.test_app import PATCH

REPOSITORY = "Codertocat/Hello-World"


def _payload(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((FIXTURES / "github" / name).read_text())
    return document


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _deliver(http: TestClient, secret: str, event: str, delivery: str, body: Any) -> Any:
    raw = json.dumps(body).encode()
    digest = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    headers = {
        "X-Hub-Signature-256": f"sha256={digest}",
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
    }
    answer = http.post("/hooks/github-app", content=raw, headers=headers)
    assert answer.status_code in (200, 202), answer.text
    return answer.json()


def _until(check: Callable[[], Any], seconds: float = 20.0) -> Any:
    """Poll `check` until it answers something true: the server's loop runs every 0.2 s."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"not reached within {seconds} s")


@pytest.fixture
def fast_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADWAY_ROLLOUT_INTERVAL", "0.2")


def test_install_flag_merge_deploy_release_and_measure(
    engine_settings: Settings, state: State, url: str, fast_loop: None
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    opened_at, merged_at, deployed_at = (now - timedelta(hours=h) for h in (2, 1, 0.5))
    settings = keyed(engine_settings, url)
    state.items = 0  # a new repository: nothing to backfill on installation
    state.pull_files[f"{REPOSITORY}#2"] = [
        {"filename": "shop/checkout.py", "status": "modified", "patch": PATCH}
    ]
    with TestClient(create_app(settings)) as http:
        # Install: the app is made from its manifest, then installed on Codertocat/Hello-World
        authorize(http, "admin")
        started = http.post("/api/github/manifest", json={"url": "https://headway.example.com"})
        made = http.get(
            "/github/app/callback", params={"code": "good-code", "state": started.json()["state"]}
        )
        assert made.status_code == 200, made.text
        secret = state.webhook_secret
        installed = _deliver(
            http, secret, "installation", "d-install", _payload("installation/created.payload.json")
        )
        assert installed["services"] == ["Hello-World"]

        # The lead sets the plan each flag a pull request adds gets: production, 50 % then all
        plan = {"environments": ["production"], "stages": "50,100", "min_duration": "1s"}
        plan["min_samples"] = 20  # type: ignore[assignment]
        assert http.put("/api/release-plans/*", json=plan).status_code == 200

        # A pull request adds `new-checkout`: created off, listed in one check run
        opened = _payload("pull_request/opened.payload.json")
        opened["pull_request"]["created_at"] = opened["pull_request"]["updated_at"] = _iso(
            opened_at
        )
        flagged = _deliver(http, secret, "pull_request", "d-opened", opened)
        assert flagged["created"] == ["new-checkout"]
        (run,) = state.check_runs.values()
        assert "new-checkout" in run["output"]["text"]
        flag = http.get("/api/flags/new-checkout").json()
        assert not flag["environments"]["production"]["enabled"]

        # It merges, and a deployment of its merge commit to production succeeds
        closed = _payload("pull_request/closed.payload.json")
        pull = closed["pull_request"]
        pull.update(merged=True, merged_at=_iso(merged_at), closed_at=_iso(merged_at))
        pull["created_at"] = _iso(opened_at)
        pull["updated_at"] = _iso(merged_at)
        _deliver(http, secret, "pull_request", "d-merged", closed)
        status = _payload("deployment_status/payload.json")
        status["deployment"]["sha"] = pull["merge_commit_sha"]
        status["deployment"]["created_at"] = _iso(deployed_at - timedelta(minutes=2))
        status["deployment_status"]["created_at"] = _iso(deployed_at)  # it finished then
        status["deployment_status"]["updated_at"] = _iso(deployed_at)
        _deliver(http, secret, "deployment_status", "d-deployed", status)

        # The plan adopts the flag and starts rolling it out in production
        def plan_state() -> str | None:
            answer = http.get("/api/release-plans/new-checkout")
            return answer.json()["state"] if answer.status_code == 200 else None

        assert _until(lambda: plan_state() == "rolling")

        # SDKs report exposures of both variants with a server key; the rollout's stages
        # (1 s and 20 exposures each) pass, and the plan is done
        server = _token(http, "server", "production")
        admin = http.headers["Authorization"]
        samples = [
            {"flag": "new-checkout", "variant": v, "metric": "$exposures", "n": 40}
            for v in ("on", "off")
        ]

        def released() -> bool:
            http.headers["Authorization"] = f"Bearer {server}"
            sent = http.post(
                "/api/rollouts/samples", json={"environment": "production", "samples": samples}
            )
            assert sent.status_code == 202, sent.text
            http.headers["Authorization"] = admin
            return plan_state() == "done"

        assert _until(released, seconds=30)
        life = http.get("/api/flags/new-checkout/lifecycle").json()
        released_at = datetime.fromisoformat(life["released_at"])

        # The metrics give the change's release lead time beside the five
        window = {"since": (now - timedelta(days=1)).date().isoformat()}
        metrics = http.get("/api/metrics", params={**window, "service": "Hello-World"}).json()
        release = metrics["release_lead_time"]
        assert (release["changes"], release["flagged"], release["unreleased"]) == (1, 1, 0)
        waited = (released_at - deployed_at).total_seconds()
        assert release["deploy_to_release"]["median_s"] == pytest.approx(waited, abs=0.001)
        lead = metrics["change_lead_time"]["median_s"]
        assert release["median_s"] == pytest.approx(lead + waited, abs=0.01)
        assert waited > 0  # released after the deployment, by the plan's rollout


def _token(http: TestClient, kind: str, environment: str) -> str:
    _, secret = http.app.state.tokens.create(  # type: ignore[attr-defined]
        kind, name=f"{kind}-{environment}", actor="test", environment=environment
    )
    return str(secret)
