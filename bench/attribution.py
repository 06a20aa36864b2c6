"""How many incidents each attribution window blames right, wrong or not at all.

    python bench/attribution.py [--seeds 1,7] [--services 12] [--days 180]
                                [--windows 0.1,0.25,0.5,1,4,24,unbounded]

Each seed simulates the organisation (`headway.simulate.generate`), which records the true
cause of every incident, and loads it into a fresh in-memory store. For each window (hours,
or `unbounded`: the latest deployment before, however long before) the `dora` preset with
that `attribution.window_hours` decides which deployment each incident failed, read from
the failure evidence `headway list deployments` shows. Only incidents that name no
deployment are counted, the ones only the window can blame: right (blamed on the true
cause, or on nothing when no deployment caused it), wrong (blamed on another deployment),
missed (a deployment caused it, none blamed). Prints the Markdown table of
docs/definitions.md, the window with the largest right-minus-wrong margin on every seed in
bold.
"""

from __future__ import annotations

import argparse
import sys
import time

from headway.config import Settings
from headway.definitions import PRESETS
from headway.ingest import ingest
from headway.metrics.attribution import WINDOWS, Tally, label, tally, unnamed, with_window
from headway.simulate import Options, generate
from headway.sources.files import parse_record
from headway.store import open_store


def measure(seed: int, services: int, days: int, windows: list[float | None]) -> list[Tally]:
    """One seed's tally per window."""
    truth: dict[str, str | None] = {}
    generated = list(generate(Options(seed=seed, services=services, days=days), causes=truth))
    causes = unnamed(generated, truth)
    settings = Settings(database=":memory:")
    store = open_store(settings)
    try:
        ingest(store, settings, (parse_record(r, "sim") for r in generated))
        return [tally(store, with_window(PRESETS["dora"], w), causes) for w in windows]
    finally:
        store.close()


def table(windows: list[float | None], seeds: list[int], tallies: list[list[Tally]]) -> str:
    """docs/definitions.md's table: a row per window, right/wrong/missed per seed."""
    default = PRESETS["dora"].attribution.window_hours
    best = [
        w
        for i, w in enumerate(windows)
        if all(t[i].margin == max(x.margin for x in t) for t in tallies)
    ]
    head = "| window |" + "".join(f" right (seed {s}) | wrong | missed |" for s in seeds)
    lines = [head, "|---|" + "---|" * 3 * len(seeds)]
    for i, w in enumerate(windows):
        name = label(w)
        if w == 24:
            name += " (the old default)"
        elif w is None:
            name += " (DevLake)"
        cells = [name] + [str(n) for t in tallies for n in (t[i].right, t[i].wrong, t[i].missed)]
        if w in best:
            cells = [f"**{c}**" for c in cells]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(
        "largest right-minus-wrong margin on every seed: "
        + (", ".join(label(w) for w in best) or "no window on every seed")
        + f"; dora's default: {label(default)}"
    )
    return "\n".join(lines)


def window(text: str) -> float | None:
    if text == "unbounded":
        return None
    hours = float(text)
    if not 0 < hours <= 24 * 365:
        raise argparse.ArgumentTypeError(
            f"a window is hours in (0, 8760] or `unbounded`, got {text!r}"
        )
    return hours


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="1,7", help="comma-separated simulation seeds")
    parser.add_argument("--services", type=int, default=12)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument(
        "--windows",
        default=",".join("unbounded" if w is None else f"{w:g}" for w in WINDOWS),
        help="comma-separated windows in hours, or `unbounded`",
    )
    args = parser.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    windows = [window(w) for w in args.windows.split(",")]
    tallies = []
    for seed in seeds:
        began = time.perf_counter()
        tallies.append(measure(seed, args.services, args.days, windows))
        print(f"seed {seed}: {time.perf_counter() - began:.1f} s", file=sys.stderr)
    print(table(windows, seeds, tallies))
    return 0


if __name__ == "__main__":
    sys.exit(main())
