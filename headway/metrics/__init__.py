"""Metrics over the canonical store: the five DORA keys, flow stages, friction signals.

Owns: every number Headway reports and the records behind them, read from stored rows.
May import: `definitions`, `linking`, `model`, `names`, `values` and `store` (to read);
never writes, never a service or a surface.

What a number is computed over is `scope` (scope, period, trend buckets). `dora` computes the
five keys from the rows `dora_queries` aggregates, with levels from `bands`; `flow` breaks
lead time into the `stages` of each change and the `waiting` work in progress; `signals`
computes the friction signals from `signal_rows`, with `concentration` for where failures
cluster. `durations` is the statistics all of them share, `records` the records behind a
number (refined as `refine` names), `compare` the same numbers under two definitions,
`attribution` how well a definition blames incidents on their true causes, `release` the
release lead time beside the five (to the moment a change's flags reached everyone), and
`results` the typed documents they all answer. Their SQL is all in `queries`, built with
SQLAlchemy Core; no other module of the package writes any.
"""
