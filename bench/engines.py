"""Benchmark: the five DORA figures through Ibis on DuckDB, PostgreSQL and Spark.

    python bench/engines.py [--deployments 1000000] [--changes-per-deployment 5]
                            [--engines duckdb,postgres,spark] [--postgres URL]

1. Simulates an organisation (vectorised, seeded) straight into the Parquet layout of
   `headway export parquet`: deployments with rollbacks and named incidents, changes with
   first-commit and merge times, linked to the deployment that shipped them.
2. Loads it into each engine: a DuckDB store file and a PostgreSQL schema (both made by
   Headway's own migrations), and a local Spark session reading the Parquet folder.
3. Times, on each engine, the five figures for the whole organisation
   (`headway.engines.run.compute`, every query included) and that engine's bare floor in
   the same run: one hand-written query computing only the per-service median lead time
   (the join of changes to deployments and a median), in the engine's own SQL.

Prints time (best and median of --runs), the ratio to the floor and the peak memory of
this process and of its children (Spark's JVM).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from headway.config import Settings
from headway.definitions import PRESETS
from headway.engines import connect
from headway.engines import run as figures
from headway.engines.layout import FORMAT, MANIFEST, TABLES, first_part
from headway.metrics import dora
from headway.store import open_store

YEAR_S = 365 * 86400
START = np.datetime64("2025-11-01T00:00:00", "us")
PERIOD = dora.Period(datetime(2025, 11, 1), datetime(2026, 11, 1))

FLOOR = {
    "duckdb": """
        SELECT d.service, median(epoch(d.finished_at)
               - epoch(COALESCE(c.first_commit_at, c.merged_at))) AS lead_median
        FROM changes c JOIN deployments d ON d.id = c.deployment_id
        WHERE d.status = 'success' AND d.environment = 'production' GROUP BY d.service""",
    "postgres": """
        SELECT d.service, percentile_cont(0.5) WITHIN GROUP (ORDER BY
               EXTRACT(EPOCH FROM d.finished_at - COALESCE(c.first_commit_at, c.merged_at)))
        FROM changes c JOIN deployments d ON d.id = c.deployment_id
        WHERE d.status = 'success' AND d.environment = 'production' GROUP BY d.service""",
    "spark": """
        SELECT d.service, median(timestampdiff(MICROSECOND,
               COALESCE(c.first_commit_at, c.merged_at), d.finished_at) / 1e6) AS lead_median
        FROM headway_changes c JOIN headway_deployments d ON d.id = c.deployment_id
        WHERE d.status = 'success' AND d.environment = 'production' GROUP BY d.service""",
}


def _times(seconds: np.ndarray) -> pa.Array:
    return pa.array(START + seconds.astype("timedelta64[s]"), type=pa.timestamp("us"))


def _ids(prefix: str, numbers: np.ndarray) -> pa.Array:
    return pa.array(np.char.add(prefix, numbers.astype(str)))


def simulate(
    folder: Path, deployments: int, per_deployment: float, services: int
) -> dict[str, int]:
    """Write the four tables in the export layout; return their row counts."""
    rng = np.random.default_rng(1)
    service = rng.integers(0, services, deployments)
    finished = np.sort(rng.integers(0, YEAR_S, deployments))
    started = finished - rng.integers(120, 1200, deployments)
    failed = rng.random(deployments) < 0.06
    rolled_back = failed & (rng.random(deployments) < 0.4)
    recovery = rng.exponential(2 * 3600, deployments).astype(np.int64) + 300
    names = np.array([f"svc-{i:04d}" for i in range(services)])
    n = np.arange(deployments)
    back = n[rolled_back]
    dep_ids = np.concatenate(
        [np.char.add("b:d", n.astype(str)), np.char.add("b:r", back.astype(str))]
    )
    rows = len(dep_ids)
    deployments_t = pa.table(
        {
            "id": dep_ids,
            "source": ["b"] * rows,
            "source_id": np.char.lstrip(dep_ids, "b:"),
            "service": np.concatenate([names[service], names[service[back]]]),
            "finished_at": _times(np.concatenate([finished, finished[back] + recovery[back]])),
            "environment": ["production"] * rows,
            "started_at": _times(np.concatenate([started, finished[back] + recovery[back] - 60])),
            "status": ["success"] * rows,
            "kind": ["deploy"] * deployments + ["rollback"] * len(back),
            "trigger": ["manual"] * rows,
            "recovers_id": pa.array(
                [None] * deployments + list(np.char.add("b:d", back.astype(str)))
            ),
        }
    )
    bad = n[failed]
    incidents_t = pa.table(
        {
            "id": np.char.add("b:i", bad.astype(str)),
            "source": ["b"] * len(bad),
            "source_id": np.char.add("i", bad.astype(str)),
            "service": names[service[bad]],
            "opened_at": _times(finished[bad] + recovery[bad] // 10),
            "resolved_at": _times(finished[bad] + recovery[bad]),
            "cause_ref": np.char.add("b:d", bad.astype(str)),
            "deployment_id": np.char.add("b:d", bad.astype(str)),
            "attribution": ["named"] * len(bad),  # each names the deployment that caused it
        }
    )
    counts = rng.poisson(per_deployment, deployments)
    owner = np.repeat(n, counts)
    changes = len(owner)
    merged = started[owner] - rng.exponential(6 * 3600, changes).astype(np.int64) - 60
    first = merged - rng.exponential(20 * 3600, changes).astype(np.int64)
    c = np.arange(changes)
    changes_t = pa.table(
        {
            "id": np.char.add("b:c", c.astype(str)),
            "source": ["b"] * changes,
            "source_id": np.char.add("c", c.astype(str)),
            "service": names[service[owner]],
            "first_commit_at": _times(first),
            "opened_at": _times(first + (merged - first) // 2),
            "merged_at": _times(merged),
            "reverts": pa.nulls(changes, pa.string()),
            "deployment_id": np.char.add("b:d", owner.astype(str)),
        }
    )
    services_t = pa.table(
        {
            "name": names,
            "team": [f"team-{i % 40:02d}" for i in range(services)],
            "context": [
                ("regulated", "customer-facing", "internal")[i % 3] for i in range(services)
            ],
        }
    )
    tables = {
        "services": services_t,
        "deployments": deployments_t,
        "changes": changes_t,
        "incidents": incidents_t,
    }
    for name, table in tables.items():
        first_part(folder, name).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, first_part(folder, name))
    counts_by_table = {name: table.num_rows for name, table in tables.items()}
    # The layout's other tables (approvals, pipeline runs, defects), which the five figures do
    # not read, are written empty with the store's own columns, as an engine requires each.
    with tempfile.TemporaryDirectory() as tmp:
        schema = open_store(Settings(database=str(Path(tmp) / "schema.duckdb")))
        for name in (n for n in TABLES if n not in tables):
            first_part(folder, name).parent.mkdir(parents=True, exist_ok=True)
            schema.execute(
                f"COPY (SELECT * FROM {name} LIMIT 0) TO '{first_part(folder, name)}' "
                "(FORMAT parquet)"
            )
            counts_by_table[name] = 0
        schema.close()
    manifest = {
        "format": FORMAT,
        "engine": "bench",
        "tables": {
            name: {"path": f"{name}/", "rows": rows} for name, rows in counts_by_table.items()
        },
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
    return counts_by_table


def load_duckdb(folder: Path, path: Path) -> Settings:
    settings = Settings(database=str(path))
    store = open_store(settings)
    store.close()
    import duckdb

    con = duckdb.connect(str(path))
    for name in TABLES:
        columns = pq.read_schema(first_part(folder, name)).names
        con.execute(
            f"INSERT INTO {name} ({', '.join(columns)}) "
            f"SELECT * FROM read_parquet('{first_part(folder, name)}')"
        )
    con.close()
    return settings


def load_postgres(folder: Path, url: str) -> Settings:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    settings = Settings(database=f"{url}{sep}options=-csearch_path%3D{schema}")
    open_store(settings).close()
    with psycopg.connect(settings.database) as con, con.cursor() as cur:
        for name in TABLES:
            table = pq.read_table(first_part(folder, name))
            with cur.copy(f"COPY {name} ({', '.join(table.column_names)}) FROM STDIN") as copy:
                for batch in table.to_batches(100_000):
                    for row in zip(*(col.to_pylist() for col in batch.columns), strict=True):
                        copy.write_row(row)
        # fresh statistics, as a store's autovacuum keeps them: without them the planner
        # guesses one row per table and nests loops (19 s instead of 0.4 s here)
        con.commit()
        con.execute("ANALYZE")
    return settings


def drop_postgres(settings: Settings, url: str) -> None:
    import psycopg

    schema = settings.database.rsplit("%3D", 1)[1]
    with psycopg.connect(url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA {schema} CASCADE")


def best_of(fn: Callable[[], Any], runs: int) -> tuple[float, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times), statistics.median(times)


def peak_mib(spark: Any = None) -> tuple[float, float]:
    """Peak resident memory of this process and of a local Spark's JVM (0 without), MiB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    jvm = 0.0
    gateway = getattr(getattr(spark, "sparkContext", None), "_gateway", None)
    proc = getattr(gateway, "proc", None)
    if proc is not None:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                jvm = int(line.split()[1]) / 1024
    return own, jvm


def measure(name: str, settings: Settings, runs: int, spark: Any = None) -> dict[str, Any]:
    engine = connect(settings, spark=spark)
    try:
        defn = PRESETS["dora"]
        if name == "spark":
            floor: Callable[[], Any] = lambda: spark.sql(FLOOR["spark"]).collect()  # noqa: E731
        elif name == "postgres":
            floor = lambda: engine.backend.con.execute(FLOOR["postgres"]).fetchall()  # noqa: E731
        else:
            floor = lambda: engine.backend.con.execute(FLOOR["duckdb"]).fetchall()  # noqa: E731
        floor_min, floor_med = best_of(floor, runs)
        five_min, five_med = best_of(
            lambda: figures.compute(engine, defn, dora.Scope(), PERIOD), runs
        )
        result = figures.compute(engine, defn, dora.Scope(), PERIOD)
    finally:
        engine.close()
    return {
        "engine": name,
        "floor": (floor_min, floor_med),
        "five": (five_min, five_med),
        "ratio": five_min / floor_min,
        "deployments": result["deployment_frequency"]["deployments"],
        "lead_median_s": result["change_lead_time"]["median_s"],
        "memory": peak_mib(spark),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=1_000_000)
    parser.add_argument("--changes-per-deployment", type=float, default=5.0)
    parser.add_argument("--services", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engines", default="duckdb,postgres,spark")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--spark-url", default="local[*]")
    parser.add_argument("--dir", type=Path, default=None, help="Keep files here.")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="headway-bench-engines-"))
    folder = work / "export"
    t = time.perf_counter()
    sizes = simulate(folder, args.deployments, args.changes_per_deployment, args.services)
    print(f"simulated {sizes} as Parquet in {time.perf_counter() - t:.1f} s", flush=True)

    results = []
    for name in args.engines.split(","):
        t = time.perf_counter()
        spark = None
        if name == "duckdb":
            settings = load_duckdb(folder, work / "bench.duckdb")
        elif name == "postgres":
            settings = load_postgres(folder, args.postgres)
        else:
            from headway.engines.spark import session

            spark = session(args.spark_url)
            settings = Settings(engine="spark", engine_parquet=str(folder))
        print(f"{name}: loaded in {time.perf_counter() - t:.1f} s", flush=True)
        try:
            results.append(measure(name, settings, args.runs, spark))
            print(f"{name}: {results[-1]}", flush=True)  # kept should a later engine fail
        finally:
            if spark is not None:
                spark.stop()
            if name == "postgres":
                drop_postgres(settings, args.postgres)

    print()
    print(
        "| engine | floor best / median s | five figures best / median s | × floor | "
        "peak MiB (Python / Spark JVM) |"
    )
    print("|---|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['engine']} | {r['floor'][0]:.2f} / {r['floor'][1]:.2f} "
            f"| {r['five'][0]:.2f} / {r['five'][1]:.2f} | {r['ratio']:.1f} "
            f"| {r['memory'][0]:.0f} / {r['memory'][1]:.0f} |"
        )
    agree = {(r["deployments"], r["lead_median_s"]) for r in results}
    print(f"\nevery engine gave the same deployments and median lead time: {len(agree) == 1}")


if __name__ == "__main__":
    main()
