"""Detector hits and false alarms over many simulated organisations.

    python bench/detectors.py [--seeds 20] [--jobs 4]

Each seed simulates the full twelve-service organisation (`headway simulate --services 12`),
whose teams plant one pattern each (headway.simulate.PLANTED) or none (web, payments), and
runs every detector for October 2026 against the two months before. A hit is a detector
finding the pattern planted in a team; a false alarm is a detector firing on a team where
that pattern was not planted. The comparison detector is run twice: on the whole
organisation (three contexts: it should fire) and on the healthy team alone (one context:
it should not). Prints a Markdown table (docs/detectors.md keeps the latest one).
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.interpret import detectors
from headway.metrics.dora import Period, Scope
from headway.simulate import HEALTHY_TEAMS, PLANTED, Options, generate
from headway.sources.files import parse_record
from headway.store import open_store

OCTOBER = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))


def run(seed: int) -> dict[str, Counter[str]]:
    settings = Settings(database=":memory:")
    store = open_store(settings)
    ingest(
        store, settings, (parse_record(r, "sim") for r in generate(Options(seed=seed, services=12)))
    )
    defn = PRESETS["dora"]
    org = detectors.detect(store, defn, Scope(), OCTOBER)
    hits, false_alarms, healthy, where = (
        Counter[str](),
        Counter[str](),
        Counter[str](),
        Counter[str](),
    )
    found = {(f["detector"], f["scope"]["name"]) for f in org["findings"]}
    for team, detector in PLANTED.items():
        hits[detector] += (detector, team) in found
    for detector, team in found:
        if detector == "context":
            hits["context"] += 1
        elif PLANTED.get(team or "") != detector:
            false_alarms[detector] += 1
            where[f"{detector}@{team}"] += 1
            if team in HEALTHY_TEAMS:
                healthy[detector] += 1
    for team in HEALTHY_TEAMS:
        alone = detectors.detect(store, defn, Scope("team", team), OCTOBER)
        for f in alone["findings"]:
            false_alarms[f["detector"]] += f["detector"] == "context"
            healthy[f["detector"]] += f["detector"] == "context"
    store.close()
    return {"hits": hits, "false_alarms": false_alarms, "healthy": healthy, "where": where}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=4)
    args = parser.parse_args()
    started = time.perf_counter()
    total = {
        "hits": Counter[str](),
        "false_alarms": Counter[str](),
        "healthy": Counter[str](),
        "where": Counter[str](),
    }
    with ProcessPoolExecutor(args.jobs) as pool:
        for result in pool.map(run, range(1, args.seeds + 1)):
            for key in total:
                total[key].update(result[key])
    teams = 8  # in the twelve-service organisation
    print(
        f"{args.seeds} seeds, 12 services (8 teams), October 2026 against August–September; "
        f"{time.perf_counter() - started:.0f} s\n"
    )
    print(
        "| detector | planted in | hits | hit rate | false alarms (team-windows) | on healthy "
        "teams | false alarms on |"
    )
    print("|---|---|---|---|---|---|---|")
    planted_in = {d: t for t, d in PLANTED.items()}
    for detector in detectors.DETECTORS:
        name = detector
        where = planted_in.get(name, "organisation (3 contexts)" if detector == "context" else "–")
        hits = total["hits"][name]
        checks = args.seeds * (teams - 1) if detector != "context" else args.seeds
        print(
            f"| {detectors.TITLES[detector]} (`{detector}`) | {where} | {hits}/{args.seeds} | "
            f"{hits / args.seeds:.0%} | {total['false_alarms'][detector]}/{checks} | "
            f"{total['healthy'][detector]} | "
            + (
                ", ".join(
                    f"{k.split('@')[1]} {n}"
                    for k, n in sorted(total["where"].items())
                    if k.startswith(detector + "@")
                )
                or "–"
            )
            + " |"
        )


if __name__ == "__main__":
    main()
