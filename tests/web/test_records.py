"""The records behind a figure: paged, sorted and filtered on the server, the same rows as
their JSON twin."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from headway import web
from headway.api.app import create_app
from headway.config import Settings
from headway.ingest import ingest
from headway.sources.files import parse_record
from headway.store import open_store
from tests.conftest import authorize
from tests.web.conftest import WINDOW, sign_in


def _ids(page: str) -> list[str]:
    return re.findall(r'data-id="([^"]+)"', page)


def test_the_rows_are_those_of_the_json_twin(client: TestClient) -> None:
    sign_in(client)
    for kind in ("deployments", "changes", "incidents"):
        page = client.get(f"/records/{kind}?{WINDOW}").text
        authorize(client)
        twin = client.get(f"/api/{kind}?{WINDOW}").json()
        del client.headers["Authorization"]
        assert _ids(page) == [r["id"] for r in twin], kind
    assert _ids(client.get(f"/records/deployments?{WINDOW}").text) == ["t:d1", "t:d2", "t:d3"]


def test_a_sorted_filtered_page_links_its_twin(client: TestClient) -> None:
    sign_in(client)  # a signed-in browser reads the twin with its session
    page = client.get(f"/records/deployments?{WINDOW}&q=API&sort=finished_at&dir=desc").text
    twin = html.unescape(re.findall(r'<a href="(/api/deployments[^"]+)">JSON</a>', page)[0])
    assert "q=API" in twin
    assert "dir=desc" in twin
    assert _ids(page) == [r["id"] for r in client.get(twin).json()] == ["t:d2", "t:d1"]
    refused = client.get(f"/api/deployments?{WINDOW}&sort=nope")
    assert refused.status_code == 400
    assert "sort must be one of finished_at" in refused.json()["error"]


def test_pages_follow_one_another(client: TestClient) -> None:
    sign_in(client)
    first = client.get(f"/records/deployments?{WINDOW}&limit=2").text
    assert _ids(first) == ["t:d1", "t:d2"]
    following = html.unescape(re.findall(r'<a rel="next" href="([^"]+)"', first)[0])
    second = client.get(following).text
    assert _ids(second) == ["t:d3"]
    assert 'rel="next"' not in second
    assert 'rel="prev"' in second


def test_sorting_is_done_on_the_server_and_a_header_flips_it(client: TestClient) -> None:
    sign_in(client)
    page = client.get(f"/records/deployments?{WINDOW}&sort=service&dir=desc").text
    assert _ids(page) == ["t:d3", "t:d1", "t:d2"]  # ledger, then api's in time order
    assert 'aria-sort="descending"' in page
    header = page.split('aria-sort="descending"')[1]
    flip = html.unescape(re.findall(r'<a href="([^"]*sort=service[^"]*)"', header)[0])
    assert "dir=" not in flip  # descending flips back to ascending
    assert _ids(client.get(flip).text) == ["t:d1", "t:d2", "t:d3"]


def test_filters_and_search_narrow_the_rows_and_count_them(client: TestClient) -> None:
    sign_in(client)
    found = client.get(f"/records/deployments?{WINDOW}&q=ledger").text
    assert _ids(found) == ["t:d3"]
    assert "Rows 1–1 of 1" in found
    failed = client.get(f"/records/deployments?{WINDOW}&only=failed").text
    assert _ids(failed) == []
    assert "No deployments match." in failed
    shipped = client.get(f"/records/changes?{WINDOW}&only=shipped").text
    assert _ids(shipped) == ["t:c1"]
    assert "4.0 h" in shipped  # opened 06:20, deployed 10:20
    # a deployment links to the changes it shipped
    by_deployment = client.get(f"/records/changes?{WINDOW}&q=t:d1").text
    assert _ids(by_deployment) == ["t:c1"]


SHA = "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
HOSTED: list[dict[str, Any]] = [
    {"type": "service", "name": "shop", "repository": "acme/shop"},
    {
        "type": "deployment",
        "source": "cd",
        "source_id": "s1",
        "service": "shop",
        "environment": "production",
        "finished_at": "2026-10-07T12:00:00Z",
        "status": "success",
        "kind": "deploy",
        "sha": SHA,
    },
    {  # a pull request GitHub sent
        "type": "change",
        "source": "github",
        "source_id": "acme/shop#12",
        "service": "shop",
        "repository": "acme/shop",
        "number": 12,
        "title": "Pay by card",
        "merged_at": "2026-10-07T09:00:00Z",
        "merge_sha": "ffffffffffffffffffffffffffffffffffffffff",
    },
    {  # a commit pushed straight to the main line of the same repository
        "type": "change",
        "source": "git",
        "source_id": f"acme/shop/{SHA}",
        "service": "shop",
        "repository": "acme/shop",
        "title": "Fix typo",
        "merged_at": "2026-10-07T10:00:00Z",
        "merge_sha": SHA,
    },
    {  # imported by git without --host: its number came from a commit message
        "type": "change",
        "source": "git",
        "source_id": "acme/shop/" + "b" * 40,
        "service": "shop",
        "repository": "acme/shop",
        "number": 13,
        "title": "Refund (#13)",
        "merged_at": "2026-10-07T10:30:00Z",
        "merge_sha": "b" * 40,
    },
    {
        "type": "incident",
        "source": "pagerduty",
        "source_id": "Q1",
        "service": "shop",
        "opened_at": "2026-10-07T13:00:00Z",
        "url": "https://acme.pagerduty.com/incidents/Q1",
    },
    {  # an address that is not a plain https one is never linked
        "type": "incident",
        "source": "pagerduty",
        "source_id": "Q2",
        "service": "shop",
        "opened_at": "2026-10-07T14:00:00Z",
        "url": "javascript:alert(1)",
    },
    {  # a repository no host ever sent: nowhere to link to
        "type": "change",
        "source": "git",
        "source_id": "local/tool/0123456789abcdef",
        "service": "shop",
        "repository": "local/tool",
        "title": "Local only",
        "merged_at": "2026-10-07T11:00:00Z",
        "merge_sha": "0123456789abcdef",
    },
]


def _hosted(tmp_path: Path, **configured: Any) -> TestClient:
    settings = Settings(database=str(tmp_path / "hosted.duckdb"), **configured)
    store = open_store(settings)
    ingest(store, settings, (parse_record(r, "t") for r in HOSTED))
    store.close()
    return TestClient(web.install(create_app(settings)))


@pytest.fixture
def hosted(tmp_path: Path) -> Iterator[TestClient]:
    with _hosted(tmp_path) as c:
        yield c


def _sources(page: str) -> dict[str, str]:
    """Row id → the href of its link to the source (opened in a new tab, no referrer)."""
    found = {}
    for rid, body in re.findall(r'<tr id="([^"]+)"[^>]*>(.*?)</tr>', page, re.S):
        links = re.findall(r'<a class="source" href="([^"]+)" ([^>]*)>', body)
        if links:
            assert links[0][1] == 'target="_blank" rel="noopener noreferrer"'
            found[rid] = html.unescape(links[0][0])
    return found


def test_a_record_links_to_its_pull_request_or_commit(hosted: TestClient) -> None:
    sign_in(hosted)
    changes = _sources(hosted.get(f"/records/changes?{WINDOW}").text)
    assert changes == {
        "github:acme/shop#12": "https://github.com/acme/shop/pull/12",
        # a direct commit on a repository GitHub sent requests of lives on GitHub
        f"git:acme/shop/{SHA}": f"https://github.com/acme/shop/commit/{SHA}",
        # the sha is certain, the number may name no request of this repository
        "git:acme/shop/" + "b" * 40: "https://github.com/acme/shop/commit/" + "b" * 40,
    }  # `local/tool` was never seen on a host: its row has no link
    assert "git:local/tool/0123456789abcdef" in _ids(hosted.get(f"/records/changes?{WINDOW}").text)
    deployments = _sources(hosted.get(f"/records/deployments?{WINDOW}").text)
    # deployed by a CD tool; its service's repository is on GitHub
    assert deployments == {"cd:s1": f"https://github.com/acme/shop/commit/{SHA}"}
    incidents = _sources(hosted.get(f"/records/incidents?{WINDOW}").text)
    assert incidents == {"pagerduty:Q1": "https://acme.pagerduty.com/incidents/Q1"}
    authorize(hosted)
    listed = {r["id"]: r["url"] for r in hosted.get(f"/api/changes?{WINDOW}").json()}
    assert listed["git:local/tool/0123456789abcdef"] is None
    assert listed["github:acme/shop#12"] == "https://github.com/acme/shop/pull/12"
    pages = {r["id"]: r["url"] for r in hosted.get(f"/api/incidents?{WINDOW}").json()}
    assert pages == {
        "pagerduty:Q1": "https://acme.pagerduty.com/incidents/Q1",
        "pagerduty:Q2": None,
    }


def test_a_github_enterprise_server_is_linked_at_its_own_address(tmp_path: Path) -> None:
    with _hosted(tmp_path, github_web_url="https://git.example.com") as client:
        sign_in(client)
        changes = _sources(client.get(f"/records/changes?{WINDOW}").text)
        assert changes["github:acme/shop#12"] == "https://git.example.com/acme/shop/pull/12"
