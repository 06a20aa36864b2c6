"""The records behind a figure: paged, sorted and filtered on the server, the same rows as
their JSON twin."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

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
