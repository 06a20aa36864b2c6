"""Mixed load: does one kind of work starve the others? `headway serve` on PostgreSQL.

    python bench/mixed_load.py [--seconds 300] [--alone-seconds 60] [--runs 1]
                               [--sdk-clients 500] [--deployments 20000]

Each run, on a fresh PostgreSQL schema (dropped afterwards): a simulated organisation
(`bench/metrics.py`'s generator: `--deployments` over a year, five changes each, 500
services) imported with `headway import jsonl`'s path and analysed; one flag and its tokens;
then `python -m uvicorn headway.cli.serve:create --factory --workers 1` started as
`bench/webhooks.py` starts it, and `--sdk-clients` `headway.sdk.Client`s streaming from it in
forked processes (`bench/propagation.py`'s, 20 a process, collectors staggered). They stay
connected throughout. Then, one after another:

1. the sustained webhook rate: 3,000 distinct signed deliveries sent once from 64
   connections as fast as the server answers (`bench/webhooks.py`'s burst), stored/s;
2. each load alone for `--alone-seconds`:
   - webhooks: distinct deliveries at half that rate, open loop (delivery i is due at
     i ÷ rate from the start, from a separate process over 64 keep-alive connections; its
     latency runs from when it was due, so a server that falls behind is not excused by a
     client that waited for it);
   - metrics: one `GET /api/metrics` a second, the organisation and one service in turn,
     over the simulation's last 90 days (what a dashboard asks);
   - the kill switch: every second, the flag killed or enabled again through the admin API,
     timed from just before the request to each SDK client showing it (as
     `bench/propagation.py` does; kill rounds are the kill switch, enable rounds shown too);
3. all three together for `--seconds`.

Each figure's p99 mixed is divided by its p99 alone in the same run: the goal is every ratio
≤ 1.5× and the server's memory flat (its resident set, processes included, at the start,
middle and end of the mixed phase). The load average and how busy the machine's CPUs were
(from /proc/stat) are printed for each phase: on a shared machine, read the ratios, which
compare phases of one run, rather than the milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from metrics import simulate
from propagation import Fleet, arrivals, change, machine_seconds
from replicas import prepare
from webhooks import burst, deliveries, exchange, percentile, schema, server

GOAL = 1.5  # mixed p99 ÷ alone p99, each figure
PERIOD = "since=2026-08-01&until=2026-10-31"  # the simulation's last 90 days
SERVICE = "svc-0001"
SUSTAINED, WARM_UP, CONNECTIONS = 3000, 200, 64
FIGURES = ("webhook", "organisation metrics", "service metrics", "kill switch", "enable")


# -- the loads ---------------------------------------------------------------------------------
def paced(port: int, start: int, rate: float, seconds: float, pipe: Any) -> None:
    """In its own process: distinct deliveries `start`, `start + 1`, … at `rate` a second for
    `seconds`, open loop; sends back (latencies s from when each was due, non-2xx answers)."""
    work = deliveries(int(rate * seconds), start)
    pipe.send("ready")
    pipe.recv()  # go
    latencies: list[float] = []
    errors = [0]

    async def go() -> None:
        due: asyncio.Queue[tuple[float, bytes] | None] = asyncio.Queue()

        async def sender() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            while (item := await due.get()) is not None:
                at, request = item
                status = await exchange(reader, writer, request)
                latencies.append(time.perf_counter() - at)
                errors[0] += not 200 <= status < 300
            writer.close()

        senders = [asyncio.create_task(sender()) for _ in range(CONNECTIONS)]
        began = time.perf_counter()
        for i, request in enumerate(work):
            at = began + i / rate
            if (wait := at - time.perf_counter()) > 0:
                await asyncio.sleep(wait)
            due.put_nowait((at, request))
        for _ in senders:
            due.put_nowait(None)
        await asyncio.gather(*senders)

    asyncio.run(go())
    pipe.send((latencies, errors[0]))


class Webhooks:
    """`paced` in a process of its own, started (deliveries built) before `go()`."""

    def __init__(self, port: int, start: int, rate: float, seconds: float) -> None:
        self.pipe, theirs = mp.Pipe()
        self.process = mp.get_context("spawn").Process(
            target=paced, args=(port, start, rate, seconds, theirs)
        )
        self.process.start()
        self.pipe.recv()  # deliveries built

    def go(self) -> None:
        self.pipe.send("go")

    def result(self) -> tuple[list[float], int]:
        latencies, errors = self.pipe.recv()
        self.process.join(30)
        return [s * 1000 for s in latencies], errors


def metrics_queries(
    http: httpx.Client, seconds: float, out: dict[str, list[float]], errors: list[int]
) -> None:
    """One query a second, the organisation and one service in turn; ms into `out`."""
    began, i = time.monotonic(), 0
    while (due := began + i) < began + seconds:
        if (wait := due - time.monotonic()) > 0:
            time.sleep(wait)
        kind, url = (
            ("organisation metrics", f"/api/metrics?{PERIOD}")
            if i % 2 == 0
            else ("service metrics", f"/api/metrics?service={SERVICE}&{PERIOD}")
        )
        t0 = time.perf_counter()
        status = http.get(url).status_code
        out[kind].append((time.perf_counter() - t0) * 1000)
        errors[0] += status != 200
        i += 1


def flag_changes(
    http: httpx.Client, seconds: float, sent: list[tuple[float, bool]], enabled: list[bool]
) -> None:
    """The flag killed or enabled again each second (each the opposite of the last)."""
    began = time.monotonic()
    while time.monotonic() - began < seconds - 1:
        time.sleep(1.0)
        enable = not enabled[0]
        t0 = time.time()
        change(http, enable).raise_for_status()
        sent.append((t0, enable))
        enabled[0] = enable


# -- what a phase measured ---------------------------------------------------------------------
def tree_rss(pid: int) -> float:
    """Resident MiB of a process and its descendants (Linux's /proc; 0 elsewhere)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    kib = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS"))
    return kib / 1024 + sum(tree_rss(int(child)) for child in children)


@dataclass
class Phase:
    name: str
    load: tuple[float, float] = (0.0, 0.0)  # 1-minute load average at its start and end
    busy: float = 0.0  # share of the machine's CPU time spent in processes meanwhile
    latencies: dict[str, list[float]] = field(default_factory=lambda: {f: [] for f in FIGURES})
    errors: int = 0
    changes: list[tuple[float, bool]] = field(default_factory=list)
    rss: list[float] = field(default_factory=list)  # MiB at start, middle, end


def run_phase(
    name: str,
    seconds: float,
    loads: set[str],
    port: int,
    pid: int,
    http: httpx.Client,
    hooks: tuple[int, float],  # first delivery number, rate
    enabled: list[bool],
) -> Phase:
    phase = Phase(name)
    webhooks = Webhooks(port, hooks[0], hooks[1], seconds) if "webhooks" in loads else None
    errors = [0]
    threads = []
    if "metrics" in loads:
        args = (http, seconds, phase.latencies, errors)
        threads.append(threading.Thread(target=metrics_queries, args=args))
    if "flags" in loads:
        args = (http, seconds, phase.changes, enabled)  # type: ignore[assignment]
        threads.append(threading.Thread(target=flag_changes, args=args))
    load, cpu, wall = os.getloadavg()[0], machine_seconds()[0], time.monotonic()
    phase.rss.append(tree_rss(pid))
    if webhooks:
        webhooks.go()
    for t in threads:
        t.start()
    time.sleep(seconds / 2)
    phase.rss.append(tree_rss(pid))
    for t in threads:
        t.join()
    if webhooks:
        phase.latencies["webhook"], hook_errors = webhooks.result()
        errors[0] += hook_errors
    phase.rss.append(tree_rss(pid))
    phase.load = (load, os.getloadavg()[0])
    phase.busy = (machine_seconds()[0] - cpu) / ((time.monotonic() - wall) * (os.cpu_count() or 1))
    phase.errors = errors[0]
    return phase


# -- one run -----------------------------------------------------------------------------------
@dataclass
class Run:
    sustained: float  # stored/s
    alone: Phase
    mixed: Phase
    reached: bool  # every client showed every change


def one_run(organisation: Path, args: argparse.Namespace) -> Run:
    from headway.config import Settings
    from headway.ingest.bulk import ingest_jsonl
    from headway.store import open_store

    with schema() as url:
        settings = Settings(database=url)
        store = open_store(settings)
        try:
            ingest_jsonl(store, settings, [organisation])
            store.execute("ANALYZE")
        finally:
            store.close()
        admin, sdk_key = prepare(url).split()
        with server("headway", url, 1) as (port, pid):
            base = f"http://127.0.0.1:{port}"
            fleet = Fleet(base, sdk_key, args.sdk_clients, args.sdk_clients // 20 or 1, True)
            headers = {"Authorization": f"Bearer {admin}"}
            try:
                with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
                    return measure(port, pid, http, fleet, args)
            finally:
                fleet.done.set()
                for w in fleet.workers:
                    w.join(timeout=10)


def measure(port: int, pid: int, http: httpx.Client, fleet: Fleet, args: argparse.Namespace) -> Run:
    burst(port, pid, deliveries(WARM_UP), CONNECTIONS)
    for url in (f"/api/metrics?{PERIOD}", f"/api/metrics?service={SERVICE}&{PERIOD}"):
        http.get(url).raise_for_status()
    sustained = burst(port, pid, deliveries(SUSTAINED, WARM_UP), CONNECTIONS).per_s
    rate, first = sustained / 2, WARM_UP + SUSTAINED
    enabled = [True]
    alone = Phase("alone")
    for name, load in (("webhooks", "webhooks"), ("metrics", "metrics"), ("flags", "flags")):
        part = run_phase(name, args.alone_seconds, {load}, port, pid, http, (first, rate), enabled)
        first += int(rate * args.alone_seconds)
        for figure, values in part.latencies.items():
            alone.latencies[figure] += values
        alone.changes += part.changes
        alone.errors += part.errors
        alone.load = (max(alone.load[0], part.load[0]), max(alone.load[1], part.load[1]))
        alone.busy = max(alone.busy, part.busy)
        alone.rss.append(part.rss[0])
        print(
            f"  alone, {name}: load {part.load[0]:.1f}–{part.load[1]:.1f}, "
            f"CPUs {part.busy:.0%} busy",
            flush=True,
        )
    everything = {"webhooks", "metrics", "flags"}
    mixed = run_phase("mixed", args.seconds, everything, port, pid, http, (first, rate), enabled)
    seen, _ = fleet.stop()
    every = True
    for phase in (alone, mixed):
        for (_, on), reached in zip(phase.changes, arrivals(phase.changes, seen), strict=True):
            phase.latencies["enable" if on else "kill switch"] += reached
            every &= len(reached) == args.sdk_clients
    return Run(sustained, alone, mixed, every)


# -- the report ----------------------------------------------------------------------------------
def p99(values: list[float]) -> float:
    return percentile(values, 99) if values else float("nan")


def report(number: int, run: Run) -> dict[str, float]:
    a, m = run.alone, run.mixed
    print(
        f"\nrun {number}: sustained {run.sustained:.0f} stored/s, webhooks at "
        f"{run.sustained / 2:.0f}/s; load {a.load[0]:.1f}–{a.load[1]:.1f} alone, "
        f"{m.load[0]:.1f}–{m.load[1]:.1f} mixed; CPUs busy up to {a.busy:.0%} alone, "
        f"{m.busy:.0%} mixed; errors {a.errors} alone, {m.errors} mixed; every client "
        f"reached by every change: {'yes' if run.reached else 'NO'}"
    )
    print(
        f"{'figure':<22}{'n alone':>8}{'p50':>8}{'p99 ms':>9} |{'n mixed':>8}{'p50':>8}"
        f"{'p99 ms':>9} | {'mixed ÷ alone':>13}"
    )
    ratios = {}
    for figure in FIGURES:
        alone, mixed = a.latencies[figure], m.latencies[figure]
        ratio = ratios[figure] = p99(mixed) / p99(alone) if alone and mixed else float("nan")
        print(
            f"{figure:<22}{len(alone):>8}{statistics.median(alone or [0]):>8.1f}"
            f"{p99(alone):>9.1f} |{len(mixed):>8}{statistics.median(mixed or [0]):>8.1f}"
            f"{p99(mixed):>9.1f} | {ratio:>12.2f}×"
        )
    print(
        "server resident MiB: at the start of each alone phase "
        + ", ".join(f"{r:.0f}" for r in a.rss)
        + "; mixed start, middle, end "
        + ", ".join(f"{r:.0f}" for r in m.rss)
    )
    ratios["memory"] = m.rss[-1] / m.rss[0]
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=300, help="of the mixed phase")
    parser.add_argument("--alone-seconds", type=float, default=60, help="of each load alone")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--sdk-clients", type=int, default=500)
    parser.add_argument("--deployments", type=int, default=20_000, help="a year's, simulated")
    args = parser.parse_args()
    print(
        f"{args.sdk_clients} SDK clients; {args.alone_seconds:.0f} s each alone, "
        f"{args.seconds:.0f} s mixed; {os.cpu_count()} CPUs; load average at start "
        f"{os.getloadavg()[0]:.1f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="headway-mixed-") as tmp:
        organisation = Path(tmp) / "organisation.jsonl"
        print(simulate(organisation, args.deployments, 5.05, 500, 1), flush=True)
        ratios = []
        for number in range(1, args.runs + 1):
            ratios.append(report(number, one_run(organisation, args)))
    print(f"\nmixed p99 ÷ alone p99 over {args.runs} run(s) (goal ≤ {GOAL}×), and memory")
    met = True
    for figure in (*FIGURES[:4], "memory"):
        values = [r[figure] for r in ratios]
        ok = all(v <= GOAL for v in values) if figure != "memory" else all(v <= 1.1 for v in values)
        met &= ok
        goal = "≤ 1.10× of the start" if figure == "memory" else f"≤ {GOAL}×"
        print(
            f"{figure:<22}{min(values):.2f}–{max(values):.2f}×  goal {goal}: "
            f"{'met' if ok else 'MISSED'}"
        )
    print(f"goal {'met' if met else 'MISSED'}; load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
