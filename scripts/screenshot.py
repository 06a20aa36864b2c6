"""Take the README's picture of the web overview: `headway demo` in a temporary folder, the app
served from its store, signed in as a viewer, the organisation's overview captured whole.

    python scripts/screenshot.py [--out docs/web-overview.png]

Needs Debian's chromium (scripts/install-browser.sh). The demo's figures depend on its seed,
not on the day, so the picture changes only when the overview does (its dates are the day's).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import uvicorn
from playwright.sync_api import sync_playwright

from headway import web
from headway.api.app import create_app
from headway.config import Settings

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/web-overview.png"))
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="headway-shot-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEADWAY_")}
    subprocess.run([sys.executable, "-m", "headway", "demo"], cwd=folder, env=env, check=True)
    app = web.install(create_app(Settings(database=str(folder / ".headway" / "demo.duckdb"))))
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    _, secret = app.state.tokens.create("viewer", name="ana", actor="screenshot")
    url = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url + "/")
            page.get_by_label("Token").fill(secret)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(url + "/")
            page.screenshot(path=str(args.out), full_page=True)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
