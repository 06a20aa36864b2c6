"""Benchmark: Headway's guardrail judge against a repeated z-test and an asymptotic CS.

One run, one seed, the same simulated traffic for every method: a 1 % baseline error rate,
30 looks of 2,000 exposures split 50/50, thousands of rollouts per effect size.

    python bench/guardrails.py [--runs 10000] [--seed 7]
"""

from __future__ import annotations

import argparse
import math
import time

from headway.rollouts.simulate import METHODS, Traffic, simulate
from headway.rollouts.verdicts import parse_guardrail

ALPHA = 0.05
EFFECTS = (1.0, 1.2, 1.5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    guardrail = parse_guardrail("errors:rate:increase:0%:rollback")
    traffic = Traffic(looks=30, per_look=2_000)
    started = time.perf_counter()
    results = simulate(
        guardrail,
        baseline=0.01,
        effects=EFFECTS,
        traffic=traffic,
        runs=args.runs,
        seed=args.seed,
        alpha=ALPHA,
        min_samples=500,
        methods=list(METHODS),
    )
    elapsed = time.perf_counter() - started
    by_key = {(r.method, r.effect): r for r in results}

    print(
        f"guardrail {guardrail.spec}, alpha {ALPHA:.0%}, baseline error rate 1%, "
        f"{traffic.looks} looks x {traffic.per_look:,} exposures (50/50), "
        f"{args.runs:,} runs per effect, seed {args.seed}, {elapsed:.1f} s\n"
    )
    header = (
        f"{'method':<18} {'false rollbacks':>15} {'power +20%':>11} {'power +50%':>11} "
        f"{'looks to catch +50%':>20} {'exposures to catch +50%':>24}"
    )
    print(header)
    print("-" * len(header))
    for method in METHODS:
        harmless, small, large = (by_key[(method, e)] for e in EFFECTS)
        looks = "-" if math.isnan(large.median_looks) else f"{large.median_looks:.1f}"
        exposures = "-" if math.isnan(large.median_exposures) else f"{large.median_exposures:,.0f}"
        print(
            f"{method:<18} {harmless.alarm_rate:>15.2%} {small.alarm_rate:>11.1%} "
            f"{large.alarm_rate:>11.1%} {looks:>20} {exposures:>24}"
        )
    print(
        "\nfalse rollbacks: share of harmless rollouts (no change) rolled back at any look; "
        "power: share of\nharmful rollouts caught within 30 looks; looks/exposures: median at "
        "the first alarm among caught runs."
    )


if __name__ == "__main__":
    main()
