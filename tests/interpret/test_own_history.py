"""A regulated scope is read against its own history, not the DORA table (#24, item 4).

A regulated platform releasing twice a month on purpose would be "low" on the DORA table for
ever; what its review needs is whether this month is as usual for it. The review's metrics
table then reads each figure against the median of the earlier months of its window, within
10 % "as usual" (docs/interpretation.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from headway.interpret.review import render_markdown
from headway.interpret.review_tables import against_own_history
from tests.interpret.test_scenarios import review_of


@pytest.mark.parametrize(
    ("now", "before", "metric", "reading"),
    [
        # 2.1 against the median of 1.8, 2.0, 2.0, 2.2 (2.0): +5 %, within 10 %
        (2.1, [2.0, 2.2, 1.8, 2.0], "deployment_frequency", "as usual (its median of 4 months)"),
        # 1.5 a week against 2.0 is 25 % fewer deployments: worse for a frequency
        (
            1.5,
            [2.0, 2.0, None, 2.0],
            "deployment_frequency",
            "worse than usual (its median of 3 months)",
        ),
        # a lead time of 50 h against the median of 90 and 110 (100 h) is half: better
        (
            50 * 3600,
            [90 * 3600, 110 * 3600],
            "change_lead_time",
            "better than usual (its median of 2 months)",
        ),
        # a failure after months without one: the median is 0, any failure is worse
        (
            0.5,
            [0.0, 0.0, 0.25, 0.0],
            "change_fail_rate",
            "worse than usual (its median of 4 months is 0)",
        ),
        (0.0, [0.0, 0.0, 0.25, 0.0], "change_fail_rate", "as usual (its median of 4 months)"),
        (0.1, [0.2], "change_fail_rate", "too little history to read"),
        (None, [0.2, 0.1], "change_fail_rate", "–"),
    ],
)
def test_a_month_is_read_against_its_own_median(
    now: float | None, before: list[float | None], metric: str, reading: str
) -> None:
    assert against_own_history(now, before, metric) == reading


def test_the_regulated_review_reads_against_its_history_not_the_table(tmp_path: Path) -> None:
    # The regulated scenario: two releases a month, one failure in February, April reviewed.
    # April's 0.47 deployments a week against the median of Nov-Mar (0.45): +3 %, as usual;
    # its change fail rate of 0 against a median of 0: as usual.
    md = render_markdown(review_of("regulated", tmp_path))
    table = [line for line in md.splitlines() if line.startswith("| ")][:6]
    assert "against its own history (regulated)" in table[0]
    readings = {cells[2].strip(): cells[5].strip() for cells in (r.split("|") for r in table[1:])}
    assert readings == {
        "Change lead time": "as usual (its median of 5 months)",
        "Deployment frequency": "as usual (its median of 5 months)",
        "Failed deployment recovery time": "–",
        "Change fail rate": "as usual (its median of 5 months)",
        "Deployment rework rate": "as usual (its median of 5 months)",
    }
    assert not any(level in md.split("| stage |")[0] for level in ("elite", "| low", "medium"))


def test_a_customer_facing_review_keeps_the_dora_levels(tmp_path: Path) -> None:
    md = render_markdown(review_of("healthy_speedup", tmp_path))
    assert "| level (2024) |" in md
