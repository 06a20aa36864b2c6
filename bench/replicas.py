"""Scale-out: N `headway serve` processes on one PostgreSQL, as replicas behind a balancer.

    python bench/replicas.py [--replicas 1 2 4] [--runs 3] [--deliveries 3000] [--clients 64]
                             [--sdk-clients 10] [--rounds 10]

For each run and each N, a fresh PostgreSQL schema (dropped afterwards) and N servers started
the way `bench/webhooks.py` starts one (`python -m uvicorn headway.cli.serve:create --factory
--workers 1`, each on its own port: N processes, not one process's workers), then:

- Ingest. `bench/webhooks.py`'s signed GitHub and PagerDuty deliveries, sent by its raw
  HTTP/1.1 clients: a warm-up of 200 (not timed), then `--deliveries` distinct deliveries,
  each sent once, delivery i to replica i mod N (round-robin, as a balancer would), over
  `--clients` keep-alive connections shared equally among the replicas. "stored/s" is
  distinct deliveries acknowledged per second. Then the same deliveries again, each to the
  next replica (i + 1 mod N): a sender's retry landing elsewhere, the cross-process
  redelivery. After the servers stop, "exactly once" checks every distinct delivery is one
  `raw_events` row and one record (the check of `bench/webhooks.py`).
- Flag propagation (N ≥ 2). `--sdk-clients` `headway.sdk.Client`s stream from each replica.
  `--rounds` times the flag is switched through replica 0's admin API, kill and enable in
  turn; each client records when its configuration shows the new state. Latency is that
  time minus the time just before the admin request. Clients on replica 0 are the floor in
  the same run (no process boundary crossed); clients on the others got the change through
  PostgreSQL NOTIFY, each replica reloading the flags and pushing them down its streams.
  All clients run as threads of this one process (the GIL they share adds to both columns
  alike; `bench/propagation.py` measures the SSE fan-out itself).

Each row prints the 1-minute load average when it started, the CPU the N servers spent per
delivery and the share of a CPU the client used. This machine has few cores: N servers,
PostgreSQL and the client share them, so throughput can only grow while a core is idle.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from propagation import FLAG, change
from webhooks import WARM_UP, Burst, deliveries, percentile, schema, server, spread, stored_once


@dataclass(frozen=True)
class Row:
    replicas: int
    load: float
    once: Burst
    again: Burst
    exact: bool
    local: list[float]  # ms, clients on the replica the change was made through
    remote: list[float]  # ms, clients on the other replicas
    expected: int  # deliveries of changes to the other replicas' clients


def prepare(url: str) -> str:
    """Migrate the schema, with the flag enabled in production; an admin token's secret."""
    from headway.config import Settings
    from headway.flags.service import FlagService
    from headway.flags.tokens import TokenService
    from headway.store import open_store

    store = open_store(Settings(database=url))
    try:
        flags = FlagService(store)
        flags.create_flag(FLAG, actor="bench")
        flags.update_environment(
            "checkout", "production", {"enabled": True, "default": {"variant": "on"}}, actor="bench"
        )
        tokens = TokenService(store)
        _, admin = tokens.create("admin", name="bench", actor="bench")
        _, sdk = tokens.create("server", name="bench", actor="bench", environment="production")
    finally:
        store.close()
    return f"{admin} {sdk}"


def propagate(
    ports: list[int], admin: str, sdk_key: str, per_replica: int, rounds: int
) -> tuple[list[float], list[float]]:
    """Latencies (ms) of every round's change to the clients on replica 0 and on the others."""
    import logging

    from headway.flags.snapshot import Snapshot
    from headway.sdk import Client

    logging.getLogger("headway").setLevel(logging.ERROR)
    seen: list[tuple[int, list[tuple[float, bool]]]] = []
    clients = []
    lock = threading.Lock()
    for replica, port in enumerate(ports):
        for _ in range(per_replica):
            events: list[tuple[float, bool]] = []
            seen.append((replica, events))

            def record(
                _old: Snapshot | None, new: Snapshot, events: list[tuple[float, bool]] = events
            ) -> None:
                enabled = new.flags["checkout"].evaluate({}).reason != "DISABLED"
                with lock:
                    events.append((time.time(), enabled))

            client = Client(f"http://127.0.0.1:{port}", sdk_key, flush_interval=0)
            client.add_listener(record)
            clients.append(client)
    deadline = time.monotonic() + 60
    while not all(c.connected and c.snapshot is not None for c in clients):
        if time.monotonic() > deadline:
            raise RuntimeError("SDK clients did not connect within 60 s")
        time.sleep(0.05)
    sent: list[tuple[float, bool]] = []
    headers = {"Authorization": f"Bearer {admin}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{ports[0]}", headers=headers, timeout=30) as h:
        for r in range(rounds):
            time.sleep(1.0)
            enable = r % 2 == 1
            t0 = time.time()
            change(h, enable).raise_for_status()
            sent.append((t0, enable))
        time.sleep(2.0)
    for c in clients:
        threading.Thread(target=c.close, daemon=True).start()
    local: list[float] = []
    remote: list[float] = []
    for r, (t0, enabled) in enumerate(sent):
        t_next = sent[r + 1][0] if r + 1 < len(sent) else float("inf")
        for replica, events in seen:
            hit = next((t for t, state in events if t0 <= t < t_next and state == enabled), None)
            if hit is not None:
                (local if replica == 0 else remote).append((hit - t0) * 1000)
    return local, remote


def measure(n: int, warm: list[bytes], work: list[bytes], args: argparse.Namespace) -> Row:
    load = os.getloadavg()[0]
    first = work[:]
    random.Random(n).shuffle(first)
    # the retry of delivery i goes to the replica after the one that stored it
    again = first[-1:] + first[:-1] if n > 1 else first[:]
    local: list[float] = []
    remote: list[float] = []
    with schema() as url:
        admin, sdk_key = prepare(url).split()
        with ExitStack() as stack:
            servers = [stack.enter_context(server("headway", url, 1)) for _ in range(n)]
            spread(servers, warm, args.clients)
            once = spread(servers, first, args.clients)
            repeat = spread(servers, again, args.clients)
            if n > 1 and args.rounds:
                ports = [port for port, _ in servers]
                local, remote = propagate(ports, admin, sdk_key, args.sdk_clients, args.rounds)
        exact = stored_once("headway", url, len(warm) + len(work))
    expected = (n - 1) * args.sdk_clients * args.rounds
    return Row(n, load, once, repeat, exact, local, remote, expected)


def spread_ms(values: list[float]) -> str:
    if not values:
        return f"{'':>8}{'':>8}{'':>8}"
    return f"{statistics.median(values):>8.1f}{percentile(values, 99):>8.1f}{max(values):>8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--deliveries", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--sdk-clients", type=int, default=10, help="per replica")
    parser.add_argument("--rounds", type=int, default=10, help="kill, enable, kill, …")
    args = parser.parse_args()
    requests = deliveries(WARM_UP + args.deliveries)
    warm, work = requests[:WARM_UP], requests[WARM_UP:]
    print(
        f"{args.deliveries} distinct deliveries (+{WARM_UP} warm-up), {args.clients} "
        f"connections, {args.sdk_clients} SDK clients a replica, {args.rounds} flag changes; "
        f"{os.cpu_count()} CPUs; load average at start {os.getloadavg()[0]:.1f}\n"
    )
    print(
        f"{'run':<4}{'N':>3}{'load':>6} | {'stored/s':>9}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'errors':>7}{'CPU ms':>8}{'client':>8} | {'again/s':>8}{'errors':>7} | once | "
        f"{'flag, same replica':>24} | {'flag, other replicas':>24}{'reached':>9}"
    )
    print(
        f"{'':<4}{'':>3}{'':>6} | {'':>9}{'':>8}{'':>8}{'':>7}{'':>8}{'':>8} | {'':>8}{'':>7} |"
        f"      | {'p50':>8}{'p99':>8}{'max':>8} | {'p50':>8}{'p99':>8}{'max':>8}"
    )
    rows: list[Row] = []
    failed = False
    for run in range(args.runs):
        order = args.replicas if run % 2 == 0 else args.replicas[::-1]
        for n in order:
            row = measure(n, warm, work, args)
            rows.append(row)
            once, again = row.once, row.again
            reached = len(row.remote) == row.expected
            failed |= not row.exact or bool(once.errors or again.errors) or not reached
            print(
                f"{run + 1:<4}{n:>3}{row.load:>6.1f} | {once.per_s:>9.0f}{once.p50:>8.1f}"
                f"{once.p99:>8.1f}{once.errors:>7}{once.server_ms:>8.2f}{once.client_cpu:>8.0%} | "
                f"{again.per_s:>8.0f}{again.errors:>7} | {'yes ' if row.exact else 'NO  '} | "
                f"{spread_ms(row.local)} | {spread_ms(row.remote)}"
                f"{f'{len(row.remote)}/{row.expected}' if row.expected else '':>9}",
                flush=True,
            )
    fewest = min(args.replicas)
    print(f"\nstored/s by N over the runs (min–max, median) and ÷ N = {fewest}'s median")
    base = statistics.median(r.once.per_s for r in rows if r.replicas == fewest)
    for n in sorted(set(args.replicas)):
        mine = [r.once.per_s for r in rows if r.replicas == n]
        remote = [ms for r in rows if r.replicas == n for ms in r.remote]
        local = [ms for r in rows if r.replicas == n for ms in r.local]
        flag = (
            f"; flag change to other replicas' clients p50 {statistics.median(remote):.1f} ms, "
            f"p99 {percentile(remote, 99):.1f} ms (same replica p50 "
            f"{statistics.median(local):.1f}, p99 {percentile(local, 99):.1f})"
            if remote and local
            else ""
        )
        print(
            f"N={n}: {min(mine):.0f}–{max(mine):.0f}/s, median {statistics.median(mine):.0f} "
            f"({statistics.median(mine) / base:.2f}×){flag}"
        )
    print(f"load average at the end {os.getloadavg()[0]:.1f}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
