"""Benchmark: the five DORA metrics over a million deployments and five million changes.

    python bench/metrics.py [--deployments 1000000] [--changes-per-deployment 5] [--services 500]

1. Simulates an organisation as canonical JSONL (vectorised, seeded): deployments with
   rollbacks and named incidents, changes with first-commit and merge times.
2. Times `headway import jsonl` of that file into a fresh DuckDB store (one process).
3. Times `headway metrics` for the whole organisation (all five metrics, in-process and as a
   command) and for one service.
4. Times the floor in the same run: a bare DuckDB query over the same tables computing only
   the per-service median lead time (the join of changes to deployments and a median).

Goal: whole-organisation metrics within 3x the floor and under 10 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np

from headway.config import Settings
from headway.definitions import PRESETS
from headway.metrics import dora
from headway.store import open_store

YEAR_S = 365 * 86400
START = np.datetime64("2025-11-01T00:00:00", "s")


def iso(seconds: np.ndarray) -> np.ndarray:
    return np.char.add(
        np.datetime_as_string(START + seconds.astype("timedelta64[s]"), unit="s"), "Z"
    )


def simulate(
    path: Path, deployments: int, per_deployment: float, services: int, seed: int
) -> dict[str, int]:
    rng = np.random.default_rng(seed)
    service = rng.integers(0, services, deployments)
    finished = np.sort(rng.integers(0, YEAR_S, deployments))
    started = finished - rng.integers(120, 1200, deployments)
    failed = rng.random(deployments) < 0.06
    rolled_back = failed & (rng.random(deployments) < 0.4)
    counts = rng.poisson(per_deployment, deployments)
    changes = int(counts.sum())
    owner = np.repeat(np.arange(deployments), counts)
    merged = started[owner] - rng.exponential(6 * 3600, changes).astype(np.int64) - 60
    first = merged - rng.exponential(20 * 3600, changes).astype(np.int64)
    recovery = rng.exponential(2 * 3600, deployments).astype(np.int64) + 300

    fin, sta = iso(finished), iso(started)
    fix = iso(finished + recovery)
    opened = iso(finished + recovery // 10)
    mer, fst = iso(merged), iso(first)
    names = [f"svc-{i:04d}" for i in range(services)]
    with path.open("w") as out:
        for i, name in enumerate(names):
            context = ("regulated", "customer-facing", "internal")[i % 3]
            out.write(
                f'{{"type":"service","name":"{name}","team":"team-{i % 40:02d}","context":"{context}"}}\n'
            )
        for i in range(deployments):
            s = names[service[i]]
            out.write(
                f'{{"type":"deployment","source":"b","source_id":"d{i}","service":"{s}",'
                f'"started_at":"{sta[i]}","finished_at":"{fin[i]}"}}\n'
            )
            if failed[i]:
                if rolled_back[i]:
                    out.write(
                        f'{{"type":"deployment","source":"b","source_id":"r{i}","service":"{s}",'
                        f'"kind":"rollback","recovers":"b:d{i}","finished_at":"{fix[i]}"}}\n'
                    )
                out.write(
                    f'{{"type":"incident","source":"b","source_id":"i{i}","service":"{s}",'
                    f'"opened_at":"{opened[i]}","resolved_at":"{fix[i]}","cause_ref":"b:d{i}"}}\n'
                )
        for j in range(changes):
            d = owner[j]
            out.write(
                f'{{"type":"change","source":"b","source_id":"c{j}","service":"{names[service[d]]}",'
                f'"first_commit_at":"{fst[j]}","merged_at":"{mer[j]}","deployment_ref":"b:d{d}"}}\n'
            )
    return {
        "deployments": deployments + int(rolled_back.sum()),
        "changes": changes,
        "incidents": int(failed.sum()),
        "services": services,
    }


def best_of(fn, runs: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


FLOOR_SQL = """
SELECT d.service,
       median(epoch(d.finished_at) - epoch(COALESCE(c.first_commit_at, c.merged_at))) AS lead_median
FROM changes c JOIN deployments d ON d.id = c.deployment_id
WHERE d.status = 'success' AND d.environment = 'production'
GROUP BY d.service
"""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=1_000_000)
    parser.add_argument("--changes-per-deployment", type=float, default=5.05)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--dir", type=Path, default=None, help="Keep files here (default: a temp dir)."
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="Time only the metrics, on the store a previous run left in --dir.",
    )
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="headway-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    jsonl, db = work / "org.jsonl", work / "bench.duckdb"
    env = {**os.environ, "HEADWAY_DATABASE": str(db), "COLUMNS": "200"}
    import_s = float("nan")
    if not args.reuse:
        for stale in (db, Path(f"{db}.wal")):
            stale.unlink(missing_ok=True)
        t = time.perf_counter()
        sizes = simulate(
            jsonl, args.deployments, args.changes_per_deployment, args.services, args.seed
        )
        print(
            f"simulated {sizes} in {time.perf_counter() - t:.1f} s "
            f"({jsonl.stat().st_size / 1e9:.2f} GB)",
            flush=True,
        )
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "headway", "import", "jsonl", str(jsonl)], env=env, check=True
        )
        import_s = time.perf_counter() - t

    settings = Settings(database=str(db))
    store = open_store(settings)
    period = dora.Period(datetime(2025, 11, 1), datetime(2026, 11, 1))
    defn = PRESETS["dora"]
    org_min, org_med = best_of(lambda: dora.compute(store, defn, dora.Scope(), period), args.runs)
    svc_min, svc_med = best_of(
        lambda: dora.compute(store, defn, dora.Scope("service", "svc-0001"), period), args.runs
    )
    each_min, each_med = best_of(
        lambda: dora.compute_each(store, defn, "service", period), args.runs
    )
    result = dora.compute(store, defn, dora.Scope(), period).to_json()
    store.close()

    t = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "headway",
            "metrics",
            "--since",
            "2025-11-01",
            "--until",
            "2026-10-31",
            "--format",
            "json",
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    cli_s = time.perf_counter() - t

    con = duckdb.connect(str(db), read_only=True)
    floor_min, floor_med = best_of(lambda: con.execute(FLOOR_SQL).fetchall(), args.runs)
    con.close()

    print()
    print(f"{'step':<48}{'best s':>10}{'median s':>10}{'x floor':>9}")
    rows = [
        ("import jsonl (one process, incl. linking)", import_s, import_s),
        ("floor: per-service median lead time (DuckDB)", floor_min, floor_med),
        ("headway metrics, whole organisation (5 metrics)", org_min, org_med),
        ("headway metrics, one service", svc_min, svc_med),
        ("headway metrics --each service (all services)", each_min, each_med),
        ("`headway metrics --format json` as a command", cli_s, cli_s),
    ]
    for name, best, median in rows:
        ratio = "" if "import" in name else f"{best / floor_min:>8.1f}x"
        print(f"{name:<48}{best:>10.2f}{median:>10.2f}{ratio:>9}")
    print()
    print(
        f"whole organisation: {result['deployment_frequency']['deployments']} deployments, "
        f"{result['change_lead_time']['changes']} changes, change fail rate "
        f"{result['change_fail_rate']['rate']}"
    )
    goal = org_min <= 3 * floor_min and org_min < 10
    print(
        f"goal (<= 3x floor and < 10 s): {'met' if goal else 'NOT met'} "
        f"({org_min / floor_min:.2f}x, {org_min:.2f} s)"
    )


if __name__ == "__main__":
    main()
