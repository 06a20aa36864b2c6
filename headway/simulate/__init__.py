"""A simulated organisation, written as canonical JSONL, for demos, tests and benchmarks.

Each service follows an archetype with a recognisable delivery pattern:

- `regulated`: low frequency, large batches, long change-advisory waits, rare failures.
- `healthy`: many small deployments a day, short waits, few failures, fast recovery.
- `speeding`: over the period it deploys more often and merges faster while its change fail
  rate climbs: speed bought by pushing instability downstream.
- `slicing`: a team that splits work into ever more, ever tinier deployments, some of them
  empty, with no better outcomes to show for it.

Four more archetypes plant the patterns Headway's detectors must find. Each drifts into its
pattern during the period (from 40% to 80% of the way through), so a window before the drift
and one after it differ the way a real team's months would:

- `local`: review gets much faster, but the saved time reappears as merge wait (a merge
  queue): one stage faster, end to end unchanged.
- `theatre`: deployments multiply, but the extra ones ship nothing users can see (empty, or
  version bumps and chores); user-visible change per day stays flat.
- `redefined`: failures stop being recorded as failures: they are reported as bugs, or as
  incidents filed late, naming nothing and labelled third-party, and rollbacks become
  redeploys of an earlier version recorded as ordinary deployments.
- `hidden`: rework (reverts, hotfixes) rises while incidents stop being filed.

Randomness for everything added after the first four archetypes comes from a second
generator, so the original archetypes' records are unchanged by the additions.

The output is a pure function of the options: same seed, same lines. The history is drawn
in one fixed calendar (`ANCHOR`) and then moved to end at `end`, so two ends give the same
records, their times shifted by the difference: the figures of a window that moves with the
history depend on the seed alone, not on the day the organisation was simulated.

`archetypes` holds the options, archetypes and layout; `service` one service's records over the
period and `changes` one change's; `draws` the random draws and times they share.
Owns: the simulated organisation. May import: the standard library only (it writes the same
canonical JSONL any source would, so `headway import jsonl` reads it like real data).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import orjson

from headway.simulate.archetypes import (
    ANCHOR,
    ARCHETYPES,
    DAY,
    HEALTHY_TEAMS,
    LAYOUT,
    PLANTED,
    SOURCE,
    Archetype,
    Options,
    layout,
)
from headway.simulate.service import service_records

__all__ = [
    "ANCHOR",
    "ARCHETYPES",
    "HEALTHY_TEAMS",
    "LAYOUT",
    "PLANTED",
    "SOURCE",
    "Archetype",
    "Options",
    "generate",
    "layout",
    "write_jsonl",
]


def generate(
    opts: Options, causes: dict[str, str | None] | None = None
) -> Iterator[dict[str, Any]]:
    """Yield canonical records (dicts with a `type`) for the whole organisation.

    `causes`, when given, receives the true cause of every incident (its record id → the
    deployment that caused it, None for one no deployment caused), which an incident record
    names only some of the time: what attribution rules are measured against."""
    end = ANCHOR.timestamp()
    start = end - opts.days * DAY
    shift = timedelta(seconds=round(opts.end.timestamp() - end))
    for index, (service, team, kind) in enumerate(layout(opts.services)):
        arch = ARCHETYPES[kind]
        yield {
            "type": "service",
            "name": service,
            "team": team,
            "context": arch.context,
            "repository": f"acme/{service}",
        }
        rng = random.Random(f"{opts.seed}:{index}")
        extra = random.Random(f"{opts.seed}:{index}:planted")
        records = service_records(rng, service, arch, opts, start, end, extra, causes)
        yield from (_shifted(r, shift) for r in records) if shift else records


def _shifted(record: dict[str, Any], shift: timedelta) -> dict[str, Any]:
    """The record with every time (the `…_at` fields, written `YYYY-MM-DDTHH:MM:SSZ`) moved."""
    for key, value in record.items():
        if key.endswith("_at") and isinstance(value, str):
            moved = datetime.fromisoformat(value[:-1]) + shift
            record[key] = moved.strftime("%Y-%m-%dT%H:%M:%SZ")
    return record


def write_jsonl(opts: Options, out: Any) -> int:
    """Write the organisation to a binary file object; return the number of lines."""
    n = 0
    for record in generate(opts):
        out.write(orjson.dumps(record) + b"\n")
        n += 1
    return n
