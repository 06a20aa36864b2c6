"""The evidence that smaller deployments are slicing rather than healthy flow improvement.

Smaller, more frequent deployments are what the founding documents ask for, so size and
frequency alone never name slicing. It is named only on evidence of its own, read from the
records each deployment shipped: deployments whose changes are all tiny diffs, deployments
that ship nothing users can see, and split series (one piece of work cut into consecutive
small changes by one author, shipped by separate deployments). `slicing_evidence` measures
each kind in two periods; a kind holds when it is common now and was not before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from headway.interpret.evidence import measure, pct
from headway.metrics.signals import TRIVIAL_LINES

EVIDENCE_SHARE = 0.25  # a kind holds when at least a quarter of the shipping deployments …
EVIDENCE_RISE = 0.10  # … are of it, up 10 points or more on the earlier period …
EVIDENCE_MIN = 5  # … and there are at least five of them
SERIES_GAP = timedelta(hours=48)  # consecutive parts of a series ship within two days …
SERIES_PARTS = 3  # … a series has three parts or more …
SERIES_WORDS = 3  # … and its titles share their first three words (numbers and marks aside)
EXAMPLES = 3

Rows = Sequence[dict[str, Any]]

# part markers and numbering a split series adds to one title: "(part 2/4)", "step 3", "#2"
_MARKS = re.compile(r"\b(?:part|pt|step|phase|wip)\b|\d+|[^\w\s]|_")


def title_stem(title: str | None) -> str | None:
    """The first words of a title with numbering and part markers removed; None when fewer
    than two words are left (a one-word title says nothing about what the work is)."""
    words = _MARKS.sub(" ", (title or "").lower()).split()
    return " ".join(words[:SERIES_WORDS]) if len(words) >= 2 else None


def trivial(deployments: Rows, changes: Rows) -> list[str]:
    """Deployments that shipped changes, every one of them a tiny diff."""
    sizes: dict[str, list[float]] = {}
    for c in changes:
        sizes.setdefault(c["deployment_id"], []).append(c["lines"])
    return [
        d["id"] for d in deployments if sizes.get(d["id"]) and max(sizes[d["id"]]) <= TRIVIAL_LINES
    ]


def nothing_visible(deployments: Rows) -> list[str]:
    """Deployments that shipped no change, or only changes users cannot see (chores, docs,
    CI, dependency and version bumps); a redeploy of an earlier version is a rollback."""
    return [d["id"] for d in deployments if not d["visible"] and not d["repeat_version"]]


def split_series(deployments: Rows, changes: Rows) -> tuple[list[str], list[list[str]]]:
    """Deployments shipping a part of a split series, and the series (their change ids)."""
    shipped = {d["id"] for d in deployments}
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for c in changes:
        stem = title_stem(c["title"])
        if c["author"] and stem and c["deployment_id"] in shipped:
            groups.setdefault((c["service"], c["author"], stem), []).append(c)
    series: list[list[dict[str, Any]]] = []
    for parts in groups.values():
        parts.sort(key=lambda c: c["finished_at"])
        run = [parts[0]]
        for c in parts[1:]:
            if c["finished_at"] - run[-1]["finished_at"] <= SERIES_GAP:
                run.append(c)
                continue
            series.append(run)
            run = [c]
        series.append(run)
    split = [
        s for s in series if len(s) >= SERIES_PARTS and len({c["deployment_id"] for c in s}) >= 2
    ]
    ids = {c["deployment_id"] for s in split for c in s}
    return [d["id"] for d in deployments if d["id"] in ids], [[c["id"] for c in s] for s in split]


@dataclass(frozen=True)
class Kind:
    """One kind of slicing evidence measured in an earlier and a later period."""

    key: str
    described: str
    before: float | None
    after: float | None
    records: list[str]  # the later period's deployments of this kind
    series: list[list[str]]
    of: str = "deployments"  # what the shares are of

    @property
    def holds(self) -> bool:
        return (
            self.after is not None
            and self.after >= EVIDENCE_SHARE
            and self.after - (self.before or 0.0) >= EVIDENCE_RISE
            and len(self.records) >= EVIDENCE_MIN
        )

    def sentence(self) -> str:
        extra = f" in {len(self.series)} series" if self.series else ""
        return (
            f"{len(self.records)} deployments ({pct(self.after)} of {self.of}, up from "
            f"{pct(self.before)}) "
            f"{self.described}{extra}, e.g. {', '.join(self.records[:EXAMPLES])}"
        )

    def measure(self) -> dict[str, Any]:
        return measure(f"deployments that {self.described}", self.before, self.after, "share")

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.key,
            "described": self.described,
            "before": self.before,
            "after": self.after,
            "deployments": len(self.records),
            "of": self.of,
            "examples": self.records[:EXAMPLES],
            **(
                {"series": len(self.series), "example_series": self.series[0]}
                if self.series
                else {}
            ),
        }


def _share(part: list[str], whole: Rows) -> float | None:
    return round(len(part) / len(whole), 4) if whole else None


def _with_changes(deployments: Rows) -> Rows:
    return [d for d in deployments if d["changes"]]


def slicing_evidence(before: tuple[Rows, Rows], after: tuple[Rows, Rows]) -> list[Kind]:
    """Each kind of slicing evidence, from the shipping deployments and their changes of an
    earlier and a later period."""
    (b_dep, b_chg), (a_dep, a_chg) = before, after
    b_split, _ = split_series(b_dep, b_chg)
    a_split, series = split_series(a_dep, a_chg)
    b_tiny, a_tiny = trivial(b_dep, b_chg), trivial(a_dep, a_chg)
    # tiny diffs are judged among the deployments that shipped a change: the empty ones are
    # the next kind's
    b_some, a_some = _with_changes(b_dep), _with_changes(a_dep)
    b_none, a_none = nothing_visible(b_dep), nothing_visible(a_dep)
    return [
        Kind(
            "trivial",
            f"shipped only tiny diffs (every change {TRIVIAL_LINES} lines or fewer)",
            _share(b_tiny, b_some),
            _share(a_tiny, a_some),
            a_tiny,
            [],
            "deployments that shipped a change",
        ),
        Kind(
            "nothing_visible",
            "shipped nothing users can see (no change, or only chores, docs, CI or bumps)",
            _share(b_none, b_dep),
            _share(a_none, a_dep),
            a_none,
            [],
        ),
        Kind(
            "split_series",
            "shipped a part of one piece of work split across deployments (one author, one "
            "title, parts within two days)",
            _share(b_split, b_dep),
            _share(a_split, a_dep),
            a_split,
            series,
        ),
    ]


__all__ = ["Kind", "slicing_evidence", "title_stem"]
