"""One set of cases (tests/clients/cases.py) through every OpenFeature client a user would pick:
the Python SDK with Headway's provider and with the PyPI OFREP provider, the Node server SDK
with the npm OFREP provider, and the web SDK with the OFREP web provider in chromium, loaded
from a page on another origin. Every client must report the same value, variant, reason and
error code, and the set-up each runs is the snippet docs/sdks.md shows.

The npm packages are installed, pinned by their lockfiles, by scripts/install-clients.sh.
"""

from __future__ import annotations

import functools
import http.server
import importlib.util
import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from openfeature import api
from openfeature.client import OpenFeatureClient
from openfeature.evaluation_context import EvaluationContext

from headway.config import Settings
from tests.clients.cases import CASES, FLAGS, expected
from tests.conftest import free_port
from tests.flags.conftest import Live, start_live, stop_live

ROOT = Path(__file__).parents[2]
CLIENTS = ROOT / "clients"
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    live = start_live(Settings(database=str(tmp_path_factory.mktemp("c") / "c.duckdb")))
    for doc in FLAGS:
        r = httpx.post(f"{live.url}/api/flags", json=doc, headers=live.admin)
        assert r.status_code == 201, r.text
    yield live
    api.shutdown()
    stop_live(live)


def _key(live: Live, kind: str) -> str:
    return live.client_key if kind == "client" else live.server_key


def _compare(results: list[dict[str, Any]], kind: str) -> None:
    got = {
        r["name"]: {k: r[k] for k in ("value", "variant", "reason", "errorCode")} for r in results
    }
    want = {c["name"]: expected(c, kind) for c in CASES}
    assert got == want


def _module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _text(value: Any) -> str | None:
    """An enum member's value, or the string itself (providers return either)."""
    return None if value is None else str(getattr(value, "value", value))


def _run_python(client: OpenFeatureClient) -> list[dict[str, Any]]:
    getters = {
        "boolean": client.get_boolean_details,
        "string": client.get_string_details,
        "number": client.get_float_details,
        "object": client.get_object_details,
    }
    results = []
    for case in CASES:
        context = dict(case["context"])
        ctx = EvaluationContext(context.pop("targetingKey", None), context)
        d = getters[case["type"]](case["flag"], case["default"], ctx)  # type: ignore[operator]
        results.append(
            {
                "name": case["name"],
                "value": d.value,
                "variant": d.variant,
                "reason": _text(d.reason),
                "errorCode": _text(d.error_code),
            }
        )
    return results


def test_python_sdk_with_headways_provider(server: Live) -> None:
    # Headway's provider holds the whole configuration, so it takes a server SDK key
    snippet = _module(CLIENTS / "python" / "headway_flags.py")
    client = snippet.headway_flags(server.url, server.server_key)
    _compare(_run_python(client), "server")


@pytest.mark.parametrize("kind", ["client", "server"])
def test_python_sdk_with_the_ofrep_provider(server: Live, kind: str) -> None:
    snippet = _module(CLIENTS / "python" / "ofrep_flags.py")
    client = snippet.headway_flags(server.url, _key(server, kind))
    _compare(_run_python(client), kind)


def _npm(folder: str) -> Path:
    path = CLIENTS / folder / "node_modules"
    if not path.is_dir():
        pytest.fail(f"{path} is missing: run scripts/install-clients.sh")
    return path


@pytest.mark.parametrize("kind", ["client", "server"])
def test_node_server_sdk_with_the_ofrep_provider(server: Live, kind: str, tmp_path: Path) -> None:
    _npm("node")
    spec = tmp_path / "cases.json"
    spec.write_text(json.dumps({"baseUrl": server.url, "key": _key(server, kind), "cases": CASES}))
    done = subprocess.run(
        ["node", str(CLIENTS / "node" / "conformance.mjs"), str(spec)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    _compare(json.loads(done.stdout), kind)


# --- the browser ---------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def page_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The page, on its own origin (localhost, another port) serving the bundled provider."""
    _npm("web")
    site = tmp_path_factory.mktemp("site")
    # Bundled now, from the pinned packages, so the page runs what the lockfile says
    subprocess.run(
        [
            str(CLIENTS / "web" / "node_modules" / ".bin" / "esbuild"),
            str(CLIENTS / "web" / "conformance.ts"),
            "--bundle",
            "--format=iife",
            "--target=es2020",
            "--log-level=warning",
            f"--outfile={site / 'conformance.js'}",
        ],
        check=True,
        timeout=60,
    )
    (site / "index.html").write_text(
        '<!doctype html><html><head><meta charset="utf-8"><title>shop</title>'
        '<link rel="icon" href="data:,"><script src="conformance.js"></script></head>'
        "<body>shop</body></html>"
    )
    port = free_port()
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", port), functools.partial(_Quiet, directory=str(site))
    )
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{port}"
    httpd.shutdown()
    httpd.server_close()
    thread.join(timeout=5)


@pytest.mark.browser
def test_web_sdk_with_the_ofrep_web_provider_from_another_origin(
    server: Live, page_url: str
) -> None:
    if not shutil.which(CHROMIUM):
        pytest.fail("chromium is missing: run scripts/install-browser.sh")
    from playwright.sync_api import sync_playwright

    # Given the page's origin is allowed in production, and a flag to change while it polls
    r = httpx.put(
        f"{server.url}/api/environments/production/cors-origins",
        json={"origins": [page_url]},
        headers=server.admin,
    )
    assert r.status_code == 200, r.text
    live_flag = {**FLAGS[0], "key": "live-flag"}
    assert httpx.post(f"{server.url}/api/flags", json=live_flag, headers=server.admin).is_success
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(page_url + "/index.html")
            # When the provider starts from the page, then runs every case
            page.evaluate(
                "([url, key]) => window.headway.start(url, key, 500)",
                [server.url, server.client_key],
            )
            results = page.evaluate("(cases) => window.headway.run(cases)", CASES)
            _compare(results, "client")
            # And when a flag is switched off on the server, the provider's polling picks it up
            page.evaluate("() => window.headway.setContext({targetingKey: 'user-1'})")
            assert page.evaluate("() => window.headway.boolean('live-flag', false)") is True
            killed = httpx.post(f"{server.url}/api/flags/live-flag/kill", headers=server.admin)
            assert killed.is_success
            page.wait_for_function(
                "() => window.headway.boolean('live-flag', true) === false", timeout=10_000
            )
            changed = page.evaluate("() => window.headway.changes")
            assert ["live-flag"] in changed
            assert errors == []
        finally:
            browser.close()


def test_the_docs_show_the_snippets_the_tests_run() -> None:
    doc = (ROOT / "docs" / "sdks.md").read_text()
    for snippet in (
        "web/headway.ts",
        "node/headway.mjs",
        "python/ofrep_flags.py",
        "python/headway_flags.py",
    ):
        text = (CLIENTS / snippet).read_text()
        assert f"\n{text}```" in doc, f"docs/sdks.md does not show clients/{snippet} as it is"
