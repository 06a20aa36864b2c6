"""Two definitions side by side: the numbers and differing rules of the JSON twin."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from tests.web.conftest import WINDOW, sign_in


def test_the_comparison_shows_what_its_twin_says(client: TestClient) -> None:
    sign_in(client)
    page = client.get(f"/definitions?{WINDOW}&a=dora&b=fourkeys").text
    twin_link = html.unescape(re.findall(r'href="(/api/definitions/diff[^"]+)"', page)[0])
    twin = client.get(twin_link).json()
    assert twin["a"]["name"] == "dora"
    assert twin["b"]["name"] == "fourkeys"
    shown = re.findall(r'<tr data-number="([^"]+)">', page)
    assert shown == [n["number"] for n in twin["numbers"]]
    rules = re.findall(r'<th scope="row"><code>([^<]+)</code></th>', page)
    assert rules == [r["rule"] for r in twin["rules"]]
    # the one shipped change: 4 h from opening under dora (no first commit recorded)
    row = page.split('<tr data-number="lead time median (s)">')[1].split("</tr>")[0]
    assert re.findall(r"<td>([^<]*)</td>", row)[0] == "14,400"


def test_an_unknown_definition_is_a_404_naming_it(client: TestClient) -> None:
    sign_in(client)
    answer = client.get("/definitions?b=nope")
    assert answer.status_code == 404
    assert "nope" in answer.text
