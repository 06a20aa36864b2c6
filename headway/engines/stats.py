"""Distributions every engine computes alike: count, median, p75, p90 and mean of a column.

Two flavours of percentile, as the definition's `summary.median` names:

- interpolated (PostgreSQL's percentile_cont): position (n−1)·q, linear between the values
  either side of it. Each engine's own exact aggregate computes it (DuckDB's
  `quantile_cont`, PostgreSQL's `percentile_cont`, Spark's `percentile`, never the
  `approx_*` ones), in one pass per group with no sort of the whole set: the engines'
  arithmetic may differ in the last binary digit, never in the millisecond `headway metrics`
  shows, and on DuckDB and PostgreSQL it is the store's own function, so engine and store
  agree to the bit there.
- lower, i.e. nearest rank (percentile_disc): the value at rank ⌈n·q⌉. The engines'
  discrete quantiles do not all pick that rank, so it is found with window functions over
  exact integer positions (each quantile a fraction, 3/4 or 9/10, its rank computed with
  integer arithmetic).

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
    if defn.summary.median == "lower":
        return _ranked(rows, keys, value, negative)
    qs = x.quantile([float(q) for q in QUANTILES.values()])
    base = rows.group_by(keys).aggregate(
        n=x.count(), mean_s=x.mean(), negative=rows[negative].sum(), qs=qs
    )
    out: dict[str, Any] = {k: base[k] for k in keys}
    out |= {"n": base.n, "mean_s": base.mean_s, "negative": base.negative}
    for i, name in enumerate(QUANTILES):
        if name == "median_s" and defn.summary.median == "mean":
            out[name] = base.mean_s
        else:
            # no known value: a NULL array, whose every element is NULL
            out[name] = base.qs[i].cast("float64")
    return base.select(**out)


def _ranked(rows: ir.Table, keys: list[str], value: str, negative: str) -> ir.Table:
    """The nearest-rank flavour: each quantile the value at rank ⌈n·q⌉, by window functions."""
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
        picks |= _pick(ranked, value, name, q)
    quantiles = ranked.group_by(keys).aggregate(**picks)
    joined = base.left_join(quantiles, [base[k] == quantiles[k] for k in keys])
    out: dict[str, Any] = {k: base[k] for k in keys}
    out |= {"n": joined.n, "mean_s": joined.mean_s, "negative": joined.negative}
    out |= {name: joined[name] for name in QUANTILES}
    return joined.select(**out)


def _pick(ranked: ir.Table, value: str, name: str, q: Fraction) -> dict[str, Any]:
    """The aggregate picking the value at rank ⌈n·q⌉ (counted from 1) out of ranked rows
    (rank from 0), so at ⌈n·q⌉ − 1."""
    n, rank, x = ranked.size, ranked["rank"], ranked[value]
    at = (n * q.numerator + q.denominator - 1) // q.denominator - 1
    return {name: x.max(where=rank == at)}
