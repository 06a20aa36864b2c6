"""The review's and the web app's trend charts label their axis with what the data holds."""

from __future__ import annotations

import re

from headway.interpret.charts import line_chart
from headway.web.charts import Point, trend


def _labels(svg: str) -> list[str]:
    return re.findall(r"<text[^>]*>([^<]*)</text>", str(svg))


def test_a_rate_that_is_zero_throughout_is_drawn_on_a_zero_axis() -> None:
    # Given a rework rate of 0 in each of three months
    svg = line_chart("Rework rate", ["08/26", "09/26", "10/26"], [0.0, 0.0, 0.0], "%")
    # Then the axis says 0.0%, the points lie on it, and no made-up top (87.0%) is shown
    assert "0.0%" in _labels(svg)
    assert not [t for t in _labels(svg) if t.endswith("%") and t not in ("0.0%", "latest 0.0%")]
    heights = {float(y) for y in re.findall(r'<circle cx="[^"]+" cy="([^"]+)"', svg)}
    assert heights == {140 - 26}  # the baseline: height 140 minus the bottom padding


def test_the_axis_names_the_highest_value() -> None:
    # 2% then 4%: the axis is labelled 4.0%, at the highest point
    svg = line_chart("Change fail rate", ["09/26", "10/26"], [0.02, 0.04], "%")
    assert "4.0%" in _labels(svg)


def test_the_web_trend_of_zeros_shows_no_top_label() -> None:
    points = [Point(f"w{i}", 0.0, "0", f"/records?w={i}") for i in range(4)]
    # four weeks of 0%: the axis says 0.0% and nothing above it (not 100.0%)
    assert [t for t in _labels(trend("Rework rate", points, "%")) if t.endswith("%")] == ["0.0%"]
