"""How fast a kill switch reaches connected SDKs: N clients on SSE over loopback.

    python bench/propagation.py [--clients 1000] [--processes 50] [--rounds 10] [--gc staggered]

A real `uvicorn` server (its own process, embedded DuckDB store) serves one flag. Worker
processes each open their share of `headway.sdk.Client`s, all streaming. Then, `--rounds`
times, the flag is switched, kill (`POST /api/flags/checkout/kill`) and enable (`PATCH` of the
environment) in turn, and every client records the wall-clock time at which its configuration
showed the new state. Latency is receipt time minus the time just before the admin request
was sent; all processes share one machine clock. Kill rounds and enable rounds are reported
separately (p50, p99, max over all their deliveries): the goal, p99 <= 100 ms for 1,000
clients, is the kill switch's, so it is judged on the kill rounds.

In production each application process holds one client. Packing hundreds of clients into
one interpreter adds a cost no application pays: their threads all wake at once and queue for
one GIL (59 context switches per delivery with 250 clients a process, 6 with 20, and about
25 % more CPU). So the clients are spread over many small processes (forked from one that has
already imported the SDK); the CPU each side spent per delivery is printed, from /proc, to
show where the time went, with what other work took from the machine meanwhile.

Garbage collection. The client processes are forked from one parent and then make the same
allocations for every change, so their collectors stay in step: with Python's own settings,
40 of the 50 processes ran their generation-1 collection in the same round of a run here, and
a full collection, which walks every object a process holds (the SDK, httpx, pydantic and all
they imported), would likewise run in all of them at once, on the same two CPUs. No fleet of
applications is synchronised like that. So by default (`--gc staggered`) each client process
calls `gc.freeze()` as soon as it is forked and again once its clients are connected
(everything alive then moves to the permanent generation, which no collection walks), and
then sets its collector to a phase of its own (a number of young collections and of
allocations drawn from the process's index); `--gc default` leaves the collector as Python
sets it, to measure the difference. Each run prints the client processes' collections during
the rounds: how many, their CPU time, and the most processes that collected one generation in
one round. Applications that create SDK clients in pre-forked workers (gunicorn `--preload`,
uWSGI, multiprocessing) are forked alike and should do what Python's documentation of
`gc.freeze()` advises: `gc.disable()` early in the parent, `gc.freeze()` just before forking,
`gc.enable()` in each child; and create the client in the child, after the fork (its threads
and connection do not survive one).

Baselines in the same run: the time the admin API itself takes to answer the change, and the
same changes delivered to as many bare SSE connections read by one epoll loop (no SDK, no
threads): the server's own fan-out, against which the SDK clients' share can be judged. The
floor parses each stream (chunked transfer coding, then server-sent events) and counts a
connection reached only when a complete `config` event arrives whose flag is in the new state;
keep-alive pings (comments) and anything else count for nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import multiprocessing as mp
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

_BALLAST: list[list[object]] = []  # kept alive: only their allocation counts (desynchronise)
GOAL_MS = 100.0  # p99 of the kill rounds, 1,000 clients
PAUSE_S = 1.0  # between rounds

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


def desynchronise(seed: int) -> None:
    """Put this process's collector at its own phase: a number of young-generation
    collections (which count towards the next older one's) and of objects allocated towards
    the next young collection, drawn from `seed`. Processes forked alike and fed the same
    changes otherwise collect in the same round, all of them."""
    rng = random.Random(seed)
    young, _, _ = gc.get_threshold()
    for generation in (1, 0):
        for _ in range(rng.randrange(10)):
            gc.collect(generation)
    _BALLAST.extend([] for _ in range(rng.randrange(young)))


def worker(
    url: str, key: str, count: int, stagger: int | None, ready: Any, done: Any, results: Any
) -> None:
    if stagger is not None:  # what the forkserver imported is never walked again
        gc.freeze()
    import logging

    from headway.flags.snapshot import Snapshot
    from headway.sdk import Client

    logging.disable(logging.WARNING)
    seen: list[list[tuple[float, bool]]] = [[] for _ in range(count)]
    clients = []
    for i in range(count):

        def record(_old: Snapshot | None, new: Snapshot, i: int = i) -> None:
            enabled = new.flags["checkout"].evaluate({}).reason != "DISABLED"
            seen[i].append((time.time(), enabled))

        client = Client(url, key, flush_interval=0)
        client.add_listener(record)
        clients.append(client)
    deadline = time.monotonic() + 60
    while not all(c.connected and c.snapshot is not None for c in clients):
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    if stagger is not None:
        gc.collect()
        gc.freeze()  # nor the clients, their threads and their first configuration
        desynchronise(stagger)
    pid = os.getpid()
    pauses: list[tuple[int, float, float, int]] = []  # (pid, wall-clock start, CPU s, gen)
    began = [0.0, 0.0]

    def timed(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            began[:] = time.time(), time.thread_time()
        else:
            pauses.append((pid, began[0], time.thread_time() - began[1], info["generation"]))

    gc.callbacks.append(timed)
    ready.release()
    done.wait()
    gc.callbacks.remove(timed)
    results.put((seen, pauses))
    for c in clients:
        threading.Thread(target=c.close, daemon=True).start()


class Fleet:
    """`clients` SDK clients streaming from `url`, spread over `processes` worker processes
    forked from one that has imported the SDK once (fifty interpreters start in seconds and
    share those pages); connected when the constructor returns. `staggered`: each process's
    collector frozen and set to a phase of its own (see the module's docstring)."""

    def __init__(
        self, url: str, sdk_key: str, clients: int, processes: int, staggered: bool
    ) -> None:
        fork = mp.get_context("forkserver")
        fork.set_forkserver_preload(["headway.sdk", "headway.flags.snapshot", "httpx"])
        ready, self.done, self.results = fork.Semaphore(0), fork.Event(), fork.Queue()
        shares = [clients // processes + (i < clients % processes) for i in range(processes)]
        self.workers = [
            fork.Process(
                target=worker,
                args=(url, sdk_key, n, i if staggered else None, ready, self.done, self.results),
            )
            for i, n in enumerate(shares)
            if n
        ]
        for w in self.workers:
            w.start()
        for _ in self.workers:
            ready.acquire()

    def stop(self) -> tuple[list[list[tuple[float, bool]]], list[tuple[int, float, float, int]]]:
        """What every client saw (wall-clock time and whether the flag was enabled, at each
        configuration) and the processes' garbage collections; the processes end."""
        self.done.set()
        seen: list[list[tuple[float, bool]]] = []
        pauses: list[tuple[int, float, float, int]] = []
        for _ in self.workers:
            clients_seen, process_pauses = self.results.get(timeout=60)
            seen.extend(clients_seen)
            pauses.extend(process_pauses)
        for w in self.workers:
            w.join(timeout=10)
        return seen, pauses


def arrivals(
    sent: list[tuple[float, bool]], seen: list[list[tuple[float, bool]]]
) -> list[list[float]]:
    """For each change sent (wall-clock time just before the request, enabled after it), the
    milliseconds until each client showed it, before the next change was sent; a client that
    did not show it in time counts in no list."""
    out = []
    for r, (t0, enabled) in enumerate(sent):
        t_next = sent[r + 1][0] if r + 1 < len(sent) else float("inf")
        latencies = []
        for events in seen:
            hit = next((t for t, state in events if t0 <= t < t_next and state == enabled), None)
            if hit is not None:
                latencies.append((hit - t0) * 1000)
        out.append(latencies)
    return out


def change(http: httpx.Client, enable: bool) -> httpx.Response:
    """One round's change through the admin API: the kill switch, or enabling the flag again."""
    if enable:
        return http.patch("/api/flags/checkout/environments/production", json={"enabled": True})
    return http.post("/api/flags/checkout/kill", json={"reason": "bench"})


class EventReader:
    """One bare SSE connection's bytes in, its complete server-sent events out: the response
    head is skipped, the chunked transfer coding removed, comments (pings) dropped."""

    def __init__(self) -> None:
        self.raw = b""  # received, not yet de-chunked
        self.body = b""  # de-chunked, not yet a complete event
        self.head = True

    def feed(self, data: bytes) -> list[tuple[bytes, bytes]]:
        self.raw += data
        if self.head:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return []
            self.raw, self.head = self.raw[end + 4 :], False
        while (eol := self.raw.find(b"\r\n")) >= 0:
            size = int(self.raw[:eol].split(b";")[0], 16)
            if len(self.raw) < eol + 2 + size + 2:
                break  # the rest of this chunk is still on its way
            self.body += self.raw[eol + 2 : eol + 2 + size]
            self.raw = self.raw[eol + 2 + size + 2 :]
        events = []
        while (end := self.body.find(b"\n\n")) >= 0:
            block, self.body = self.body[:end], self.body[end + 2 :]
            event, lines = b"message", []
            for line in block.split(b"\n"):
                if line.startswith(b"data:"):
                    lines.append(line[5:].removeprefix(b" "))
                elif line.startswith(b"event:"):
                    event = line[6:].strip()
            if lines:
                events.append((event, b"\n".join(lines)))
        return events


def enabled_in(config: bytes, states: dict[bytes, bool]) -> bool:
    """Whether the flag is enabled in a `config` event's data (parsed once per distinct
    configuration: every connection receives the same bytes)."""
    if config not in states:
        flags = {f["key"]: f for f in orjson.loads(config)["flags"]}
        states[config] = bool(flags["checkout"]["environments"]["production"]["enabled"])
    return states[config]


def raw_floor(
    url: str, sdk_key: str, admin: str, count: int, rounds: int
) -> list[tuple[bool, list[float]]]:
    """The server's own fan-out: `count` bare SSE connections read by one epoll loop (no SDK,
    no threads), while another thread makes the changes (kill, enable, kill, …; the flag is
    enabled when it starts). A connection is reached when the `config` event showing the new
    state is complete. Returns (enabled, latencies in ms) for each round."""
    import selectors
    import socket

    host, port = url.removeprefix("http://").split(":")
    request = (
        f"GET /sdk/stream HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {sdk_key}\r\n\r\n"
    ).encode()
    selector = selectors.DefaultSelector()
    socks: list[socket.socket] = []
    readers: dict[socket.socket, EventReader] = {}
    states: dict[bytes, bool] = {}
    for _ in range(count):
        s = socket.create_connection((host, int(port)), timeout=10)
        s.sendall(request)
        socks.append(s)
    for s in socks:  # wait until every stream has its initial configuration, and drop it
        reader = readers[s] = EventReader()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                raise RuntimeError("the server ended a stream before its configuration")
            if any(event == b"config" for event, _ in reader.feed(chunk)):
                break
        s.setblocking(False)
        selector.register(s, selectors.EVENT_READ)
    results: list[tuple[bool, list[float]]] = []
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30)
    try:
        for r in range(rounds):
            time.sleep(PAUSE_S)
            enable = r % 2 == 1
            t0 = time.time()
            changer = threading.Thread(target=change, args=(http, enable))
            changer.start()
            got: set[socket.socket] = set()
            latencies: list[float] = []
            while len(got) < count and time.time() - t0 < 10:
                for key, _ in selector.select(timeout=0.5):
                    sock: socket.socket = key.fileobj  # type: ignore[assignment]
                    with contextlib.suppress(BlockingIOError):
                        for event, data in readers[sock].feed(sock.recv(65536)):
                            if (
                                event == b"config"
                                and sock not in got
                                and enabled_in(data, states) == enable
                            ):
                                got.add(sock)
                                latencies.append((time.time() - t0) * 1000)
            changer.join()
            results.append((enable, latencies))
    finally:
        http.close()
        for s in socks:
            s.close()
    return results


def cpu_seconds(pid: int | None) -> float:
    """User and system CPU seconds a process (None: this one) has used so far, from Linux's
    /proc; 0 elsewhere."""
    try:
        stat = Path(f"/proc/{pid or 'self'}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_seconds() -> tuple[float, float, float]:
    """CPU seconds the machine has spent so far in processes (user and system), in interrupts
    (on loopback, mostly the network traffic of whoever sends), and stolen by the hypervisor;
    from Linux's /proc, zeros elsewhere."""
    try:
        line = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return 0.0, 0.0, 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, line.split()[1:9])
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system) / tick, (irq + softirq) / tick, steal / tick


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def collections(pauses: list[tuple[int, float, float, int]], starts: list[float]) -> str:
    """The client processes' garbage collections during the rounds, by generation: how many,
    their CPU time, and the most processes that collected that generation in one round
    (all of them: the collectors run in step)."""
    lines = ["garbage collections in the client processes during the rounds:"]
    for generation in (0, 1, 2):
        mine = [p for p in pauses if p[3] == generation and starts[0] <= p[1] <= starts[-1] + 2]
        rounds: dict[int, set[int]] = {}
        for pid, at, _, _ in mine:
            rounds.setdefault(sum(1 for t in starts if t <= at), set()).add(pid)
        cpu = [p[2] * 1000 for p in mine]
        lines.append(
            f"  gen {generation}: {len(mine)}, CPU {sum(cpu):.0f} ms in all, longest "
            f"{max(cpu, default=0):.1f} ms; at most {max(map(len, rounds.values()), default=0)} "
            "processes in one round"
        )
    return "\n".join(lines)


def summary(latencies: list[float]) -> str:
    if not latencies:
        return f"{0:>9}{'':>9}{'':>9}{'':>9}"
    return (
        f"{len(latencies):>9}{statistics.median(latencies):>9.1f}"
        f"{percentile(latencies, 99):>9.1f}{max(latencies):>9.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10, help="kill, enable, kill, …")
    parser.add_argument(
        "--gc",
        choices=["staggered", "default"],
        default="staggered",
        help="staggered: in each client process, gc.freeze() after the fork and once "
        "connected, then the collector set to a phase of its own; default: as Python sets it",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()

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

    started = time.monotonic()
    fleet = Fleet(url, sdk_key, args.clients, args.processes, args.gc == "staggered")
    workers = fleet.workers
    print(
        f"{args.clients} clients connected in {time.monotonic() - started:.1f} s "
        f"({len(workers)} processes, {os.cpu_count()} CPUs, gc {args.gc}); load average "
        f"{load_before[0]:.1f} / {load_before[1]:.1f} / {load_before[2]:.1f} at start"
    )

    headers = {"Authorization": f"Bearer {admin}"}
    sent: list[tuple[float, bool]] = []
    api_ms: list[float] = []
    pids = [server.pid, *(w.pid for w in workers), None]  # None: this process
    cpu_before = [cpu_seconds(pid) for pid in pids]
    machine_before, wall_before = machine_seconds(), time.monotonic()
    with httpx.Client(base_url=url, headers=headers, timeout=30) as http:
        for r in range(args.rounds):
            time.sleep(PAUSE_S)
            enable = r % 2 == 1
            t0 = time.time()
            response = change(http, enable)
            api_ms.append((time.time() - t0) * 1000)
            response.raise_for_status()
            sent.append((t0, enable))
        time.sleep(2.0)
        cpu_after = [cpu_seconds(pid) for pid in pids]
        cpu_spent = [after - before for before, after in zip(cpu_before, cpu_after, strict=True)]
        machine = [
            after - before for before, after in zip(machine_before, machine_seconds(), strict=True)
        ]
        others = machine[0] - sum(cpu_spent)
        available = (time.monotonic() - wall_before) * (os.cpu_count() or 1)
        seen, pauses = fleet.stop()
        if not sent[-1][1]:  # the floor starts from the flag enabled, as the clients did
            change(http, True).raise_for_status()
    floor = raw_floor(url, sdk_key, admin, args.clients, args.rounds)
    server.terminate()
    server.join(10)
    shutil.rmtree(tmp, ignore_errors=True)
    load_after = os.getloadavg()

    print(
        f"\n{'round':<7}{'change':<8}{'received':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'admin ms':>10} | floor:{'received':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
    )
    by_kind: dict[bool, list[float]] = {False: [], True: []}
    floor_by_kind: dict[bool, list[float]] = {False: [], True: []}
    for r, ((_, enabled), latencies) in enumerate(zip(sent, arrivals(sent, seen), strict=True)):
        by_kind[enabled] += latencies
        floor_by_kind[floor[r][0]] += floor[r][1]
        name = "enable" if enabled else "kill"
        print(
            f"{r + 1:<7}{name:<8}{summary(latencies)}{api_ms[r]:>10.1f} | "
            f"{'':6}{summary(floor[r][1])}"
        )
    per_kind = args.clients * ((args.rounds + 1) // 2), args.clients * (args.rounds // 2)
    print(
        f"\n{'rounds':<15}{'received':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'of':>7} | "
        f"floor:{'received':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9} | p99 ÷ floor"
    )
    for enabled, expected in zip((False, True), per_kind, strict=True):
        mine, bare = by_kind[enabled], floor_by_kind[enabled]
        ratio = percentile(mine, 99) / percentile(bare, 99) if mine and bare else float("nan")
        print(
            f"{'enable' if enabled else 'kill':<15}{summary(mine)}{expected:>7} | "
            f"{'':6}{summary(bare)} | {ratio:.2f}×"
        )
    deliveries = args.clients * args.rounds
    print(
        f"\nadmin API alone: p50 {statistics.median(api_ms):.1f} ms\n"
        f"CPU during the rounds, per delivery: server {cpu_spent[0] / deliveries * 1e6:.0f} "
        f"µs, SDK client processes {sum(cpu_spent[1:-1]) / deliveries * 1e6:.0f} µs "
        f"(keep-alive pings included)\nof the machine's {available:.1f} CPU-seconds during "
        f"the rounds: other processes {others:.1f}, interrupts {machine[1]:.1f}, stolen by "
        f"the hypervisor {machine[2]:.1f}; load average {load_after[0]:.1f} at the end"
    )
    print(collections(pauses, [t for t, _ in sent]))
    kills = by_kind[False]
    reached = len(kills) == per_kind[0] and len(by_kind[True]) == per_kind[1]
    met = reached and bool(kills) and percentile(kills, 99) <= GOAL_MS
    print(
        f"goal: kill rounds p99 <= {GOAL_MS:.0f} ms with every client reached "
        f"({args.clients} clients; the goal is set for 1,000): {'met' if met else 'MISSED'}"
    )
    sys.exit(0 if reached else 1)


if __name__ == "__main__":
    main()
