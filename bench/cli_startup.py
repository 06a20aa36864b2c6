"""Benchmark: how long a `headway` command takes to start, against a bare Typer program.

    python bench/cli_startup.py [--runs 9] [--other DIR]

Times, each as a new process, `--runs` times in turn (round-robin, so a burst of other work
falls on all of them alike):

- floors: `python -c pass`; `python -c "import typer"`; a two-command Typer program's
  `--help` and its `hello --help` (Typer, its Click and Rich's help: what any Typer program
  pays);
- `headway --help`, `headway import jsonl --help` and `headway metrics --help`, from this
  checkout; with `--other DIR`, the same from another checkout too (for example the previous
  commit, exported with `git archive`), in the same rounds.

Prints, per command, the median and range of the wall-clock seconds, the median CPU seconds
(user and system: less swayed by other work on the machine), and the medians' ratios to the
Typer program's matching help (a group's to its `--help`, a command's to its `hello --help`),
with the load average before and after. The goal: `headway --help` within 2× the Typer
program's `--help`.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

TYPER_PROGRAM = '''
from typing import Annotated

import typer

app = typer.Typer(help="A bare Typer program: the floor of any Typer command line.")


@app.command()
def hello(name: Annotated[str, typer.Option(help="Who to greet.")] = "you") -> None:
    """Greet someone."""
    print(f"hello {name}")


@app.command()
def count(to: Annotated[int, typer.Option(help="Where to stop.")] = 3) -> None:
    """Count."""
    print(*range(to))


app()
'''

# Each of Headway's commands, with the Typer program's command it compares with: a group's
# help with the program's, a command's with the program's `hello --help`, for Typer itself
# builds a command's parameters (and imports pydantic for them) only to show its own help.
PROGRAM_HELP = "floor: the Typer program --help"
PROGRAM_COMMAND_HELP = "floor: the Typer program hello --help"
HEADWAY = {
    ("--help",): PROGRAM_HELP,
    ("import", "jsonl", "--help"): PROGRAM_COMMAND_HELP,
    ("metrics", "--help"): PROGRAM_COMMAND_HELP,
}


def _cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _time(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall-clock and CPU seconds (user and system) of one run of `argv`."""
    started, cpu = time.perf_counter(), _cpu()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, check=False)
    took = time.perf_counter() - started, _cpu() - cpu
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr.decode()}")
    return took


def _env(pythonpath: Path, store: Path) -> dict[str, str]:
    # PYTHONPATH picks the checkout (each command runs in an empty folder, since `python -m`
    # would import the one it runs in first); the store is named, never opened
    kept = {k: v for k, v in os.environ.items() if k not in ("HEADWAY_URL", "PYTHONPATH")}
    return {**kept, "PYTHONPATH": str(pythonpath), "HEADWAY_DATABASE": str(store)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9, help="Rounds (each command once a round).")
    parser.add_argument("--other", type=Path, help="Another checkout to time alongside this one.")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="headway-startup-") as work:
        here = Path(work)
        program = here / "typer_program.py"
        program.write_text(TYPER_PROGRAM)
        env = _env(ROOT, here / "unused.duckdb")
        python = sys.executable
        # name -> (argv, environment, the floor it is compared with)
        commands: dict[str, tuple[list[str], dict[str, str], str]] = {
            "floor: python -c pass": ([python, "-c", "pass"], env, PROGRAM_HELP),
            "floor: python -c 'import typer'": ([python, "-c", "import typer"], env, PROGRAM_HELP),
            PROGRAM_HELP: ([python, str(program), "--help"], env, PROGRAM_HELP),
            PROGRAM_COMMAND_HELP: ([python, str(program), "hello", "--help"], env, PROGRAM_HELP),
        }
        checkouts = [("", env)]
        if args.other:
            checkouts.append((f"{args.other.name}: ", _env(args.other.resolve(), here / "x")))
        for label, env_of in checkouts:
            for words, floor in HEADWAY.items():
                argv = [python, "-m", "headway", *words]
                commands[f"{label}headway {' '.join(words)}"] = (argv, env_of, floor)

        load_before = os.getloadavg()
        for argv, env_of, _ in commands.values():  # once each, unrecorded: warm the file cache
            _time(argv, env_of, here)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (argv, env_of, _) in commands.items():
                times[name].append(_time(argv, env_of, here))
        load_after = os.getloadavg()

    def medians(name: str) -> tuple[float, float]:
        runs = times[name]
        return statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs)

    print(
        f"{args.runs} runs each, round-robin; load average (1, 5, 15 min) "
        f"{' '.join(f'{x:.2f}' for x in load_before)} before, "
        f"{' '.join(f'{x:.2f}' for x in load_after)} after\n"
    )
    print(
        "| command | median s | range s | median CPU s | compared with | × it (wall) | × it (CPU) |"
        "\n|---|---:|---:|---:|---|---:|---:|"
    )
    for name, (_, _, floor) in commands.items():
        walls = [wall for wall, _ in times[name]]
        wall, cpu = medians(name)
        floor_wall, floor_cpu = medians(floor)
        print(
            f"| {name} | {wall:.3f} | {min(walls):.3f}–{max(walls):.3f} | {cpu:.3f} "
            f"| {floor.removeprefix('floor: ')} | {wall / floor_wall:.2f} | {cpu / floor_cpu:.2f} |"
        )


if __name__ == "__main__":
    main()
