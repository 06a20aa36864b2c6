"""Detector hits and false alarms over many simulated organisations.

    python bench/detectors.py [--seeds 20] [--jobs 4]

Each seed simulates the full twelve-service organisation (`headway simulate --services 12`),
whose teams plant one pattern each (headway.simulate.PLANTED) or none (web, payments), and
runs every detector for October 2026 against the two months before. A hit is a detector
finding the pattern planted in a team; a false alarm is a detector firing on a team where
that pattern was not planted. The comparison detector is run twice: on the whole
organisation (three contexts: it should fire) and on the healthy team alone (one context:
it should not). Prints a Markdown table (docs/detectors.md keeps the latest one).

Then precision and recall per detector, over the labelled scenario suite
(tests/interpret/scenarios.py: one hand-written history per situation, each with the findings
an expert expects) and over the simulated organisations (a finding is right only where its
pattern was planted, so a whole-window diagnosis nothing plants counts every firing against
its precision). A healthy control with any problem finding is listed as a failure.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.interpret import evidence
from headway.interpret.findings import detect as detect_findings
from headway.metrics.scope import Period, Scope
from headway.simulate import HEALTHY_TEAMS, PLANTED, Options, generate
from headway.sources.files import parse_record
from headway.store import open_store

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.interpret.scenarios import APRIL, SCENARIOS, records

OCTOBER = Period(datetime(2026, 10, 1), datetime(2026, 11, 1))


def run(seed: int) -> dict[str, Counter[str]]:
    settings = Settings(database=":memory:")
    store = open_store(settings)
    ingest(
        store, settings, (parse_record(r, "sim") for r in generate(Options(seed=seed, services=12)))
    )
    defn = PRESETS["dora"]
    org = detect_findings(store, defn, Scope(), OCTOBER)
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
        alone = detect_findings(store, defn, Scope("team", team), OCTOBER)
        for f in alone["findings"]:
            false_alarms[f["detector"]] += f["detector"] == "context"
            healthy[f["detector"]] += f["detector"] == "context"
    store.close()
    # precision and recall: a team's planted detector is expected, nothing else is
    tp, fp, fn = Counter[str](), Counter[str](), Counter[str]()
    problems = {
        (f["detector"], f["scope"]["name"])
        for f in org["findings"]
        if f["kind"] == "problem" and f["detector"] != "context"
    }
    for team in {t for _, t in problems} | set(PLANTED):
        _score(
            {d for d, t in problems if t == team},
            {PLANTED[team]} if team in PLANTED else set(),
            tp,
            fp,
            fn,
        )
    return {
        "hits": hits,
        "false_alarms": false_alarms,
        "healthy": healthy,
        "where": where,
        "tp": tp,
        "fp": fp,
        "fn": fn,
    }


def _score(
    found: set[str], expected: set[str], tp: Counter[str], fp: Counter[str], fn: Counter[str]
) -> None:
    for d in found & expected:
        tp[d] += 1
    for d in found - expected:
        fp[d] += 1
    for d in expected - found:
        fn[d] += 1


def suite() -> tuple[Counter[str], Counter[str], Counter[str], list[str]]:
    """Precision and recall counts over the labelled scenarios, and failing healthy controls."""
    tp, fp, fn = Counter[str](), Counter[str](), Counter[str]()
    unhealthy = []
    for name, scenario in sorted(SCENARIOS.items()):
        settings = Settings(database=":memory:")
        store = open_store(settings)
        ingest(store, settings, (parse_record(r, name) for r in records(name)))
        found = detect_findings(store, PRESETS["dora"], Scope(), APRIL)["findings"]
        store.close()
        got = {f["detector"] for f in found}
        _score(got, set(scenario.expected | scenario.positive), tp, fp, fn)
        if scenario.healthy and any(f["kind"] == "problem" for f in found):
            unhealthy.append(name)
    return tp, fp, fn, unhealthy


def table(title: str, tp: Counter[str], fp: Counter[str], fn: Counter[str]) -> None:
    print(f"\n{title}\n")
    print("| detector | true | false | missed | precision | recall |")
    print("|---|---|---|---|---|---|")
    for d in evidence.DETECTORS:
        t, f, m = tp[d], fp[d], fn[d]
        precision = f"{t / (t + f):.0%}" if t + f else "–"
        recall = f"{t / (t + m):.0%}" if t + m else "–"
        print(f"| `{d}` | {t} | {f} | {m} | {precision} | {recall} |")


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
        "tp": Counter[str](),
        "fp": Counter[str](),
        "fn": Counter[str](),
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
    for detector in evidence.DETECTORS:
        name = detector
        where = planted_in.get(name, "organisation (3 contexts)" if detector == "context" else "–")
        hits = total["hits"][name]
        checks = args.seeds * (teams - 1) if detector != "context" else args.seeds
        print(
            f"| {evidence.TITLES[detector]} (`{detector}`) | {where} | {hits}/{args.seeds} | "
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
    tp, fp, fn, unhealthy = suite()
    table("Labelled scenario suite (tests/interpret/scenarios.py)", tp, fp, fn)
    print(f"\nHealthy controls with a problem finding: {', '.join(unhealthy) or 'none'}")
    table(
        f"Simulated organisations ({args.seeds} seeds, teams with a planted pattern or none)",
        total["tp"],
        total["fp"],
        total["fn"],
    )


if __name__ == "__main__":
    main()
