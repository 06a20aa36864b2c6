"""Benchmark `headway import jsonl` against DuckDB's own `read_json` of the same file.

    python bench/bulk_import.py [--deployments 100000] [--runs 3] [--dir DIR] [--line-by-line]

1. Simulates an organisation as canonical JSONL (seeded): services; deployments with
   commit ids, rollbacks and the incidents they caused (with labels); pipeline runs; about
   five changes a deployment (numbers, sizes, labels, merge commits, the deployment that
   shipped them) and a code review for every other change. 100,000 deployments make about
   a million records, 0.3 GB.
2. Times, alternately, --runs times each, as fresh processes into fresh DuckDB files:
   floor       `read_json` of the file into a table by DuckDB itself (`CREATE TABLE AS`),
               the columns and their types given, so DuckDB parses times and skips inference
   floor-auto  the same with the columns inferred from the whole file (`sample_size=-1`)
   import      `headway import jsonl FILE`: read, check, store, link, audit
   and once each: `headway import jsonl` of the same file again (everything already there),
   the process start of `headway import jsonl --help`, and with --line-by-line the previous
   path (`records.ingest` over `files.read_jsonl`) in a process of its own.

Prints each time's median, its range over the runs, the load average before and after each
run, and the import as a multiple of each floor (ratio of medians; and the range of the
run-by-run ratios). Goal: the import within 2x the floor.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

START = np.datetime64("2025-11-01T00:00:00", "s")
YEAR_S = 365 * 86400
COLUMNS = {
    "type": "VARCHAR",
    "name": "VARCHAR",
    "team": "VARCHAR",
    "context": "VARCHAR",
    "source": "VARCHAR",
    "source_id": "VARCHAR",
    "service": "VARCHAR",
    "started_at": "TIMESTAMPTZ",
    "finished_at": "TIMESTAMPTZ",
    "sha": "VARCHAR",
    "kind": "VARCHAR",
    "status": "VARCHAR",
    "recovers": "VARCHAR",
    "opened_at": "TIMESTAMPTZ",
    "resolved_at": "TIMESTAMPTZ",
    "severity": "VARCHAR",
    "labels": "VARCHAR[]",
    "cause_ref": "VARCHAR",
    "workflow": "VARCHAR",
    "conclusion": "VARCHAR",
    "deployment_ref": "VARCHAR",
    "number": "BIGINT",
    "author": "VARCHAR",
    "repository": "VARCHAR",
    "first_commit_at": "TIMESTAMPTZ",
    "merged_at": "TIMESTAMPTZ",
    "merge_sha": "VARCHAR",
    "additions": "BIGINT",
    "deletions": "BIGINT",
    "files": "BIGINT",
    "change_ref": "VARCHAR",
    "decided_at": "TIMESTAMPTZ",
    "decision": "VARCHAR",
    "actor": "VARCHAR",
}


def iso(seconds: np.ndarray) -> np.ndarray:
    return np.char.add(
        np.datetime_as_string(START + seconds.astype("timedelta64[s]"), unit="s"), "Z"
    )


def simulate(path: Path, deployments: int, services: int, seed: int) -> int:
    """Write the organisation's JSONL to `path`; return how many records it holds."""
    rng = np.random.default_rng(seed)
    service = rng.integers(0, services, deployments)
    finished = np.sort(rng.integers(0, YEAR_S, deployments))
    started = finished - rng.integers(120, 1200, deployments)
    failed = rng.random(deployments) < 0.06
    counts = rng.poisson(5.0, deployments)
    owner = np.repeat(np.arange(deployments), counts)
    n = len(owner)
    merged = started[owner] - rng.exponential(6 * 3600, n).astype(np.int64) - 60
    first = merged - rng.exponential(20 * 3600, n).astype(np.int64)
    sha = [f"{v:012x}" for v in rng.integers(0, 2**48, deployments + n)]
    fin, sta, mer, fst = iso(finished), iso(started), iso(merged), iso(first)
    fix = iso(finished + rng.exponential(2 * 3600, deployments).astype(np.int64) + 300)
    names = [f"svc-{i:04d}" for i in range(services)]
    records = 0
    with path.open("w") as out:
        for i, name in enumerate(names):
            context = ("regulated", "customer-facing", "internal")[i % 3]
            out.write(
                f'{{"type":"service","name":"{name}","team":"team-{i % 40:02d}",'
                f'"context":"{context}"}}\n'
            )
        records += services
        for i in range(deployments):
            s = names[service[i]]
            status = "failure" if failed[i] else "success"
            out.write(
                f'{{"type":"deployment","source":"ci","source_id":"d{i}","service":"{s}",'
                f'"started_at":"{sta[i]}","finished_at":"{fin[i]}","sha":"{sha[i]}",'
                f'"status":"{status}"}}\n'
                f'{{"type":"pipeline_run","source":"ci","source_id":"p{i}","service":"{s}",'
                f'"workflow":"deploy","sha":"{sha[i]}","started_at":"{sta[i]}",'
                f'"finished_at":"{fin[i]}","conclusion":"success","deployment_ref":"ci:d{i}"}}\n'
            )
            records += 2
            if failed[i]:
                out.write(
                    f'{{"type":"deployment","source":"ci","source_id":"r{i}","service":"{s}",'
                    f'"kind":"rollback","recovers":"ci:d{i}","finished_at":"{fix[i]}"}}\n'
                    f'{{"type":"incident","source":"pd","source_id":"i{i}","service":"{s}",'
                    f'"opened_at":"{fin[i]}","resolved_at":"{fix[i]}","severity":"SEV2",'
                    f'"labels":["deploy","db"],"cause_ref":"ci:d{i}"}}\n'
                )
                records += 2
        for j in range(n):
            d = owner[j]
            s = names[service[d]]
            labels = '["bug"]' if j % 7 == 0 else "[]"
            out.write(
                f'{{"type":"change","source":"github","source_id":"acme/{s}#{j}",'
                f'"service":"{s}","repository":"acme/{s}","number":{j},"author":"dev{j % 97}",'
                f'"labels":{labels},"first_commit_at":"{fst[j]}","merged_at":"{mer[j]}",'
                f'"merge_sha":"{sha[deployments + j]}","additions":{j % 300},'
                f'"deletions":{j % 40},"files":{1 + j % 9},"deployment_ref":"ci:d{d}"}}\n'
            )
            records += 1
            if j % 2 == 0:
                out.write(
                    f'{{"type":"approval","source":"github","source_id":"review-{j}",'
                    f'"change_ref":"github:acme/{s}#{j}","service":"{s}",'
                    f'"decided_at":"{mer[j]}","decision":"approved","actor":"dev{j % 89}"}}\n'
                )
                records += 1
    return records


FLOOR = """
import sys, duckdb
con = duckdb.connect(sys.argv[1])
con.execute(
    "CREATE TABLE records AS SELECT * FROM read_json(?, format='newline_delimited', " + sys.argv[3] + ")",
    [sys.argv[2]],
)
print(con.execute("SELECT count(*) FROM records").fetchone()[0])
"""

LINE_BY_LINE = """
import sys
from pathlib import Path
from headway.config import Settings
from headway.ingest import ingest
from headway.sources.files import read_jsonl
from headway.store import open_store
settings = Settings(database=sys.argv[1])
store = open_store(settings)
print(ingest(store, settings, read_jsonl(Path(sys.argv[2]))).total_new)
store.close()
"""


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(args, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def fresh(db: Path) -> Path:
    for stale in (db, Path(f"{db}.wal")):
        stale.unlink(missing_ok=True)
    return db


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=300)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--dir", type=Path, help="Keep the file here (default: a temp dir).")
    parser.add_argument(
        "--line-by-line", action="store_true", help="Also time the previous line-by-line path."
    )
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="headway-bulk-"))
    work.mkdir(parents=True, exist_ok=True)
    jsonl = work / "org.jsonl"
    t = time.perf_counter()
    records = simulate(jsonl, args.deployments, args.services, args.seed)
    size = jsonl.stat().st_size
    print(f"{records:,} records, {size / 1e6:.0f} MB, in {time.perf_counter() - t:.1f} s")

    given = "columns={" + ", ".join(f"'{c}': '{t}'" for c, t in COLUMNS.items()) + "}"
    env = {**os.environ, "COLUMNS": "200"}
    headway = [sys.executable, "-m", "headway"]
    runs: dict[str, list[float]] = {"floor": [], "floor-auto": [], "import": []}
    loads: list[str] = []
    for _ in range(args.runs):
        before = os.getloadavg()[0]
        for name, how in (("floor", given), ("floor-auto", "sample_size=-1")):
            db = fresh(work / "floor.duckdb")
            runs[name].append(timed([sys.executable, "-c", FLOOR, str(db), str(jsonl), how], env))
        db = fresh(work / "store.duckdb")
        runs["import"].append(
            timed([*headway, "import", "jsonl", str(jsonl)], {**env, "HEADWAY_DATABASE": str(db)})
        )
        loads.append(f"{before:.1f}→{os.getloadavg()[0]:.1f}")
        print(
            "run: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in runs.items()),
            f"(load {loads[-1]})",
            flush=True,
        )
    store_env = {**env, "HEADWAY_DATABASE": str(work / "store.duckdb")}
    once = {
        "import again (all there)": timed([*headway, "import", "jsonl", str(jsonl)], store_env),
        "start-up (`import jsonl --help`)": timed([*headway, "import", "jsonl", "--help"], env),
    }
    if args.line_by_line:
        db = fresh(work / "old.duckdb")
        once["line by line (previous path)"] = timed(
            [sys.executable, "-c", LINE_BY_LINE, str(db), str(jsonl)], env
        )

    print(f"\n{records:,} records, {size / 1e6:.0f} MB; load average before→after: {loads}")
    print("| step | median s | range s | MB/s | import ÷ it |\n|---|---:|---:|---:|---:|")
    imported = statistics.median(runs["import"])
    for name, times in runs.items():
        median = statistics.median(times)
        pairs = [i / f for i, f in zip(runs["import"], times, strict=True)]
        ratio = f"{imported / median:.2f} ({min(pairs):.2f}–{max(pairs):.2f})"
        print(
            f"| {name} | {median:.2f} | {min(times):.2f}–{max(times):.2f} | "
            f"{size / 1e6 / median:.0f} | {ratio} |"
        )
    for name, seconds in once.items():
        print(f"| {name} | {seconds:.2f} | | | |")
    goal = imported / statistics.median(runs["floor"])
    print(f"\ngoal (import within 2x the floor): {'met' if goal <= 2 else 'NOT met'}, {goal:.2f}x")


if __name__ == "__main__":
    main()
