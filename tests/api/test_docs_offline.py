"""`/docs` and `/redoc` work on a network with no way out: every asset comes from Headway."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from headway.api.app import create_app
from headway.config import Settings

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    app = create_app(Settings(database=str(tmp_path / "docs.duckdb")))
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_reference_pages_load_their_assets_from_headway(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200
    assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html.text)
    assert assets, "the page names its scripts and styles"
    for url in assets:
        assert not url.startswith(("http:", "https:", "//")), f"{page} loads {url} from outside"
        assert client.get(url).status_code == 200, url


@pytest.mark.browser
def test_swagger_ui_renders_with_every_outside_request_blocked(client: TestClient) -> None:
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is missing: run scripts/install-browser.sh")
    from playwright.sync_api import Route, sync_playwright

    outside: list[str] = []

    def answer(route: Route) -> None:
        url = route.request.url
        if not url.startswith("http://headway.test/"):
            outside.append(url)
            route.abort()
            return
        reply = client.get(url.removeprefix("http://headway.test"))
        route.fulfill(status=reply.status_code, headers=dict(reply.headers), body=reply.content)

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page()
        page.route("**/*", answer)
        page.goto("http://headway.test/docs")
        title = page.locator(".swagger-ui .info .title")
        title.wait_for(timeout=15_000)
        assert title.inner_text().startswith("Headway")
        assert page.locator(".opblock-tag").count() > 3  # the routes are listed by tag
        browser.close()
    assert outside == []
