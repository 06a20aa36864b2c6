"""The pulse in the app and over HTTP: a survey link answered once per browser without a
token, refused when unknown (404), closed (410), forged (403), badly filled in (422) or sent
too often (429); people signed in answering for their own teams; `GET /api/pulse` and
`POST /api/pulse/links`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway import web
from headway.api.app import create_app
from headway.config import Settings
from headway.ingest import ingest
from headway.interpret import pulse_links
from headway.sources.files import parse_record
from headway.store import open_store
from tests.web.conftest import RECORDS, csrf_of, login, sign_in, token

GOOD = {"ship_safely": "4", "recover_quickly": "2", "release_process": "5"}


def _link(client: TestClient, team: str = "core", made: datetime | None = None) -> str:
    store = client.app.state.store  # type: ignore[attr-defined]
    now = made or datetime.now(UTC)
    return str(pulse_links.create(store, team, 14, actor="test", now=now)["path"])


def _answers(client: TestClient) -> list[dict[str, Any]]:
    store = client.app.state.store  # type: ignore[attr-defined]
    return store.query_dicts("SELECT * FROM pulse_answers ORDER BY ship_safely")


def _send(client: TestClient, path: str, **fields: str) -> Any:
    """Open the link's page as a browser does, then post its form with `fields`."""
    page = client.get(path)
    assert page.status_code == 200, page.text
    return client.post(path, data={"csrf": csrf_of(page.text), **fields}, follow_redirects=False)


def test_a_link_is_answered_once_per_browser_without_a_token(client: TestClient) -> None:
    path = _link(client)
    # Given the link's page, opened by someone with no Headway session
    page = client.get(path)
    assert page.status_code == 200
    assert "Developer confidence pulse · core" in page.text
    assert page.text.count('type="radio"') == 15  # three questions of five choices
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    # When they answer
    sent = client.post(path, data={"csrf": csrf_of(page.text), **GOOD}, follow_redirects=False)
    assert (sent.status_code, sent.headers["location"]) == (303, path)
    remembered = sent.headers["set-cookie"]
    assert "headway_pulse_done=" in remembered
    assert "HttpOnly" in remembered
    assert "Path=/pulse" in remembered
    # Then the page thanks them, and the answer is kept as its team, month and scores
    assert "Your answer for team <strong>core</strong> is in" in client.get(path).text
    [row] = _answers(client)
    month = f"{datetime.now(UTC):%Y-%m}"
    assert {k: v for k, v in row.items() if k != "id"} == {
        "team": "core", "month": month, "ship_safely": 4, "recover_quickly": 2, "release_process": 5,
    }  # fmt: skip
    # And the same browser sending again is refused, and nothing more is kept
    again = client.post(path, data={"csrf": csrf_of(page.text), **GOOD}, follow_redirects=False)
    assert again.status_code == 409
    assert len(_answers(client)) == 1
    # While another browser (no cookie) may answer
    client.cookies.clear()
    assert _send(client, path, **GOOD).status_code == 303
    assert len(_answers(client)) == 2


def test_an_unknown_link_is_not_found_and_a_closed_one_is_gone(client: TestClient) -> None:
    closed = _link(client, made=datetime.now(UTC) - timedelta(days=15))  # open for 14 days
    unknown = "/pulse/" + "x" * 32
    for path, status, says in [
        (closed, 410, "This survey is closed: this survey link expired on"),
        (unknown, 404, "There is no survey at this address"),
        ("/pulse/%2e%2e", 404, "There is no survey at this address"),
    ]:
        assert (client.get(path).status_code, says in client.get(path).text) == (status, True)
        sent = client.post(path, data=GOOD, follow_redirects=False)
        assert sent.status_code == status
    assert _answers(client) == []


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({**GOOD, "release_process": "7"}, "release_process is &#39;7&#39;: give a whole number from 1 to 5"),
        ({"ship_safely": "3", "release_process": "3"}, "recover_quickly is missing"),
        ({**GOOD, "ship_safely": "-1"}, "ship_safely is &#39;-1&#39;"),
    ],
)  # fmt: skip
def test_bad_scores_are_refused_naming_the_field(
    client: TestClient, fields: dict[str, str], says: str
) -> None:
    sent = _send(client, _link(client), **fields)
    assert sent.status_code == 422
    assert says in sent.text
    assert 'aria-invalid="true"' in sent.text
    assert _answers(client) == []


def test_a_form_without_its_token_is_refused(client: TestClient) -> None:
    path = _link(client)
    client.get(path)
    assert client.post(path, data=GOOD, follow_redirects=False).status_code == 403
    forged = {**GOOD, "csrf": "a.b"}
    assert client.post(path, data=forged, follow_redirects=False).status_code == 403
    assert _answers(client) == []


@pytest.fixture
def limited(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(database=str(tmp_path / "small.duckdb"), pulse_rate_limit="2/minute")
    store = open_store(settings)
    ingest(store, settings, (parse_record(r, "t") for r in RECORDS))
    store.close()
    with TestClient(web.install(create_app(settings))) as c:
        yield c


def test_answers_past_the_address_limit_wait(limited: TestClient) -> None:
    # Given HEADWAY_PULSE_RATE_LIMIT=2/minute: two browsers at one address answer
    for _ in range(2):
        limited.cookies.clear()
        assert _send(limited, _link(limited), **GOOD).status_code == 303
    # Then a third, even through a new link, waits
    limited.cookies.clear()
    held = _send(limited, _link(limited), **GOOD)
    assert held.status_code == 429
    assert 0 < int(held.headers["Retry-After"]) <= 60
    assert "HEADWAY_PULSE_RATE_LIMIT" in held.text
    assert len(_answers(limited)) == 2


def test_people_signed_in_answer_for_their_team_and_read_the_results(client: TestClient) -> None:
    sign_in(client, "viewer")
    page = client.get("/pulse")
    assert page.status_code == 200
    assert re.findall(r'<option value="([^"]+)"', page.text) == ["core", "money"]
    sent = client.post(
        "/pulse", data={"csrf": csrf_of(page.text), "team": "money", **GOOD}, follow_redirects=False
    )
    assert (sent.status_code, sent.headers["location"]) == (303, "/pulse?answered=money")
    # One answer is too few to show
    shown = client.get("/pulse?answered=money").text
    assert "Thank you: your answer for money is in." in shown
    assert "too few answers" in shown
    # The same browser answering for money again this month is refused; core it may answer
    form = {"csrf": csrf_of(page.text), **GOOD}
    assert client.post("/pulse", data={**form, "team": "money"}).status_code == 409
    assert (
        client.post("/pulse", data={**form, "team": "core", "ship_safely": "9"}).status_code == 422
    )
    assert len(_answers(client)) == 1


def test_a_team_scoped_person_answers_for_their_own_team_only(client: TestClient) -> None:
    tokens = client.app.state.tokens  # type: ignore[attr-defined]
    _, secret = tokens.create("viewer", name="core-dev", actor="test", teams=("core",))
    assert login(client, str(secret)).status_code == 303
    page = client.get("/pulse")
    assert re.findall(r'<option value="([^"]+)"', page.text) == ["core"]
    form = {"csrf": csrf_of(page.text), "team": "money", **GOOD}
    assert client.post("/pulse", data=form, follow_redirects=False).status_code == 403
    assert _answers(client) == []


def test_the_api_reads_the_results_and_makes_links(client: TestClient) -> None:
    viewer = {"Authorization": f"Bearer {token(client, 'viewer')}"}
    admin = {"Authorization": f"Bearer {token(client, 'admin')}"}
    made = client.post("/api/pulse/links", json={"team": "core", "days": 7}, headers=admin)
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["url"] == f"http://testserver{link['path']}"
    assert link["path"] == f"/pulse/{link['code']}"
    for _ in range(3):
        client.cookies.clear()
        _send(client, link["path"], **GOOD)
    found = client.get("/api/pulse", params={"team": "core"}, headers=viewer).json()
    [team] = found["teams"]
    assert team["team"] == "core"
    assert team["months"][-1]["answers"] == 3
    assert team["months"][-1]["means"] == {
        "ship_safely": 4.0, "recover_quickly": 2.0, "release_process": 5.0,
    }  # fmt: skip
    # Bad input is refused naming the field
    refused = client.post("/api/pulse/links", json={"team": "core", "days": 0}, headers=admin)
    assert refused.status_code == 422
    assert refused.json()["problems"][0]["field"] == "body.days"
    unknown = client.post("/api/pulse/links", json={"team": "nosuch"}, headers=admin)
    assert unknown.status_code == 404
    assert "no team named 'nosuch'" in unknown.json()["error"]
    assert client.get("/api/pulse", params={"team": "nosuch"}, headers=viewer).status_code == 404
    # Viewers read; only admins make links
    assert client.post("/api/pulse/links", json={"team": "core"}, headers=viewer).status_code == 403
