"""Webhook throughput: signed deliveries from concurrent clients against `headway serve` on
PostgreSQL, every delivery sent ten times. Checks exactly one stored record per delivery.

    python bench/webhooks.py [--deliveries 4000] [--repeat 10] [--clients 64]

Runs several server configurations in one go and prints one row each: the baseline commits
as soon as a delivery is queued (no batching window); the others collect deliveries for a
few milliseconds per transaction, with one or two uvicorn workers. "deliveries/s" counts
every request answered 2xx (redeliveries included); "unique/s" counts distinct deliveries.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg

PG = os.environ.get("HEADWAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures"
SECRET = "bench-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deliveries(count: int) -> list[tuple[str, bytes]]:
    """(delivery id, full HTTP request) for `count` distinct signed GitHub/PagerDuty deliveries."""
    pr = json.loads((FIXTURES / "github/pull_request/opened.payload.json").read_text())
    status = json.loads((FIXTURES / "github/deployment_status/payload.json").read_text())
    incident = json.loads((FIXTURES / "pagerduty/triggered_v3.json").read_text())
    out = []
    for i in range(count):
        repo = f"acme/service-{i % 20}"
        if i % 3 == 0:
            pr["repository"]["full_name"] = repo
            pr["pull_request"]["number"] = i
            body, path, headers = (
                json.dumps(pr).encode(),
                "/hooks/github",
                {"X-GitHub-Event": "pull_request"},
            )
        elif i % 3 == 1:
            status["repository"]["full_name"] = repo
            status["deployment"]["id"] = i
            body, path, headers = (
                json.dumps(status).encode(),
                "/hooks/github",
                {"X-GitHub-Event": "deployment_status"},
            )
        else:
            incident["event"]["id"] = f"E{i}"
            incident["event"]["data"]["id"] = f"P{i}"
            incident["event"]["data"]["service"]["summary"] = f"service-{i % 20}"
            body, path = json.dumps(incident).encode(), "/hooks/pagerduty"
            headers = {}
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        delivery = str(uuid.uuid4())
        if path == "/hooks/github":
            headers |= {"X-GitHub-Delivery": delivery, "X-Hub-Signature-256": f"sha256={digest}"}
        else:
            headers |= {"X-PagerDuty-Signature": f"v1={digest}"}
            delivery = f"E{i}"
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n"
        ).encode() + body
        out.append((delivery, request))
    return out


async def client(
    port: int, work: list[bytes], latencies: list[float], codes: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in work:
        started = time.perf_counter()
        writer.write(request)
        status = int((await reader.readline()).split()[1])
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        codes[status] = codes.get(status, 0) + 1
    writer.close()


async def burst(
    port: int, requests: list[bytes], clients: int
) -> tuple[float, list[float], dict[int, int]]:
    latencies: list[float] = []
    codes: dict[int, int] = {}
    shares = [requests[i::clients] for i in range(clients)]
    started = time.perf_counter()
    await asyncio.gather(*(client(port, share, latencies, codes) for share in shares))
    return time.perf_counter() - started, latencies, codes


def run(label: str, batch_ms: float, workers: int, args: argparse.Namespace) -> dict[str, object]:
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    try:
        url = f"{PG}?options=-csearch_path%3D{schema}"
        port = free_port()
        env = {
            **os.environ,
            "HEADWAY_DATABASE": url,
            "HEADWAY_GITHUB_WEBHOOK_SECRET": SECRET,
            "HEADWAY_PAGERDUTY_WEBHOOK_SECRET": SECRET,
            "HEADWAY_WEBHOOK_BATCH_MS": str(batch_ms),
        }
        env.pop("HEADWAY_URL", None)
        # Migrate once before workers race to do it.
        subprocess.run(
            [sys.executable, "-c", "from headway.store import open_store; open_store().close()"],
            env=env,
            check=True,
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "headway.cli.serve:create",
                "--factory",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
        )
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            items = deliveries(args.deliveries)
            requests = [request for _, request in items for _ in range(args.repeat)]
            random.Random(7).shuffle(requests)
            elapsed, latencies, codes = asyncio.run(burst(port, requests, args.clients))
        finally:
            server.terminate()
            server.wait(30)
        with psycopg.connect(url) as con:
            stored = con.execute("SELECT count(*), count(DISTINCT id) FROM raw_events").fetchone()
            records = sum(
                con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
                for t in ("changes", "deployments", "incidents")
            )
    finally:  # a failed run leaves nothing behind in the database
        with psycopg.connect(PG, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {schema} CASCADE")
    ok = sum(n for code, n in codes.items() if 200 <= code < 300)
    latencies.sort()
    return {
        "configuration": label,
        "requests": len(requests),
        "2xx": ok,
        "seconds": round(elapsed, 2),
        "deliveries/s": round(ok / elapsed),
        "unique/s": round(args.deliveries / elapsed),
        "p50 ms": round(statistics.median(latencies) * 1000, 1),
        "p99 ms": round(latencies[int(len(latencies) * 0.99)] * 1000, 1),
        "stored once": stored == (args.deliveries, args.deliveries) and records == args.deliveries,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--clients", type=int, default=64)
    args = parser.parse_args()
    configurations = [
        ("baseline: no batching window, 1 worker", 0.0, 1),
        ("group commit 2 ms, 1 worker", 2.0, 1),
        ("group commit 2 ms, 2 workers", 2.0, 2),
    ]
    rows = [run(label, batch_ms, workers, args) for label, batch_ms, workers in configurations]
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))


if __name__ == "__main__":
    main()
