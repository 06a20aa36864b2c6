"""How long the web app's pages take on a simulated organisation (default 500 services, as
`headway demo --services 500` makes): each page fetched in process through the app, three
times, best and median reported beside the JSON twin's time for the same view, each page
marked where its median misses the goal of 1 s. The machine's load average is printed
before and after: on a shared machine, read the figures against it.

    python bench/web_pages.py [--services 500] [--database PATH] [--runs 3]

A database already holding the simulation is reused (pass the same --database again).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from headway import web
from headway.api.app import create_app
from headway.config import Settings
from headway.ingest import ingest
from headway.simulate import Options, generate
from headway.sources.files import parse_record
from headway.store import open_store

PAGES = [
    ("overview, organisation", "/", "/api/metrics?by=week"),
    (
        "overview, drill table",
        "/?context=customer-facing",
        "/api/metrics?each=team&context=customer-facing",
    ),
    ("overview, one team", "/?team=web", "/api/metrics?team=web&by=week"),
    ("deployments, first page", "/records/deployments", "/api/deployments?limit=50"),
    ("deployments, failed only", "/records/deployments?only=failed", None),
    ("changes, by lead time", "/records/changes?sort=lead_time_s&dir=desc", None),
    ("flow, organisation", "/flow", "/api/flow"),
    ("flags", "/flags", "/api/flags"),
]


GOAL_S = 1.0


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def _best(client: TestClient, url: str, runs: int = 3) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        answer = client.get(url)
        times.append(time.perf_counter() - start)
        assert answer.status_code == 200, (url, answer.status_code, answer.text[-300:])
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--database", type=Path)
    parser.add_argument("--runs", type=int, default=3, help="fetches of each page")
    args = parser.parse_args()
    path = args.database or Path(tempfile.mkdtemp()) / "web.duckdb"
    settings = Settings(database=str(path))
    if not path.exists():
        start = time.perf_counter()
        store = open_store(settings)
        records = generate(Options(seed=7, services=args.services))
        ingest(store, settings, (parse_record(r, "simulator") for r in records))
        store.close()
        print(f"simulated {args.services} services in {time.perf_counter() - start:.0f} s: {path}")
    app = web.install(create_app(settings))
    with TestClient(app) as client:
        _, secret = app.state.tokens.create("viewer", name="bench", actor="bench")
        form = client.get("/login").text
        csrf = form.split('name="csrf" value="')[1].split('"')[0]
        client.post("/login", data={"token": secret, "csrf": csrf})
        print(f"before: {_load()}")
        print("| page | best s | median s | JSON twin best s | goal 1 s |")
        print("|---|---:|---:|---:|---|")
        missed = []
        for name, page, twin in PAGES:
            best, median = _best(client, page, args.runs)
            twin_best = "–"
            if twin:
                client.headers["Authorization"] = f"Bearer {secret}"
                twin_best = f"{_best(client, twin, args.runs)[0]:.2f}"
                del client.headers["Authorization"]
            met = "met" if median < GOAL_S else "**missed**"
            if median >= GOAL_S:
                missed.append(name)
            print(
                f"| {name} `{page}` | {best:.2f} | {median:.2f} | {twin_best} | {met} |",
                flush=True,
            )
        print(f"after: {_load()}")
        print(f"over {GOAL_S:.0f} s (median): {', '.join(missed) if missed else 'none'}")


if __name__ == "__main__":
    main()
