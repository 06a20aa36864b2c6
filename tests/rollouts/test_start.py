"""Starting a rollout as a person does: its releases count for the flag's own service, a
start with no controller to move it says so, and a start over a split asks for --force."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from headway.api.app import create_app
from headway.cli import app
from headway.config import get_settings
from headway.flags.model import Flag, parse_flag
from headway.rollouts.admission import NO_CONTROLLER_HERE, NO_CONTROLLER_ON_SERVER, owning_service
from headway.rollouts.plan import PlanError
from tests.conftest import authorize

runner = CliRunner()
GUARD = "errors:rate:increase:0%:rollback"
# Two teams: web has two services, money one (its service is named after nothing else).
SERVICES = {"storefront": "web", "checkout": "web", "ledger": "money"}
ORG = [
    {"type": "service", "name": name, "team": team, "context": "customer-facing"}
    for name, team in SERVICES.items()
]


def _flag(owner: str, service: str = "") -> Flag:
    return parse_flag(
        {
            "key": "new-checkout",
            "type": "boolean",
            "owner": owner,
            "service": service,
            "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
            "lifecycle": {"kind": "permanent"},
        }
    )


@pytest.mark.parametrize(
    ("owner", "service", "given", "expected"),
    [
        ("web", "", "checkout", "checkout"),  # named by the person starting it
        ("web", "checkout", "", "checkout"),  # the flag's own service
        ("ledger", "", "", "ledger"),  # the owner is a service
        ("money", "", "", "ledger"),  # the owner is a team of one service
        ("web", "storefront", "checkout", "checkout"),  # the person's word wins
    ],
)
def test_the_owning_service_is_named_or_plain(
    owner: str, service: str, given: str, expected: str
) -> None:
    assert owning_service(_flag(owner, service), given, SERVICES) == expected


@pytest.mark.parametrize(
    ("owner", "service", "given", "says"),
    [
        ("web", "", "", "its owner 'web' is a team of 2 services (checkout, storefront)"),
        ("alice", "", "", "its owner 'alice' is neither a service nor a team"),
        ("web", "", "chekout", "--service 'chekout' is not a service Headway knows"),
        ("web", "basket", "", "flag 'new-checkout''s service 'basket' is not a service"),
    ],
)
def test_a_flag_without_a_plain_service_is_asked_for_one(
    owner: str, service: str, given: str, says: str
) -> None:
    with pytest.raises(PlanError) as refused:
        owning_service(_flag(owner, service), given, SERVICES)
    assert says in str(refused.value)
    if not given and not service:
        assert "--service NAME" in str(refused.value)
        assert "headway flags set new-checkout --service NAME" in str(refused.value)


def test_a_store_with_no_services_yet_takes_the_name_given() -> None:
    assert owning_service(_flag("alice"), "checkout", {}) == "checkout"
    with pytest.raises(PlanError, match="known services: none yet"):
        owning_service(_flag("alice"), "", {})


def _cli(*args: str) -> tuple[int, str]:
    done = runner.invoke(app, list(args))
    return done.exit_code, " ".join(done.output.split())


@pytest.fixture
def org(tmp_path: Path) -> None:
    history = tmp_path / "org.jsonl"
    history.write_text("".join(json.dumps(r) + "\n" for r in ORG))
    assert _cli("import", "jsonl", str(history))[0] == 0
    assert _cli("flags", "create", "new-checkout", "--owner", "web")[0] == 0
    # on in production, serving its control variant to everyone: ready for a rollout
    assert _cli("flags", "set", "new-checkout", "--on", "--default", "off")[0] == 0


def test_rollout_start_asks_for_the_service_then_its_releases_count_there(org: None) -> None:
    # Given a flag owned by team web, which has two services
    code, said = _cli("rollout", "start", "new-checkout", "--guardrail", GUARD)
    # Then the start is refused with exit 2, naming --service, and nothing moved
    assert code == 2
    assert "names no service its releases count for" in said
    assert "--service NAME" in said
    assert _cli("rollout", "status", "new-checkout")[0] == 2
    # When the flag records its service, the rollout starts, and its rollback (a failed
    # release and the rollback that recovered it) is checkout's delivery evidence
    code, said = _cli("flags", "set", "new-checkout", "--service", "checkout")
    assert code == 0, said
    assert "new-checkout belongs to service checkout" in said
    code, said = _cli("rollout", "start", "new-checkout", "--json")
    assert code == 0, said
    assert '"service": "checkout"' in said
    assert _cli("rollout", "rollback", "new-checkout", "--reason", "errors")[0] == 0
    listed = runner.invoke(
        app, ["list", "deployments", "--service", "checkout", "--format", "json"]
    )
    kinds = sorted((d["kind"], d["failed"]) for d in json.loads(listed.output))
    assert kinds == [("release", True), ("rollback", False)]
    # And no service was made up from the flag's key
    code, said = _cli("list", "deployments", "--service", "new-checkout")
    assert code == 2
    assert "no service named 'new-checkout'" in said


def test_a_local_start_says_no_controller_will_move_it(org: None) -> None:
    code, said = _cli("rollout", "start", "new-checkout", "--service", "checkout")
    assert code == 0, said
    assert "running at 1%" in said
    assert f"note: {NO_CONTROLLER_HERE}" in said


def test_a_start_over_a_split_says_what_it_replaces_and_asks_for_force(org: None) -> None:
    # Given production already serves a 10 % split to everyone no rule matches
    assert _cli("flags", "split", "new-checkout", "on=10", "off=90")[0] == 0
    code, said = _cli("rollout", "start", "new-checkout", "--service", "checkout")
    # Then the start is refused, naming the split, what would replace it, and --force
    assert code == 2
    assert "already serves the split on 10%, off 90%, served in production" in said
    assert "would replace it with off 99%, on 1%" in said
    assert "--force" in said
    assert "headway flags set new-checkout --env production --default off" in said
    # When forced, it starts and says what it replaced; the history keeps it too
    code, said = _cli("rollout", "start", "new-checkout", "--service", "checkout", "--force")
    assert code == 0, said
    assert "note: replaced the split on 10%, off 90%, served in production" in said
    code, said = _cli("rollout", "status", "new-checkout")
    assert "replaces the split on 10%, off 90%" in said


@pytest.mark.parametrize(("interval", "controller"), [("0", False), ("5", True)])
def test_a_server_says_when_it_runs_no_controller(
    org: None, monkeypatch: pytest.MonkeyPatch, interval: str, controller: bool
) -> None:
    monkeypatch.setenv("HEADWAY_ROLLOUT_INTERVAL", interval)
    with TestClient(create_app(get_settings())) as client:
        authorize(client, "editor")
        body = {"flag": "new-checkout", "treatment": "on", "control": "off"}
        refused = client.post("/api/rollouts", json=body)
        assert refused.status_code == 422
        assert "--service NAME" in refused.json()["error"]
        started = client.post("/api/rollouts", json={**body, "service": "checkout"})
        assert started.status_code == 201, started.text
        assert started.json()["service"] == "checkout"
        assert started.json()["notes"] == ([] if controller else [NO_CONTROLLER_ON_SERVER])


def test_an_earlier_rollout_is_listed_and_read_by_its_id(org: None) -> None:
    # Given a rollout rolled back, then a second one of the same flag still running
    start = ("rollout", "start", "new-checkout", "--service", "checkout")
    assert _cli(*start)[0] == 0
    assert _cli("rollout", "rollback", "new-checkout", "--reason", "errors")[0] == 0
    assert _cli(*start)[0] == 0
    # Then the list names both, in the order they started, with their states
    listed = json.loads(runner.invoke(app, ["rollout", "list", "--json"]).output)
    assert [(r["state"], r["percent"]) for r in listed] == [("rolled_back", 0), ("running", 1)]
    first, second = (r["id"] for r in listed)
    assert first.startswith("new-checkout:production:")
    assert first != second
    active = json.loads(runner.invoke(app, ["rollout", "list", "--active", "--json"]).output)
    assert [r["id"] for r in active] == [second]
    code, said = _cli("rollout", "list")
    assert code == 0
    assert first in said
    assert "rolled_back" in said
    # And status reads the one in progress, or the one its id names
    now = json.loads(runner.invoke(app, ["rollout", "status", "new-checkout", "--json"]).output)
    assert (now["id"], now["state"]) == (second, "running")
    code, said = _cli("rollout", "status", "new-checkout", "--id", first)
    assert code == 0, said
    assert "new-checkout in production: rolled_back at 0%" in said
    assert "reason: errors" in said
    # An id of another flag, or of nothing, is refused with its name
    code, said = _cli("rollout", "status", "new-checkout", "--id", "nosuch")
    assert code == 2
    assert "no rollout 'nosuch' of 'new-checkout' in production; `headway rollout list`" in said
    code, said = _cli("rollout", "status", "new-checkout", "--env", "staging", "--id", first)
    assert code == 2


def test_an_empty_store_lists_no_rollouts_and_says_how_to_start_one() -> None:
    code, said = _cli("rollout", "list")
    assert code == 0
    assert "no rollouts; start one with `headway rollout start`" in said
