"""The flow page: each stage's bar says the numbers of its JSON twin and opens the changes.

In the small organisation one change was opened 06:20, merged 08:20 and shipped 10:20 on
5 October: lead time 4 h, of which the deploy wait (merged to deployed) is 2 h, 50.0%. One
change is too few for a median, so the medians are withheld (a dash), not zero.
"""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from tests.conftest import authorize
from tests.web.conftest import WINDOW, sign_in


def test_each_bar_says_what_the_json_twin_says(client: TestClient) -> None:
    sign_in(client)
    page = client.get(f"/flow?{WINDOW}").text
    authorize(client)
    twin = client.get(f"/api/flow?{WINDOW}").json()
    shipped = page.split('id="h-shipped"')[1].split("</svg>")[0]
    tips = re.findall(r"<title>([^<]*)</title>", shipped)
    assert len(tips) == len(twin["stages"]) == 6
    for tip, stage in zip(tips, twin["stages"], strict=True):
        assert tip.startswith(f"{stage['label']}: median ")
        assert f"over {stage['n']} changes" in tip
    assert tips[-1] == "deploy wait: median –, p75 –, p90 – over 1 changes; 50.0% of lead time"
    assert twin["longest_wait"] == "deploy_wait"
    assert '<strong class="longest">deploy wait</strong>' in page


def test_a_bar_opens_the_changes_behind_it(client: TestClient) -> None:
    sign_in(client)
    page = client.get(f"/flow?{WINDOW}").text
    shipped = page.split('id="h-shipped"')[1].split("</svg>")[0]
    href = html.unescape(re.findall(r'<a href="([^"]+)"', shipped)[-1])
    assert href.startswith("/records/changes?since=2026-10-05&until=2026-10-25&only=shipped")
    assert re.findall(r'data-id="([^"]+)"', client.get(href).text) == ["t:c1"]


def test_flow_takes_the_same_view_as_the_overview(client: TestClient) -> None:
    sign_in(client)
    assert client.get(f"/flow?team=nope&{WINDOW}").status_code == 404
    assert client.get("/flow?since=soon").status_code == 400
    assert "Where work waits in team core" in client.get(f"/flow?team=core&{WINDOW}").text
