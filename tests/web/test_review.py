"""The monthly review in the app: the JSON twin's questions and findings, notes kept from a
form, and the same exports as `headway review`."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from tests.conftest import authorize
from tests.web.conftest import csrf_of, sign_in


def test_the_page_shows_the_questions_and_findings_of_its_twin(client: TestClient) -> None:
    sign_in(client)
    page = client.get("/review?month=2026-10").text
    authorize(client)
    twin = client.get("/api/review?period=2026-10").json()
    assert 'href="/api/review?period=2026-10"' in page
    shown = [
        html.unescape(q) for q in re.findall(r'<section class="card question">\s*<h3>([^<]*)', page)
    ]
    assert shown == [q["question"] for q in twin["questions"]]
    detectors = re.findall(r'class="card finding" data-detector="([^"]+)"', page)
    assert detectors == [f["detector"] for f in twin["findings"]["findings"]]
    assert "<svg" in page.split('id="h-picture"')[1]  # the flow picture


def test_an_editor_keeps_a_note_and_a_viewer_reads_it(client: TestClient) -> None:
    sign_in(client, "editor")
    page = client.get("/review?month=2026-10&team=core").text
    kept = client.post(
        "/review/notes",
        data={
            "csrf": csrf_of(page),
            "scope": "team:core",
            "period": "2026-10",
            "kind": "note",
            "text": "Agreed: pair on reviews until the queue is under a day",
            "back": "/review?month=2026-10&team=core#notes",
        },
        follow_redirects=False,
    )
    assert kept.status_code == 303
    assert kept.headers["location"] == "/review?month=2026-10&team=core#notes"
    sign_in(client, "viewer")
    again = client.get("/review?month=2026-10&team=core").text
    assert "Agreed: pair on reviews until the queue is under a day" in again
    assert "web-editor" in again
    assert 'action="/review/notes"' not in again  # a viewer gets no form


def test_notes_are_checked_and_exports_download(client: TestClient) -> None:
    sign_in(client, "editor")
    page = client.get("/review?month=2026-10").text
    empty = client.post(
        "/review/notes",
        data={"csrf": csrf_of(page), "scope": "organisation", "period": "2026-10", "text": " "},
    )
    assert empty.status_code == 400
    assert "the note is empty" in empty.text
    unknown = client.post(
        "/review/notes",
        data={"csrf": csrf_of(page), "scope": "team:nope", "period": "2026-10", "text": "x"},
    )
    assert unknown.status_code == 404
    md = client.get("/review/export?month=2026-10&format=md")
    assert (
        md.headers["content-disposition"] == 'attachment; filename="review-organisation-2026-10.md"'
    )
    assert md.text.startswith("# Delivery review · the whole organisation · October 2026")
    assert client.get("/review/export?month=2026-10&format=pdf").status_code == 400
    assert client.get("/review?month=2026-13").status_code == 400
