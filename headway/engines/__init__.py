"""The analytics engines: the metrics as Ibis expressions, run on DuckDB, PostgreSQL or Spark.

Each figure is one expression built from the canonical tables and compiled per engine by Ibis,
so DuckDB (the embedded store), PostgreSQL (the shared store) and Apache Spark (a local
session or a cluster through Spark Connect, over a Parquet export) give the same numbers.
Writes never come here: they stay on the transactional store (docs/engines.md).

Owns: choosing and connecting an engine (`connect`), the Parquet export Spark reads
(`export`), the relations the figures share (`relations`), percentiles every engine computes
alike (`stats`), the five DORA figures (`dora`), the metric sets built from them (`sets`)
and the flow's moments (`flow`).
May import: `metrics` (for the scope, period and result shapes), `definitions`, `store`,
`config`; nothing below imports it.
"""

from __future__ import annotations

from headway.engines.connect import ENGINES, Engine, EngineError, connect

__all__ = ["ENGINES", "Engine", "EngineError", "connect"]
