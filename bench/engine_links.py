"""Benchmark: the five DORA figures on DuckDB over Parquet, with stored links and computed ones.

    python bench/engine_links.py [--deployments 200000] [--changes-per-deployment 5]
                                 [--services 200] [--runs 3]

1. Simulates an organisation into the Parquet layout (`bench/engines.py`'s `simulate`:
   deployments with rollbacks, incidents naming their cause, changes naming none).
2. Computes its links once (`HEADWAY_ENGINE_LINKS=computed`) and writes them into a copy of
   the export, as a store's export holds them: the "stored" export. A second copy has the
   link columns removed: the "linkless" export, over which `auto` computes them.
3. Times `headway.engines.run.compute` (the five figures of the whole organisation under
   `dora`, every query included) over each export, the two alternating, `--runs` times
   each; and, apart, the three link expressions alone over the linkless export.

Prints best, median and spread (max − min) of each, the ratio computed / stored, whether the
two gave the same figures, and the load average before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from headway.config import Settings
from headway.definitions import PRESETS
from headway.engines import connect
from headway.engines import links as link_rules
from headway.engines import run as figures
from headway.engines.relations import Tables
from headway.metrics import dora

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.engines import PERIOD, simulate

LINKED = ("changes", "deployments", "incidents")


def stored_export(raw: Path, folder: Path) -> None:
    """`raw` with every link computed once and written as the store writes it."""
    shutil.copytree(raw, folder)
    engine = connect(Settings(engine_parquet=str(raw), engine_links="computed"))
    try:
        for name in LINKED:
            table = engine.tables[name].to_pyarrow()
            for part in (folder / name).glob("*.parquet"):
                part.unlink()
            pq.write_table(table, folder / name / "part-00000.parquet")
    finally:
        engine.close()


def linkless_export(stored: Path, folder: Path) -> None:
    """`stored` without its link columns."""
    shutil.copytree(stored, folder)
    for name in LINKED:
        part = folder / name / "part-00000.parquet"
        table = pq.read_table(part)
        kept = [c for c in table.column_names if c not in link_rules.LINK_COLUMNS[name]]
        pq.write_table(table.select(kept), part)


def five(folder: Path) -> tuple[float, dict[str, Any], str]:
    """Seconds for the five figures over the export in `folder`, the figures, and where the
    links came from."""
    t = time.perf_counter()
    engine = connect(Settings(engine_parquet=str(folder)))
    try:
        found = figures.compute(engine, PRESETS["dora"], dora.Scope(), PERIOD)
    finally:
        engine.close()
    return time.perf_counter() - t, found, engine.links


def links_alone(folder: Path) -> float:
    """Seconds to compute the three links of every record over the export in `folder`."""
    t = time.perf_counter()
    engine = connect(Settings(engine_parquet=str(folder)))
    try:
        tables = Tables.of(engine.tables)
        for name in LINKED:
            getattr(tables, name).to_pyarrow()
    finally:
        engine.close()
    return time.perf_counter() - t


def spread(times: list[float]) -> str:
    return f"{min(times):.2f} / {statistics.median(times):.2f} / {max(times) - min(times):.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=200_000)
    parser.add_argument("--changes-per-deployment", type=float, default=5.0)
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="Keep files here.")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="headway-bench-links-"))
    load_before = os.getloadavg()
    t = time.perf_counter()
    sizes = simulate(work / "raw", args.deployments, args.changes_per_deployment, args.services)
    stored_export(work / "raw", work / "stored")
    linkless_export(work / "stored", work / "linkless")
    print(f"simulated {sizes}, links computed and written in {time.perf_counter() - t:.1f} s")

    times: dict[str, list[float]] = {"stored": [], "computed": []}
    answers: dict[str, Any] = {}
    for _ in range(args.runs):
        for kind, folder in (("stored", work / "stored"), ("computed", work / "linkless")):
            seconds, found, came_from = five(folder)
            assert came_from == kind, (kind, came_from)
            times[kind].append(seconds)
            answers[kind] = found
    alone = [links_alone(work / "linkless") for _ in range(args.runs)]
    load_after = os.getloadavg()

    print()
    print("| DuckDB over Parquet | best / median / spread s |")
    print("|---|---:|")
    print(f"| five figures, stored links | {spread(times['stored'])} |")
    print(f"| five figures, computed links | {spread(times['computed'])} |")
    print(f"| the three links alone | {spread(alone)} |")
    ratio = min(times["computed"]) / min(times["stored"])
    print(f"\ncomputed / stored (best): {ratio:.2f}×")
    print(f"the same figures: {answers['stored'] == answers['computed']}")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}")


if __name__ == "__main__":
    main()
