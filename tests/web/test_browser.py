"""The web app as a person uses it, in Debian's chromium (scripts/install-browser.sh): sign in,
drill down, open the records behind a figure, switch a flag off and watch an SDK follow, add
a targeting rule after its diff and watch the evaluation tester follow; axe
finds no serious or critical accessibility violation on any page; the page asks for nothing
outside the server."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from headway import web
from headway.api.app import create_app
from headway.config import Settings
from headway.ingest import ingest
from headway.sdk.client import Client
from headway.sources.files import parse_record
from headway.store import open_store
from tests.conftest import free_port
from tests.web.conftest import RECORDS, WINDOW
from tests.web.test_flags import FLAG

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.browser


@dataclass
class Site:
    url: str
    app: Any
    editor: str
    server_key: str


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    settings = Settings(database=str(tmp_path / "site.duckdb"))
    store = open_store(settings)
    ingest(store, settings, (parse_record(r, "t") for r in RECORDS))
    store.close()
    app = web.install(create_app(settings))
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    server.config.timeout_graceful_shutdown = 1
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "uvicorn stopped"
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    app.state.flags.create_flag(FLAG, actor="test")
    _, editor = app.state.tokens.create("editor", name="ana", actor="test")
    _, key = app.state.tokens.create("server", name="shop", actor="test", environment="production")
    yield Site(f"http://127.0.0.1:{port}", app, editor, key)
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def page(site: Site) -> Iterator[Any]:
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is missing: run scripts/install-browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        outside: list[str] = []
        errors: list[str] = []
        tab.on("request", lambda r: None if r.url.startswith(site.url) else outside.append(r.url))
        tab.on("console", lambda m: errors.append(m.text) if _error(m) else None)
        yield tab
        browser.close()
        assert outside == []  # nothing from a CDN or anywhere else
        assert errors == []  # no CSP refusal, no missing favicon


# A form refused with its problems is answered 422, which chromium logs as a failed load.
REFUSED_FORM = "the server responded with a status of 422"


def _error(message: Any) -> bool:
    return bool(message.type == "error" and REFUSED_FORM not in message.text)


def _accessible(page: Any) -> None:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"


def _sign_in(page: Any, site: Site, path: str = "/") -> None:
    page.goto(site.url + path)
    assert page.url.startswith(f"{site.url}/login")
    _accessible(page)
    page.get_by_label("Token").fill(site.editor)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(site.url + path)


def test_drill_down_and_open_the_records_of_a_figure(page: Any, site: Site) -> None:
    _sign_in(page, site, f"/?{WINDOW}")
    _accessible(page)
    metrics = httpx.get(
        f"{site.url}/api/metrics?{WINDOW}", headers={"Authorization": f"Bearer {site.editor}"}
    ).json()
    # the figure shown is the JSON twin's
    card = page.locator('[data-metric="deployment_frequency"]')
    assert card.locator(".value").inner_text() == "1 per week"
    assert card.locator(".count .n").inner_text() == str(
        metrics["deployment_frequency"]["deployments"]
    )
    # hover shows the numbers; the empty week is a gap
    assert card.locator("a.gap title").text_content() == "week of 2026-10-12: no deployments"
    # drill down: context internal, then team core, then service api
    page.get_by_role("link", name="internal", exact=True).click()
    assert page.locator("h1").inner_text() == "Delivery of internal"
    page.get_by_role("link", name="core", exact=True).click()
    page.get_by_role("link", name="api", exact=True).click()
    assert page.locator("h1").inner_text() == "Delivery of api"
    assert "service=api" in page.url
    assert "since=2026-10-05" in page.url
    _accessible(page)
    # every number opens its records: the change behind the lead time
    page.locator('[data-metric="change_lead_time"] .value').click()
    assert page.locator("h1").inner_text() == "Changes of service api"
    assert page.locator("tbody tr").count() == 1
    assert page.locator("tbody tr td").nth(6).inner_text() == "4.0 h"
    _accessible(page)
    # flow: the deploy wait's bar opens the changes shipped
    page.goto(f"{site.url}/flow?{WINDOW}")
    _accessible(page)
    bar = page.locator("#h-shipped ~ svg a.bar").last
    assert bar.locator("title").text_content() == (
        "deploy wait: median –, p75 –, p90 – over 1 changes; 50.0% of lead time"
    )
    bar.click()
    assert page.locator("tbody tr").count() == 1
    page.goto(f"{site.url}/review?month=2026-10")
    _accessible(page)
    page.goto(f"{site.url}/definitions?{WINDOW}")
    _accessible(page)
    page.goto(f"{site.url}/records/deployments?{WINDOW}&limit=2")
    assert page.locator("tbody tr").count() == 2
    page.get_by_role("link", name="Next 2").click()
    assert page.locator("tbody tr").count() == 1
    _accessible(page)


def test_switch_a_flag_off_and_the_sdk_follows(page: Any, site: Site) -> None:
    sdk = Client(site.url, site.server_key, flush_interval=60)
    try:
        assert sdk.wait_until_ready(10)
        assert sdk.boolean("new-checkout", False, {"targetingKey": "u1"}) is True
        _sign_in(page, site, "/flags")
        _accessible(page)
        page.get_by_role("link", name="new-checkout").click()
        _accessible(page)
        page.get_by_role("button", name="Evaluate").click()
        assert page.locator(".result .variant").inner_text() == "on"
        page.get_by_role("link", name="Switch off in production").click()
        _accessible(page)
        page.get_by_role("button", name="Yes, disable").click()
        assert page.url == f"{site.url}/flags/new-checkout"
        assert page.locator('tr[data-env="production"] .state').inner_text() == "off"
        deadline = time.monotonic() + 10
        while (
            sdk.boolean("new-checkout", False, {"targetingKey": "u1"})
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert sdk.boolean("new-checkout", False, {"targetingKey": "u1"}) is False
        page.get_by_role("button", name="Evaluate").click()
        assert page.locator(".result .variant").inner_text() == "off"
    finally:
        sdk.close()


def test_target_a_rule_and_the_tester_follows(page: Any, site: Site) -> None:
    _sign_in(page, site, "/flags/new-checkout")
    page.get_by_role("link", name="Edit targeting in production").click()
    assert page.locator("h1").inner_text() == "Targeting of new-checkout in production"
    _accessible(page)
    page.get_by_role("button", name="Add a rule").click()
    rule = page.locator('fieldset[data-rule="rule-1"]')
    rule.get_by_label("Attribute, condition 1 of rule 1").fill("country")
    rule.get_by_label("Operator, condition 1 of rule 1").select_option("in")
    rule.get_by_label("Value, condition 1 of rule 1").fill("NL, BE")
    rule.get_by_label("Variant, Then serve").select_option("on")
    page.get_by_label("Variant, Otherwise (no rule matches), serve").select_option("off")
    # a split that does not make 100 first: refused beside its field, nothing lost
    page.get_by_label("on", exact=True).last.fill("60")
    assert page.locator("#f-default\\.kind-split").is_checked()  # app.js picked the split
    page.get_by_role("button", name="Review changes").click()
    assert page.locator('[id="e-default.split"]').inner_text() == (
        "weights sum to 60 %; they must sum to 100 %"
    )
    assert rule.get_by_label("Value, condition 1 of rule 1").input_value() == "NL, BE"
    _accessible(page)
    page.get_by_label("Variant, Otherwise (no rule matches), serve").select_option("off")
    assert page.locator("#f-default\\.kind-variant").is_checked()
    page.get_by_role("button", name="Review changes").click()
    assert page.locator("h1").inner_text() == "Save the targeting of new-checkout in production?"
    assert page.locator(".after li").first.inner_text() == "Rule 1: country in NL, BE → on"
    _accessible(page)
    page.get_by_label("Comment").fill("Benelux first")
    page.get_by_role("button", name="Yes, save").click()
    page.wait_for_url(f"{site.url}/flags/new-checkout#targeting-production")
    for country, variant, reason in (("NL", "on", "TARGETING_MATCH"), ("US", "off", "DEFAULT")):
        page.get_by_label("Environment").select_option("production")
        page.get_by_label("Context (JSON)").fill(
            f'{{"targetingKey": "u1", "country": "{country}"}}'
        )
        page.get_by_role("button", name="Evaluate").click()
        assert page.locator(".result .variant").inner_text() == variant
        assert page.locator(".result .reason").inner_text() == reason
    page.get_by_role("link", name="Segments", exact=True).click()
    _accessible(page)
    page.get_by_role("link", name="New segment").click()
    page.get_by_role("button", name="Add a condition").click()
    page.get_by_label("Key", exact=True).fill("beta testers")
    page.get_by_role("button", name="Review changes").click()
    assert "write a key" in page.locator('[id="e-key"]').inner_text()
    _accessible(page)


def test_an_admin_makes_and_revokes_a_token(page: Any, site: Site) -> None:
    _, admin = site.app.state.tokens.create("admin", name="root", actor="test")
    page.goto(f"{site.url}/tokens")
    page.get_by_label("Token").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/tokens")
    _accessible(page)
    page.get_by_label("Name").fill("bo")
    page.get_by_role("button", name="Make token").click()
    assert page.locator("code.secret").inner_text().startswith("hwv_")
    _accessible(page)
    page.get_by_role("link", name="Revoke bo").click()
    _accessible(page)
    page.get_by_role("button", name="Yes, revoke").click()
    assert page.locator('tr:has(th:text-is("bo")) td').nth(5).inner_text().startswith("revoked")


def test_pause_a_rollout(page: Any, site: Site) -> None:
    from headway.rollouts.plan import RolloutPlan

    rollouts = site.app.state.rollouts
    sample = {"flag": "new-checkout", "variant": "off", "metric": "errors", "n": 10, "total": 0}
    rollouts.ingest("production", [sample])
    plan = RolloutPlan.build(
        flag="new-checkout",
        environment="production",
        treatment="on",
        control="off",
        stages="10,50,100",
        guardrails=["errors:rate:increase:0%:rollback"],
        service="api",
    )
    rollouts.start(plan, actor="token:ops", force=True)  # over the `on` the flag serves
    _sign_in(page, site, "/rollouts")
    _accessible(page)
    page.get_by_role("link", name="new-checkout").click()
    assert page.locator(".state-name").inner_text() == "running"
    _accessible(page)
    page.get_by_role("link", name="Pause").click()
    _accessible(page)
    page.get_by_label("Reason").fill("watching the error budget")
    page.get_by_role("button", name="Yes, pause").click()
    assert page.locator(".state-name").inner_text() == "paused"
    assert page.locator(".warning").inner_text() == "watching the error budget"


# Every text of the review's flow picture, with its box on the page.
_FLOW_TEXTS = """() => [...document.querySelectorAll('svg[aria-label^="Delivery flow"] text')]
    .map(t => { const r = t.getBoundingClientRect();
                return [t.textContent, r.left, r.top, r.right, r.bottom]; })"""


def test_the_flow_picture_labels_never_overlap(page: Any, tmp_path: Path) -> None:
    from datetime import datetime

    from headway import definitions as defs
    from headway.interpret import review
    from headway.metrics.scope import Period, Scope
    from headway.simulate import Options, generate

    # Given the simulated organisation, whose stages range from 2% to 66% of lead time, so
    # several boxes are at their narrowest side by side (web's and messaging's approval wait
    # and merge wait: their one-line labels overlapped)
    settings = Settings(database=str(tmp_path / "org.duckdb"))
    store = open_store(settings)
    ingest(store, settings, (parse_record(r, "sim") for r in generate(Options(seed=1))))
    october = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))
    teams = ("web", "messaging", "payments", "growth")
    for scope in (Scope(), *(Scope("team", team) for team in teams)):
        doc = review.build(store, defs.active(store), scope, october)
        page.set_content(review.render_html(doc))
        boxes = page.evaluate(_FLOW_TEXTS)
        assert len(boxes) > 12
        # Then no two labels' boxes meet, as chromium lays them out
        overlapping = [
            (a[0], b[0])
            for i, a in enumerate(boxes)
            for b in boxes[i + 1 :]
            if a[1] < b[3] and b[1] < a[3] and a[2] < b[4] and b[2] < a[4]
        ]
        assert overlapping == [], scope
    store.close()
