"""The delivery overview shows the numbers of its JSON twin, with gaps for empty weeks and
links that drill down and open the records behind each figure.

The small organisation (tests/web/conftest.py) over 5–25 October 2026 (21 days):
- deployment frequency: 3 deployments in 3 weeks = 1 per week; by week 2, 0 (a gap), 1.
- change lead time: one change opened 06:20, shipped by the deployment finished 10:20 on
  5 October: 4 h (the dora preset starts at the first commit, else at opening).
- change fail rate: 0 failed of 3 = 0.0%.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from fastapi.testclient import TestClient

from headway import web
from headway.api.app import create_app
from headway.config import Settings
from headway.metrics.results import MetricSetResult
from headway.web.format import figure
from headway.web.overview import FIGURES
from tests.conftest import authorize
from tests.web.conftest import WINDOW, sign_in


def _cards(page: str) -> dict[str, tuple[str, int]]:
    """Each card's displayed value and record count, by metric."""
    found = re.findall(
        r'<section class="card" data-metric="(\w+)".*?class="value">([^<]*)</a>.*?'
        r'<span class="n">(\d+)</span>',
        page,
        re.S,
    )
    return {key: (html.unescape(value), int(n)) for key, value, n in found}


def test_the_cards_show_the_hand_worked_numbers(client: TestClient) -> None:
    sign_in(client)
    page = client.get(f"/?{WINDOW}").text
    cards = _cards(page)
    assert cards["deployment_frequency"] == ("1 per week", 3)
    assert cards["change_lead_time"] == ("4.0 h", 1)
    assert cards["change_fail_rate"] == ("0.0%", 3)
    # no failure: no recovery to measure, said in words, never 0
    assert cards["failed_deployment_recovery_time"] == ("no data", 0)
    assert "no failed deployment in the period, so nothing to recover from" in page
    assert cards["deployment_rework_rate"] == ("0.0%", 3)
    # 3 deployments are too few to rate any figure
    assert "level-too-few-to-rate" in page
    assert "level-high" not in page


def test_the_cards_stand_under_their_factor(client: TestClient) -> None:
    # DORA's two factors, throughput first, each card under its own, and the report the
    # levels come from named above them
    sign_in(client)
    page = client.get(f"/?{WINDOW}").text
    sections = re.findall(
        r'<section class="factor" aria-labelledby="f-(\w+)">(.*?)</div>\n</section>', page, re.S
    )
    assert [(factor, re.findall(r'data-metric="(\w+)"', body)) for factor, body in sections] == [
        (
            "throughput",
            ["change_lead_time", "deployment_frequency", "failed_deployment_recovery_time"],
        ),
        ("instability", ["change_fail_rate", "deployment_rework_rate"]),
    ]
    assert "levels from DORA, Accelerate State of DevOps Report 2024: performance clusters" in page


def test_the_cards_show_what_the_json_twin_says(client: TestClient) -> None:
    sign_in(client)
    page = client.get(f"/?{WINDOW}&by=month&levels=2023").text
    authorize(client)  # the API takes a bearer token
    twin = client.get(f"/api/metrics?{WINDOW}&by=month&levels=2023").json()
    cards = _cards(page)
    for fig in FIGURES:
        value, count = fig.read(MetricSetResult.model_validate(twin))
        shown = "no data" if value is None else figure(value, fig.unit)
        assert cards[fig.key] == (shown, count), fig.key
        level = twin[fig.key].get("level")
        if level:
            assert f"level-{level}" in page
    # release lead time stands beside the five, as the twin gives it: the one shipped change
    # (4.0 h, unflagged, so released at its deployment)
    release = twin["release_lead_time"]
    assert (release["changes"], release["flagged"], release["median_s"]) == (1, 0, 4 * 3600)
    assert cards["release_lead_time"] == ("4.0 h", 1)
    assert "0 behind a flag, 0 not yet released" in page
    # and the JSON link on the page is that twin
    assert (
        'href="/api/metrics?since=2026-10-05&amp;until=2026-10-25&amp;by=month&amp;levels=2023"'
        in page
    )


def test_an_empty_week_is_a_gap_not_a_zero(client: TestClient) -> None:
    sign_in(client)
    page = client.get(f"/?{WINDOW}").text
    assert 'href="/api/metrics?since=2026-10-05&amp;until=2026-10-25&amp;by=week"' in page
    chart = page.split('data-metric="deployment_frequency"')[1].split("</svg>")[0]
    tips = re.findall(r'class="(point|gap)"><title>([^<]*)</title>', chart)
    assert tips == [
        ("point", "week of 2026-10-05: 2 per week from 2 deployments"),
        ("gap", "week of 2026-10-12: no deployments"),
        ("point", "week of 2026-10-19: 1 per week from 1 deployments"),
    ]
    # the line is broken at the gap: two runs of one point draw no path
    assert "<path" not in chart


def test_a_point_opens_the_records_of_its_week(client: TestClient) -> None:
    sign_in(client)
    page = client.get(f"/?{WINDOW}").text
    chart = page.split('data-metric="deployment_frequency"')[1].split("</svg>")[0]
    first = html.unescape(re.findall(r'<a href="([^"]+)" aria-label="week of 2026-10-05', chart)[0])
    assert (
        first
        == "/records/deployments?since=2026-10-05T00%3A00%3A00Z&until=2026-10-12T00%3A00%3A00Z"
    )
    rows = client.get(first).text
    assert re.findall(r'data-id="([^"]+)"', rows) == ["t:d1", "t:d2"]


def test_drilling_down_goes_context_then_team_then_service(client: TestClient) -> None:
    sign_in(client)
    top = client.get(f"/?{WINDOW}").text
    assert re.findall(r'<tr data-name="([^"]+)">', top) == ["internal", "regulated"]
    context = html.unescape(re.findall(r'href="([^"]*context=internal[^"]*)"', top)[0])
    assert context == "/?context=internal&since=2026-10-05&until=2026-10-25"
    middle = client.get(context).text
    assert "Delivery of internal" in middle
    assert re.findall(r'<tr data-name="([^"]+)">', middle) == ["core"]
    team = client.get(f"/?team=core&{WINDOW}").text
    assert re.findall(r'<tr data-name="([^"]+)">', team) == ["api"]
    # the breadcrumb leads back up through the team's one context
    assert (
        'href="/?context=internal&amp;since=2026-10-05&amp;until=2026-10-25">context internal'
        in team
    )
    service = client.get(f"/?service=api&{WINDOW}").text
    assert _cards(service)["deployment_frequency"] == ("0.67 per week", 2)  # 2 in 21 days
    assert 'class="children"' not in service  # a service is the bottom


def test_an_empty_store_says_how_to_fill_it(tmp_path: Path) -> None:
    app = web.install(create_app(Settings(database=str(tmp_path / "empty.duckdb"))))
    with TestClient(app) as client:
        sign_in(client)
        page = client.get("/")
        assert page.status_code == 200
        assert "No services yet." in page.text
        assert _cards(page.text)["deployment_frequency"] == ("no data", 0)


def test_the_2025_view_stands_beside_the_levels(client: TestClient) -> None:
    """3 deployments in 3 weeks: 1 per week is "between once per day and once per week" (4);
    a 4 h lead time is "less than one day" (5); no failure, so no recovery time to answer:
    throughput (4 + 5) / 2 = 4.50 of 6. Nothing failed or was reworked: instability 0.0%.
    Three deployments are too few to place the scope among the report's profiles."""
    sign_in(client)
    page = client.get(f"/?{WINDOW}").text
    authorize(client)
    twin = client.get(f"/api/metrics?{WINDOW}").json()["profile"]
    section = page.split("data-profile>", 1)[1].split("</section>\n</div>", 1)[0]
    values = [html.unescape(v) for v in re.findall(r'class="value">([^<]*)</span>', section)]
    assert values == ["4.50 of 6", "0.0%"]
    assert twin["throughput"]["score"] == 4.5
    assert twin["instability"]["score"] == 0.0
    assert (
        re.findall(r'data-metric="(\w+)"', section)
        == [a["metric"] for a in twin["throughput"]["answers"]]
        == ["change_lead_time", "deployment_frequency"]
    )
    assert "between once per day and once per week (4)" in section
    assert twin["reason"] == "too few to place: 3 counted deployments; a profile needs at least 10"
    assert twin["reason"] in section
    assert 'class="side"' not in section  # not placed, so neither high nor low
