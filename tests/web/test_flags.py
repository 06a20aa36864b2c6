"""The flag console: a switch goes through a confirmation page and a checked form, is
recorded, and changes what SDKs are served; viewers see but cannot switch."""

from __future__ import annotations

import html
import re
from typing import Any

from fastapi.testclient import TestClient

from tests.conftest import authorize
from tests.web.conftest import csrf_of, sign_in, token

FLAG: dict[str, Any] = {
    "key": "new-checkout",
    "type": "boolean",
    "owner": "team-payments",
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
    "lifecycle": {"kind": "temporary", "expected_removal": "2030-01-01"},
    "environments": {
        "production": {"enabled": True, "off_variant": "off", "default": {"variant": "on"}}
    },
}


def _flag(client: TestClient) -> None:
    client.app.state.flags.create_flag(FLAG, actor="test")  # type: ignore[attr-defined]


def _served(client: TestClient) -> Any:
    """What an SDK in production is served for the flag (its evaluation over OFREP-free API)."""
    authorize(client)
    answer = client.post(
        "/api/flags/new-checkout/explain", json={"context": {"targetingKey": "u1"}}
    )
    del client.headers["Authorization"]
    return answer.json()["variant"]


def test_the_list_shows_each_environment_state(client: TestClient) -> None:
    _flag(client)
    sign_in(client)
    page = client.get("/flags").text
    row = page.split('data-flag="new-checkout"')[1].split("</tr>")[0]
    # a new flag is off in the environments its document leaves out
    assert re.findall(r'data-env="(\w+)"><span class="state (\w+)">', row) == [
        ("development", "off"),
        ("staging", "off"),
        ("production", "on"),
    ]


def test_switching_off_asks_first_then_changes_what_sdks_get(client: TestClient) -> None:
    _flag(client)
    sign_in(client, "editor")
    assert _served(client) == "on"
    page = client.get("/flags/new-checkout").text
    row = page.split('<tr data-env="production">')[1].split("</tr>")[0]
    ask = html.unescape(re.findall(r'href="(/flags/new-checkout/confirm[^"]+)"', row)[0])
    assert ask == "/flags/new-checkout/confirm?action=disable&environment=production"
    confirm = client.get(ask)
    assert "Disable new-checkout in production?" in confirm.text
    assert _served(client) == "on"  # asking changed nothing
    done = client.post(
        "/flags/new-checkout/change",
        data={"csrf": csrf_of(confirm.text), "action": "disable", "environment": "production"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert _served(client) == "off"
    after = client.get("/flags/new-checkout").text
    history = after.split("Recent changes")[1]
    assert "token:web-editor" in history
    # the change reads as the one field that moved
    assert (
        "<code>environments.production.enabled</code>: <del>true</del> → <ins>false</ins>"
        in history
    )
    assert '<span class="state off">off</span>' in after


def test_a_change_without_the_csrf_token_or_by_a_viewer_is_refused(client: TestClient) -> None:
    _flag(client)
    sign_in(client, "viewer")
    page = client.get("/flags/new-checkout").text
    assert "confirm?action" not in page  # a viewer gets no switch
    assert client.get("/flags/new-checkout/confirm?action=kill&environment=").status_code == 403
    viewer = client.post(
        "/flags/new-checkout/change",
        data={"csrf": csrf_of(page), "action": "kill", "environment": ""},
    )
    assert viewer.status_code == 403
    assert "This takes an editor token" in viewer.text
    sign_in(client, "editor")
    forged = client.post(
        "/flags/new-checkout/change", data={"csrf": "x", "action": "kill", "environment": ""}
    )
    assert forged.status_code == 403
    assert _served(client) == "on"


def test_kill_switches_off_every_environment(client: TestClient) -> None:
    _flag(client)
    sign_in(client, "editor")
    confirm = client.get("/flags/new-checkout/confirm?action=kill&environment=")
    assert "in every environment?" in confirm.text
    client.post(
        "/flags/new-checkout/change",
        data={"csrf": csrf_of(confirm.text), "action": "kill", "environment": "", "reason": "500s"},
    )
    assert _served(client) == "off"
    bad = client.post(
        "/flags/new-checkout/change",
        data={"csrf": csrf_of(confirm.text), "action": "enable", "environment": "moon"},
    )
    assert bad.status_code == 400
    assert "has no environment &#39;moon&#39;" in bad.text


def test_the_tester_says_what_a_context_gets_and_why(client: TestClient) -> None:
    _flag(client)
    sign_in(client)
    page = client.get("/flags/new-checkout", params={"context": '{"targetingKey": "u1"}'}).text
    assert '<strong class="variant">on</strong>' in page
    assert '<strong class="reason">DEFAULT</strong>' in page or "reason <strong" in page
    bad = client.get("/flags/new-checkout", params={"context": "[1]"})
    assert bad.status_code == 400
    assert "Context must be a JSON object" in bad.text
    assert 'aria-invalid="true"' in bad.text
    deep = client.get("/flags/new-checkout", params={"context": "[" * 5000})
    assert deep.status_code == 400
    assert "nests too deep" in deep.text


def test_the_list_and_a_flag_page_show_their_json_twins(client: TestClient) -> None:
    _flag(client)
    sign_in(client)
    listed = client.get("/flags").text
    for flag in client.get("/api/flags").json():  # read with the session
        row = listed.split(f'data-flag="{flag["key"]}"')[1].split("</tr>")[0]
        for env, config in flag["environments"].items():
            state = "on" if config["enabled"] else "off"
            assert f'data-env="{env}"><span class="state {state}">' in row, (flag["key"], env)
        assert f"<td>v{flag['version']}</td>" in row
    page = client.get("/flags/new-checkout").text
    twin = client.get("/api/flags/new-checkout").json()
    for env, config in twin["environments"].items():
        row = page.split(f'<tr data-env="{env}">')[1].split("</tr>")[0]
        assert ("state on" in row) is config["enabled"], env
        assert f"<td>{config['off_variant']}</td>" in row
    tested = client.get("/flags/new-checkout", params={"context": '{"targetingKey": "u9"}'}).text
    explained = client.post(
        "/api/flags/new-checkout/explain",
        json={"context": {"targetingKey": "u9"}},
        headers={"Authorization": f"Bearer {token(client)}"},
    ).json()
    assert f'<strong class="variant">{explained["variant"]}</strong>' in tested
    assert f'<strong class="reason">{explained["reason"]}</strong>' in tested
