"""The review as a person sees it: rendered by a real headless chromium (Debian's, installed by
scripts/install-browser.sh), laid out without overflow, and saved as a screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from headway.config import Settings
from headway.definitions import PRESETS
from headway.interpret import review
from headway.metrics.scope import Scope
from headway.store import open_store
from tests.interpret.conftest import OCTOBER

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def page_path(sim_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = open_store(Settings(database=str(sim_path)))
    try:
        doc = review.build(store, PRESETS["dora"], Scope(), OCTOBER)
    finally:
        store.close()
    out = tmp_path_factory.mktemp("review")
    [html, *_] = review.write(doc, out)
    return html


def test_review_renders_offline_in_chromium(page_path: Path, tmp_path: Path) -> None:
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is missing: run scripts/install-browser.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        requests: list[str] = []
        errors: list[str] = []
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(page_path.as_uri())
        assert page.title().startswith("Delivery review · the whole organisation · October 2026")
        # offline: the page asks for nothing but itself
        assert requests == [page_path.as_uri()]
        assert errors == []
        # the flow picture is drawn, wide, and its biggest queue is highlighted
        picture = page.locator(".picture svg")
        box = picture.bounding_box()
        assert box is not None
        assert box["width"] > 800
        assert box["height"] > 200
        assert picture.locator("rect[stroke-width='2']").count() == 1
        # every chart and every finding is visible; nothing is wider than the page
        assert page.locator(".charts svg").count() == 7
        assert page.locator(".finding").count() == 7
        assert page.locator(".notes").is_visible()
        overflow = page.evaluate("document.documentElement.scrollWidth > window.innerWidth")
        assert overflow is False
        shot = tmp_path / "review.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 100_000  # a full page, not a blank one
