"""Distributions every engine computes alike: count, median, p75, p90 and mean of a column.

The engines' own `percentile_cont` / `quantile` agree on medians but not always in the last
digit elsewhere, and `approx_*` differ outright; so the percentiles here are window functions
over exact integer positions. Each quantile is a fraction (3/4, 9/10), its position in the
sorted values found with integer arithmetic, so no engine rounds a position differently:

- interpolated (PostgreSQL's percentile_cont): position (n−1)·q, linear between the values
  either side of it;
- lower, i.e. nearest rank (percentile_disc): the value at rank ⌈n·q⌉.

`metrics/dora.py` takes the median the definition names the same way, so the two agree.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import ibis
import ibis.expr.types as ir

from headway.definitions import Definition

QUANTILES = {"median_s": Fraction(1, 2), "p75_s": Fraction(3, 4), "p90_s": Fraction(9, 10)}
STATS = ("n", "median_s", "p75_s", "p90_s", "mean_s")


def summarise(
    defn: Definition, rows: ir.Table, keys: list[str], value: str, negative: str
) -> ir.Table:
    """Per `keys`: n (values known), median_s, p75_s, p90_s, mean_s of `value`, and how many
    rows `negative` marks as left out (`negative`)."""
    x = rows[value]
    base = rows.group_by(keys).aggregate(
        n=x.count(), mean_s=x.mean(), negative=rows[negative].sum()
    )
    known = rows.filter(x.notnull())
    order = ibis.window(group_by=[known[k] for k in keys], order_by=known[value])
    ranked = known.mutate(
        rank=ibis.row_number().over(order),
        size=known[value].count().over(ibis.window(group_by=[known[k] for k in keys])),
    )
    picks: dict[str, Any] = {}
    for name, q in QUANTILES.items():
        if name == "median_s" and defn.summary.median == "mean":
            continue
        picks |= _pick(ranked, value, name, q, lower=defn.summary.median == "lower")
    quantiles = ranked.group_by(keys).aggregate(**picks)
    joined = base.left_join(quantiles, [base[k] == quantiles[k] for k in keys])
    out: dict[str, Any] = {k: base[k] for k in keys}
    out |= {"n": joined.n, "mean_s": joined.mean_s, "negative": joined.negative}
    for name in QUANTILES:
        if name == "median_s" and defn.summary.median == "mean":
            out[name] = joined.mean_s
        elif defn.summary.median == "lower":
            out[name] = joined[f"{name}_lo"]
        else:
            lo, hi = joined[f"{name}_lo"], joined[f"{name}_hi"]
            out[name] = lo + (hi - lo) * joined[f"{name}_frac"]
    return joined.select(**out)


def _pick(ranked: ir.Table, value: str, name: str, q: Fraction, *, lower: bool) -> dict[str, Any]:
    """Aggregates picking the values a quantile needs out of ranked rows (rank from 0)."""
    n, rank, x = ranked.size, ranked["rank"], ranked[value]
    num, den = q.numerator, q.denominator
    if lower:
        # rank ⌈n·q⌉ counted from 1, so ⌈n·q⌉ − 1 from 0
        at = (n * num + den - 1) // den - 1
        return {f"{name}_lo": x.max(where=rank == at)}
    scaled = (n - 1) * num  # the position (n−1)·q is scaled / den
    low = scaled // den
    high = low + ibis.cases((scaled % den > 0, 1), else_=0)
    fraction = (scaled % den).cast("float64") / float(den)
    return {
        f"{name}_lo": x.max(where=rank == low),
        f"{name}_hi": x.max(where=rank == high),
        f"{name}_frac": fraction.max(),
    }
