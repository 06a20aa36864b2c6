"""Webhook ingest against its floor: distinct signed deliveries stored per second on PostgreSQL.

    python bench/webhooks.py [--deliveries 3000] [--clients 64] [--runs 1] [--workers 1 2]

For each worker count, two servers are started the same way (`python -m uvicorn … --factory
--workers N`), each on a fresh PostgreSQL schema dropped afterwards:

- Headway: `headway.cli.serve:create`, with its defaults (group commit, 2 ms window);
- the floor: `bench/webhook_floor.py`, the same uvicorn + FastAPI stack whose endpoint checks
  the same HMAC signatures and does one `INSERT … ON CONFLICT DO NOTHING` of the raw body per
  request through a psycopg pool, nothing else.

Both get the same work from `--clients` concurrent keep-alive connections on loopback (raw
HTTP/1.1, one request in flight each): a warm-up of 200 distinct deliveries (not timed), then
the headline, `--deliveries` distinct GitHub `pull_request`, GitHub `deployment_status` and
PagerDuty deliveries, each sent once, in shuffled order ("stored/s" is distinct deliveries
stored per second, with p50/p99 latency per request); then the redelivery row, the same
deliveries sent again in another order (a sender retrying), timed separately. After the
server stops, the stored deliveries are counted: "exactly once" means every distinct delivery
sent, warm-up included, is there once (Headway: one `raw_events` row per delivery id and one
record per delivery; the floor: one row per body). Headway and its floor alternate, in either
order, so both see the same load; the 1-minute load average is printed with each row and the
CPU this process (the clients) used, so a saturated client or a busy machine shows, and the
CPU the server's processes (uvicorn and its workers) spent per request, from Linux's /proc.
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
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from webhook_floor import TABLE

PG = os.environ.get("HEADWAY_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "fixtures"  # copies of shared/fixtures
SECRET = "bench-secret"
WARM_UP = 200
GOAL_THROUGHPUT, GOAL_P99 = 0.8, 1.5  # × the floor's


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def deliveries(count: int, start: int = 0) -> list[bytes]:
    """`count` distinct signed GitHub/PagerDuty deliveries, each a full HTTP request: numbers
    `start` to `start + count - 1` (two calls whose ranges do not overlap never repeat one)."""
    pr = json.loads((FIXTURES / "github/pull_request/opened.payload.json").read_text())
    status = json.loads((FIXTURES / "github/deployment_status/payload.json").read_text())
    incident = json.loads((FIXTURES / "pagerduty/triggered_v3.json").read_text())
    out = []
    for i in range(start, start + count):
        repo = f"acme/service-{i % 20}"
        headers: dict[str, str]
        if i % 3 == 0:
            pr["repository"]["full_name"] = repo
            pr["pull_request"]["number"] = i
            body, path = json.dumps(pr).encode(), "/hooks/github"
            headers = {"X-GitHub-Event": "pull_request"}
        elif i % 3 == 1:
            status["repository"]["full_name"] = repo
            status["deployment"]["id"] = i
            body, path = json.dumps(status).encode(), "/hooks/github"
            headers = {"X-GitHub-Event": "deployment_status"}
        else:
            incident["event"]["id"] = f"E{i}"
            incident["event"]["data"]["id"] = f"P{i}"
            incident["event"]["data"]["service"]["summary"] = f"service-{i % 20}"
            body, path, headers = json.dumps(incident).encode(), "/hooks/pagerduty", {}
        digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if path == "/hooks/github":
            headers |= {
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": f"sha256={digest}",
            }
        else:
            headers |= {"X-PagerDuty-Signature": f"v1={digest}"}
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{head}\r\n"
        ).encode() + body
        out.append(request)
    return out


async def client(
    port: int, work: list[bytes], latencies: list[float], codes: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for request in work:
        started = time.perf_counter()
        status = await exchange(reader, writer, request)
        latencies.append(time.perf_counter() - started)
        codes[status] = codes.get(status, 0) + 1
    writer.close()


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """Send one request on a keep-alive connection and read its whole answer; its status."""
    writer.write(request)
    status = int((await reader.readline()).split()[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return status


@dataclass(frozen=True)
class Burst:
    per_s: float  # requests answered 2xx per second
    p50: float  # ms
    p99: float  # ms
    errors: int  # answers other than 2xx
    client_cpu: float  # share of one CPU this process used meanwhile
    server_ms: float  # CPU milliseconds the server's processes spent per request


@dataclass(frozen=True)
class Row:
    kind: str
    workers: int
    load: float  # 1-minute load average when it started
    once: Burst
    again: Burst
    exact: bool


def tree_cpu(pid: int) -> float:
    """User and system CPU seconds of a process and its descendants, from Linux's /proc (0
    elsewhere, or once it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(tree_cpu(int(child)) for child in children)


def burst(port: int, pid: int, requests: list[bytes], clients: int) -> Burst:
    """Send `requests` over `clients` connections; seconds, p50/p99 ms, non-2xx answers and
    this process's CPU share meanwhile."""
    return spread([(port, pid)], requests, clients)


def spread(servers: list[tuple[int, int]], requests: list[bytes], clients: int) -> Burst:
    """`burst` over several servers (port, pid): request i goes to server i % len(servers),
    each server's share over clients ÷ servers connections (at least one); the server CPU
    is all of theirs."""
    n = len(servers)
    latencies: list[float] = []
    codes: dict[int, int] = {}
    per_server = max(1, clients // n)
    work = [
        (port, requests[s::n][c::per_server])
        for s, (port, _) in enumerate(servers)
        for c in range(per_server)
    ]

    async def go() -> None:
        await asyncio.gather(*(client(port, share, latencies, codes) for port, share in work))

    def server_cpu() -> float:
        return sum(tree_cpu(pid) for _, pid in servers)

    cpu, server_before, started = time.process_time(), server_cpu(), time.perf_counter()
    asyncio.run(go())
    elapsed = time.perf_counter() - started
    ok = sum(n for code, n in codes.items() if 200 <= code < 300)
    return Burst(
        per_s=ok / elapsed,
        p50=percentile(latencies, 50) * 1000,
        p99=percentile(latencies, 99) * 1000,
        errors=len(requests) - ok,
        client_cpu=(time.process_time() - cpu) / elapsed,
        server_ms=(server_cpu() - server_before) / len(requests) * 1000,
    )


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextmanager
def schema() -> Iterator[str]:
    """A fresh schema, as a database URL whose search_path names it; dropped afterwards."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {name}")
    try:
        yield f"{PG}?options=-csearch_path%3D{name}"
    finally:  # a failed run leaves nothing behind in the database
        with psycopg.connect(PG, autocommit=True) as con:
            con.execute(f"DROP SCHEMA {name} CASCADE")


@contextmanager
def server(kind: str, url: str, workers: int) -> Iterator[tuple[int, int]]:
    """Start Headway or the floor under uvicorn on `url`'s schema; yields its port and pid."""
    env = {**os.environ}
    env.pop("HEADWAY_URL", None)
    if kind == "headway":
        app, app_dir = "headway.cli.serve:create", str(Path(__file__).resolve().parents[1])
        env |= {
            "HEADWAY_DATABASE": url,
            "HEADWAY_GITHUB_WEBHOOK_SECRET": SECRET,
            "HEADWAY_PAGERDUTY_WEBHOOK_SECRET": SECRET,
        }
        # Migrate once before workers race to do it.
        subprocess.run(
            [sys.executable, "-c", "from headway.store import open_store; open_store().close()"],
            env=env,
            check=True,
        )
    else:
        app, app_dir = "webhook_floor:create", str(Path(__file__).resolve().parent)
        env |= {"FLOOR_DATABASE": url, "FLOOR_SECRET": SECRET}
        with psycopg.connect(url, autocommit=True) as con:
            con.execute(TABLE)
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--factory", "--app-dir", app_dir]
    command += ["--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen([*command, "--log-level", "warning", "--no-access-log"], env=env)
    try:
        for _ in range(300):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            raise RuntimeError(f"{kind} did not answer /healthz on port {port}")
        yield port, process.pid
    finally:
        process.terminate()
        process.wait(30)


def stored_once(kind: str, url: str, expected: int) -> bool:
    with psycopg.connect(url) as con:
        if kind == "floor":
            row = con.execute("SELECT count(*), count(DISTINCT digest) FROM floor_deliveries")
            return row.fetchone() == (expected, expected)
        rows = con.execute("SELECT count(*), count(DISTINCT id) FROM raw_events").fetchone()
        records = sum(
            con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("changes", "deployments", "incidents")
        )
    return rows == (expected, expected) and records == expected


def measure(
    kind: str, workers: int, warm: list[bytes], work: list[bytes], clients: int, seed: int
) -> Row:
    load = os.getloadavg()[0]
    first, again = work[:], work[:]
    random.Random(seed).shuffle(first)
    random.Random(seed + 1).shuffle(again)
    with schema() as url:
        with server(kind, url, workers) as (port, pid):
            burst(port, pid, warm, clients)
            once = burst(port, pid, first, clients)
            repeat = burst(port, pid, again, clients)
        exact = stored_once(kind, url, len(warm) + len(work))
    return Row(kind, workers, load, once, repeat, exact)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--runs", type=int, default=1, help="pairs of Headway and floor runs")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    requests = deliveries(WARM_UP + args.deliveries)
    warm, work = requests[:WARM_UP], requests[WARM_UP:]
    print(
        f"{args.deliveries} distinct deliveries (+{WARM_UP} warm-up), {args.clients} clients, "
        f"{os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.1f}\n"
    )
    print(
        f"{'run':<4}{'server':<9}{'workers':>8}{'load':>6} | {'stored/s':>9}{'p50 ms':>8}"
        f"{'p99 ms':>8}{'errors':>7}{'server CPU ms':>14}{'client CPU':>11} | "
        f"{'redelivered/s':>14}{'p50 ms':>8}{'p99 ms':>8}{'server CPU ms':>14} | exactly once"
    )
    pairs: list[tuple[int, int, dict[str, Row]]] = []
    for run in range(args.runs):
        for workers in args.workers:
            order = ["floor", "headway"] if (run + workers) % 2 else ["headway", "floor"]
            pair = {}
            for kind in order:
                row = pair[kind] = measure(kind, workers, warm, work, args.clients, seed=run)
                once, again = row.once, row.again
                print(
                    f"{run + 1:<4}{kind:<9}{workers:>8}{row.load:>6.1f} | {once.per_s:>9.0f}"
                    f"{once.p50:>8.1f}{once.p99:>8.1f}{once.errors:>7}{once.server_ms:>14.2f}"
                    f"{once.client_cpu:>11.0%} | {again.per_s:>14.0f}{again.p50:>8.1f}"
                    f"{again.p99:>8.1f}{again.server_ms:>14.2f} | "
                    f"{'yes' if row.exact else 'NO'}",
                    flush=True,
                )
            pairs.append((run, workers, pair))
    print(
        f"\nHeadway ÷ floor (goal: stored/s ≥ {GOAL_THROUGHPUT}×, p99 ≤ {GOAL_P99}×, every "
        "delivery exactly once)"
    )
    print(f"{'run':<4}{'workers':>8} | {'stored/s':>9}{'p99':>8} | {'redelivered/s':>14}{'p99':>8}")
    for run, workers, pair in pairs:
        h, f = pair["headway"], pair["floor"]
        speed, tail = h.once.per_s / f.once.per_s, h.once.p99 / f.once.p99
        met = speed >= GOAL_THROUGHPUT and tail <= GOAL_P99 and h.exact and not h.once.errors
        print(
            f"{run + 1:<4}{workers:>8} | {speed:>8.2f}×{tail:>7.2f}× | "
            f"{h.again.per_s / f.again.per_s:>13.2f}×{h.again.p99 / f.again.p99:>7.2f}× | "
            f"goal {'met' if met else 'MISSED'}"
        )


if __name__ == "__main__":
    main()
