"""A rollout's page in chromium, as the team watching it reads it: exposures per stage and
arm, each guardrail over time against the judge's boundary, a rollback from the page, and
the failed release and its recovery found again in the delivery records. What the page shows
is compared with its JSON twin; axe finds no serious accessibility violation."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from headway.rollouts.plan import RolloutPlan
from headway.web.format import number
from tests.web.test_browser import Site, _accessible, _sign_in, page, site

__all__ = ["page", "site"]  # the fixtures, shared with tests/web/test_browser.py

pytestmark = pytest.mark.browser

FLAG, ENV = "new-checkout", "production"


def _samples(on_errors: int, off_errors: int) -> list[dict[str, Any]]:
    """200 exposures of each arm and their errors, as an SDK batch sends them."""
    return [
        {"flag": FLAG, "variant": "on", "metric": "$exposures", "n": 200},
        {"flag": FLAG, "variant": "off", "metric": "$exposures", "n": 200},
        {"flag": FLAG, "variant": "on", "metric": "errors", "n": on_errors, "total": on_errors},
        {"flag": FLAG, "variant": "off", "metric": "errors", "n": off_errors, "total": off_errors},
    ]


def test_watch_a_rollout_over_time_and_find_its_release(page: Any, site: Site) -> None:
    rollouts = site.app.state.rollouts
    rollouts.ingest(ENV, [{"flag": FLAG, "variant": "off", "metric": "errors", "n": 1}])
    plan = RolloutPlan.build(
        flag=FLAG,
        environment=ENV,
        treatment="on",
        control="off",
        stages="50,100",
        min_samples=100,
        guardrails=["errors:rate:increase:0%:rollback"],
        service="api",
    )
    rollouts.start(plan, actor="token:ops", force=True)
    for on_errors, off_errors in ((4, 2), (6, 2), (8, 2)):
        rollouts.ingest(ENV, _samples(on_errors, off_errors))
    rollouts.tick()

    _sign_in(page, site, "/rollouts")
    page.get_by_role("link", name=FLAG).click()
    twin = httpx.get(
        f"{site.url}/api/rollouts/{FLAG}/{ENV}", headers={"Authorization": f"Bearer {site.editor}"}
    ).json()

    # Exposures: 3 batches of 200 on each arm, all in the first stage
    cells = page.locator("table.exposures tbody tr").first.locator("th, td").all_inner_texts()
    assert cells[0] == "1"
    assert cells[1] == "50%"
    assert cells[3:] == ["600", "600", "50.0%"]
    assert [twin["exposures"][0][k] for k in ("treatment", "control")] == [600, 600]

    # The guardrail over time: one point per batch, treatment's error rate 4/200, 10/400,
    # 18/600; control's 2/200, 4/400, 6/600
    chart = page.get_by_role("group", name="errors on treatment and control over time")
    tips = chart.locator("circle title").all_text_contents()
    assert [t.split(" at ")[0] for t in tips] == [
        "treatment 2.0%",
        "treatment 2.5%",
        "treatment 3.0%",
        "control 1.0%",
        "control 1.0%",
        "control 1.0%",
    ]
    points = twin["history"][0]["points"]
    assert [p["treatment"] for p in points] == pytest.approx([4 / 200, 10 / 400, 18 / 600])
    # the evidence chart draws the judge's boundary, 1 / alpha = 20, and the latest evidence
    # is the judgement the controller made on the same samples
    evidence = page.get_by_role("group", name="The judge's evidence of harm on errors over time")
    assert evidence.locator("line.boundary").count() == 1
    assert evidence.locator("text", has_text="acts at 20").count() == 1
    (judged,) = [j for j in twin["judgement"] if j["check"] == plan.guardrails[0].spec]
    latest = page.locator("section.guardrail .evidence").inner_text()
    assert latest == number(points[-1]["evidence"]) == number(judged["statistics"]["evidence"])
    page.get_by_text("The numbers behind the charts").click()
    rows = page.locator("table.points tbody tr")
    assert rows.count() == len(points) == 3
    _accessible(page)

    # Roll back from the page: the outcome names the failed release and its recovery
    page.get_by_role("link", name="Roll back").click()
    page.get_by_label("Reason").fill("errors doubled")
    page.get_by_role("button", name="Yes, roll back").click()
    assert page.locator(".state-name").inner_text() == "rolled back"
    delivered = page.locator("table.delivered tbody tr")
    assert delivered.count() == 2
    release = delivered.nth(0).locator("th").inner_text()
    assert release.startswith("headway:rollout/new-checkout:production:")
    assert delivered.nth(0).locator("td").nth(2).inner_text() == "a failed deployment"
    assert delivered.nth(1).locator("td").nth(2).inner_text() == f"the recovery of {release}"
    _accessible(page)

    # ...and both deployments are in the records behind the delivery figures
    page.get_by_role("link", name="These deployments in the records").click()
    listed = page.locator("tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    assert sorted(listed) == [release, f"{release}/rollback"]
    failed = page.locator(f'tr[data-id="{release}"] .failed')
    assert failed.inner_text() == "failed"  # counted in the change fail rate
    _accessible(page)

    # The finished rollout keeps its own address on the list
    page.goto(f"{site.url}/rollouts")
    page.locator("table.rollouts", has_text="Finished").get_by_role("link", name=FLAG).click()
    assert "?id=" in page.url
    assert page.locator(".state-name").inner_text() == "rolled back"
