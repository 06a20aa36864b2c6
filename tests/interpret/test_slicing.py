"""Slicing's own evidence, on hand-built deployments and changes: tiny diffs, deployments that
ship nothing users can see, and split series of one piece of work."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from headway.interpret.slicing import slicing_evidence, split_series, title_stem

T0 = datetime(2026, 4, 1, 9)


def dep(i: int, *, visible: int = 1, changes: int = 1) -> dict[str, Any]:
    return {"id": f"d{i}", "visible": visible, "changes": changes, "repeat_version": 0}


def chg(
    i: int,
    d: int,
    hours: float,
    *,
    author: str | None = "ana",
    title: str = "Add export",
    lines: int = 8,
) -> dict[str, Any]:
    return {
        "id": f"c{i}",
        "deployment_id": f"d{d}",
        "service": "api",
        "author": author,
        "title": title,
        "lines": lines,
        "finished_at": T0 + timedelta(hours=hours),
    }


def test_a_title_stem_drops_numbering_and_part_markers() -> None:
    assert title_stem("Add CSV export (part 2/4)") == "add csv export"
    assert title_stem("feat: add CSV export, step 3") == "feat add csv"
    assert title_stem("Change") is None  # one word says nothing about the work
    assert title_stem(None) is None


def test_a_split_series_needs_one_author_three_parts_two_deployments_and_two_days() -> None:
    deployments = [dep(i) for i in range(1, 8)]
    changes = [
        # ana's export: three parts in three deployments, 10 h apart → a series
        chg(1, 1, 0, title="Add export (part 1/3)"),
        chg(2, 2, 10, title="Add export (part 2/3)"),
        chg(3, 3, 20, title="Add export (part 3/3)"),
        # bo's work: three parts, but the third 49 h after the second → a run of two
        chg(4, 4, 0, author="bo", title="Fix login 1"),
        chg(5, 5, 1, author="bo", title="Fix login 2"),
        chg(6, 6, 50, author="bo", title="Fix login 3"),
        # three parts in one deployment are one release, not a split
        chg(7, 7, 0, author="cy", title="Tidy menu a"),
        chg(8, 7, 0, author="cy", title="Tidy menu b"),
        chg(9, 7, 0, author="cy", title="Tidy menu c"),
    ]
    ids, series = split_series(deployments, changes)
    assert ids == ["d1", "d2", "d3"]
    assert series == [["c1", "c2", "c3"]]
    # without an author nothing can be tied together
    anonymous = [{**c, "author": None} for c in changes]
    assert split_series(deployments, anonymous) == ([], [])


def test_a_kind_holds_when_common_now_and_not_before() -> None:
    # before: 10 deployments of one 120-line change; after: 10 deployments, 4 of one tiny
    # change, 2 empty (shipping nothing: 2 of 10 = 20% < 25%, no evidence), 4 of 120 lines
    before = (
        [dep(i) for i in range(10)],
        [chg(i, i, i, author=None, lines=120) for i in range(10)],
    )
    after_deps = [dep(i) for i in range(10, 18)] + [
        dep(18, visible=0, changes=0),
        dep(19, visible=0, changes=0),
    ]
    after_chg = [chg(i, i, i, author=None, lines=6 if i < 14 else 120) for i in range(10, 18)]
    kinds = {k.key: k for k in slicing_evidence(before, (after_deps, after_chg))}
    # tiny diffs: 4 of the 8 deployments that shipped a change (50%), up from 0 — but only
    # 4 deployments, fewer than the 5 a kind needs
    assert (kinds["trivial"].after, kinds["trivial"].before) == (0.5, 0.0)
    assert not kinds["trivial"].holds
    assert kinds["nothing_visible"].after == 0.2
    assert not kinds["nothing_visible"].holds
    more = [*after_chg, chg(30, 14, 0, author=None, lines=3)]
    more[4] = {**more[4], "lines": 4}  # d14's own change: tiny too → 5 of 8
    kinds = {k.key: k for k in slicing_evidence(before, (after_deps, more))}
    assert kinds["trivial"].records == ["d10", "d11", "d12", "d13", "d14"]
    assert kinds["trivial"].holds
