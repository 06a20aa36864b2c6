"""How fast a kill switch reaches connected SDKs: N clients on SSE over loopback.

    python bench/propagation.py [--clients 1000] [--processes 4] [--rounds 5]

A real `uvicorn` server (its own process, embedded DuckDB store) serves one flag. Worker
processes each open their share of `headway.sdk.Client`s, all streaming. Then, `--rounds`
times, the flag is switched (kill, enable, kill, …) through the admin API, and every client
records the wall-clock time at which its configuration showed the new state. Latency is
receipt time minus the time just before the admin request was sent; all processes share
one machine clock. Goal: p99 <= 200 ms for 1,000 clients.

Baselines in the same run: the time the admin API itself takes to answer the change, and the
same changes delivered to as many bare SSE connections read by one epoll loop (no SDK, no
threads): the server's own fan-out, against which the SDK clients' share can be judged.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

FLAG = {
    "key": "checkout",
    "type": "boolean",
    "owner": "bench",
    "lifecycle": {"kind": "permanent"},
    "variants": [{"key": "on", "value": True}, {"key": "off", "value": False}],
}


def serve(database: str, port: int) -> None:
    import logging

    import uvicorn

    from headway.api.app import create_app
    from headway.api.flags import install
    from headway.config import Settings

    logging.disable(logging.WARNING)
    app = install(create_app(Settings(database=database)))
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        log_level="error",
        access_log=False,
        backlog=4096,
        timeout_graceful_shutdown=1,
    )


def worker(url: str, key: str, count: int, ready: Any, done: Any, results: Any) -> None:
    import logging

    from headway.flags.snapshot import Snapshot
    from headway.sdk import Client

    logging.disable(logging.WARNING)
    seen: list[list[tuple[float, bool]]] = [[] for _ in range(count)]
    # One connection pool per process (building an httpx client per SDK costs ~50 ms of TLS
    # setup, which would only slow the start); every SDK still holds its own stream.
    transport = httpx.HTTPTransport(
        limits=httpx.Limits(max_connections=None, max_keepalive_connections=None)
    )
    clients = []
    for i in range(count):

        def record(_old: Snapshot | None, new: Snapshot, i: int = i) -> None:
            enabled = new.flags["checkout"].evaluate({}).reason != "DISABLED"
            seen[i].append((time.time(), enabled))

        client = Client(url, key, flush_interval=0, send_exposures=False, transport=transport)
        client.add_listener(record)
        clients.append(client)
    deadline = time.monotonic() + 60
    while not all(c.connected and c.snapshot is not None for c in clients):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    ready.release()
    done.wait()
    results.put(seen)
    for c in clients:
        threading.Thread(target=c.close, daemon=True).start()


def raw_floor(
    url: str, sdk_key: str, admin: str, count: int, rounds: int, enabled: bool
) -> list[float]:
    """The server's own fan-out: `count` bare SSE connections read by one epoll loop (no SDK,
    no threads), while another thread makes the changes. `enabled` is the flag's state now;
    each round flips it. Returns latencies in ms."""
    import selectors
    import socket

    host, port = url.removeprefix("http://").split(":")
    request = (
        f"GET /sdk/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {sdk_key}\r\n\r\n"
    ).encode()
    selector = selectors.DefaultSelector()
    socks = []
    for _ in range(count):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(request)
        socks.append(s)
    time.sleep(2.0)  # let every stream receive its initial configuration, then drop it
    for s in socks:
        s.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while s.recv(65536):
                pass
        selector.register(s, selectors.EVENT_READ)
    latencies: list[float] = []
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    try:
        for r in range(rounds):
            t0 = time.time()
            change = threading.Thread(
                target=http.patch,
                args=("/api/flags/checkout/environments/production",),
                kwargs={"json": {"enabled": enabled == (r % 2 == 1)}},
            )
            change.start()
            got: set[socket.socket] = set()
            while len(got) < count and time.time() - t0 < 10:
                for key, _ in selector.select(timeout=0.5):
                    sock = key.fileobj
                    with contextlib.suppress(BlockingIOError):
                        if sock.recv(65536) and sock not in got:  # type: ignore[union-attr]
                            got.add(sock)  # type: ignore[arg-type]
                            latencies.append((time.time() - t0) * 1000)
            change.join()
            time.sleep(0.5)
    finally:
        http.close()
        for s in socks:
            s.close()
    return latencies


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    from headway.config import Settings
    from headway.flags.service import FlagService
    from headway.flags.tokens import TokenService
    from headway.store import open_store

    tmp = Path(tempfile.mkdtemp(prefix="headway-propagation-"))
    database = str(tmp / "bench.duckdb")
    store = open_store(Settings(database=database))
    service = FlagService(store)
    service.create_flag(FLAG, actor="bench")
    service.update_environment(
        "checkout", "production", {"enabled": True, "default": {"variant": "on"}}, actor="bench"
    )
    tokens = TokenService(store)
    _, admin = tokens.create("admin", name="bench", actor="bench")
    _, sdk_key = tokens.create("server", name="bench", actor="bench", environment="production")
    store.close()

    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    ctx = mp.get_context("spawn")
    server = ctx.Process(target=serve, args=(database, port), daemon=True)
    server.start()
    for _ in range(300):
        try:
            httpx.get(f"{url}/healthz", timeout=1)
            break
        except httpx.HTTPError:
            time.sleep(0.1)

    ready, done, results = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    shares = [
        args.clients // args.processes + (i < args.clients % args.processes)
        for i in range(args.processes)
    ]
    workers = [
        ctx.Process(target=worker, args=(url, sdk_key, n, ready, done, results))
        for n in shares
        if n
    ]
    started = time.monotonic()
    for w in workers:
        w.start()
    for _ in workers:
        ready.acquire()
    print(
        f"{args.clients} clients connected in {time.monotonic() - started:.1f} s "
        f"({len(workers)} processes, {os.cpu_count()} CPUs)"
    )

    headers = {"Authorization": f"Bearer {admin}"}
    sent: list[tuple[float, bool]] = []
    api_ms: list[float] = []
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for r in range(args.rounds):
            time.sleep(1.0)
            enable = r % 2 == 1
            t0 = time.time()
            if enable:
                response = http.patch(
                    "/api/flags/checkout/environments/production", json={"enabled": True}
                )
            else:
                response = http.post("/api/flags/checkout/kill", json={"reason": "bench"})
            api_ms.append((time.time() - t0) * 1000)
            response.raise_for_status()
            sent.append((t0, enable))
        time.sleep(2.0)
    done.set()
    seen: list[list[tuple[float, bool]]] = []
    for _ in workers:
        seen.extend(results.get(timeout=60))
    for w in workers:
        w.join(timeout=10)
    floor = raw_floor(url, sdk_key, admin, args.clients, args.rounds, sent[-1][1])
    server.terminate()

    print(
        f"\n{'round':<8}{'change':<9}{'received':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}"
        f"{'admin API ms':>14}"
    )
    all_latencies: list[float] = []
    for r, (t0, enabled) in enumerate(sent):
        t_next = sent[r + 1][0] if r + 1 < len(sent) else float("inf")
        latencies = []
        for events in seen:
            hit = next((t for t, state in events if t0 <= t < t_next and state == enabled), None)
            if hit is not None:
                latencies.append((hit - t0) * 1000)
        all_latencies += latencies
        name = "enable" if enabled else "kill"
        if latencies:
            print(
                f"{r + 1:<8}{name:<9}{len(latencies):>10}{statistics.median(latencies):>10.1f}"
                f"{percentile(latencies, 99):>10.1f}{max(latencies):>10.1f}{api_ms[r]:>14.1f}"
            )
        else:
            print(f"{r + 1:<8}{name:<9}{0:>10}")
    expected = args.clients * len(sent)
    if all_latencies:
        p99 = percentile(all_latencies, 99)
        print(
            f"\nall rounds: {len(all_latencies)}/{expected} deliveries, p50 "
            f"{statistics.median(all_latencies):.1f} ms, p99 {p99:.1f} ms, max "
            f"{max(all_latencies):.1f} ms; admin API alone p50 {statistics.median(api_ms):.1f} ms"
        )
        if floor:
            print(
                f"floor, {args.clients} bare SSE connections in one epoll loop (no SDK): "
                f"{len(floor)}/{expected} deliveries, p50 {statistics.median(floor):.1f} ms, "
                f"p99 {percentile(floor, 99):.1f} ms"
            )
        print(
            f"goal p99 <= 200 ms with every client reached: "
            f"{'met' if p99 <= 200 and len(all_latencies) == expected else 'MISSED'}"
        )
    sys.exit(0 if len(all_latencies) == expected else 1)


if __name__ == "__main__":
    main()
