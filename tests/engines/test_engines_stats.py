"""Percentiles by window functions: the definitions worked by hand on small sets."""

from __future__ import annotations

from typing import Any

import ibis
import pytest

from headway.definitions import PRESETS, Definition, SummaryRules
from headway.engines.stats import summarise


def _summary(values: list[float | None], median: str) -> dict[str, Any]:
    defn: Definition = PRESETS["dora"].model_copy(update={"summary": SummaryRules(median=median)})
    rows = ibis.memtable(
        {"g": ["a"] * len(values), "x": values, "neg": [0] * len(values)},
        schema={"g": "string", "x": "float64", "neg": "int64"},
    )
    con = ibis.duckdb.connect()
    try:
        (row,) = con.to_pyarrow(summarise(defn, rows, ["g"], "x", "neg")).to_pylist()
    finally:
        con.disconnect()
    return dict(row)


def test_interpolated_percentiles_are_linear_between_neighbours() -> None:
    # sorted 10, 20, 30, 40 (n = 4), the NULL left out:
    # median at (n−1)·1/2 = 1.5 → 20 + 0.5·10 = 25; p75 at 2.25 → 30 + 0.25·10 = 32.5;
    # p90 at 2.7 → 30 + 0.7·10 = 37; mean 100 / 4 = 25
    got = _summary([40.0, None, 10.0, 30.0, 20.0], "interpolated")
    assert got["n"] == 4
    assert got["median_s"] == pytest.approx(25.0)
    assert got["p75_s"] == pytest.approx(32.5)
    assert got["p90_s"] == pytest.approx(37.0)
    assert got["mean_s"] == pytest.approx(25.0)


def test_lower_percentiles_take_the_nearest_rank() -> None:
    # sorted 10, 20, 30, 40, 50 (n = 5): median rank ⌈2.5⌉ = 3 → 30; p75 rank ⌈3.75⌉ = 4 → 40;
    # p90 rank ⌈4.5⌉ = 5 → 50
    got = _summary([50.0, 10.0, 40.0, 20.0, 30.0], "lower")
    assert (got["median_s"], got["p75_s"], got["p90_s"]) == (30.0, 40.0, 50.0)


def test_a_mean_median_is_the_mean_and_one_value_is_every_percentile() -> None:
    # one value: the position is 0 for every quantile, so each is that value
    got = _summary([7.0], "mean")
    assert (got["n"], got["median_s"], got["p75_s"], got["p90_s"]) == (1, 7.0, 7.0, 7.0)
    # no known value: a count of 0 and no statistic
    empty = _summary([None, None], "interpolated")
    assert (empty["n"], empty["median_s"], empty["p90_s"]) == (0, None, None)
