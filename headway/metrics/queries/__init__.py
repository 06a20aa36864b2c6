"""The metrics' SQL: every statement a number or a record behind it is read with, built with
SQLAlchemy Core from the tables of `headway.store.schema` and run by `Store.rows`/`dicts`.

Owns: the metric queries, the one place outside `store` that holds SQL.
May import: `definitions`, `model`, `store`, SQLAlchemy and `metrics.refine` (the names a
list is refined by); no other `metrics` module: those call these functions and work on the
rows they answer.

`rules` compiles a definition into the conditions and columns every query shares (what a
deployment counts as, spans, lead time) and `failure` into the evidence that a deployment
failed, rework and incident attribution; one module per area runs its statements: `dora`
(the five keys), `signals` (the records the friction signals are computed from), `records`
(the records behind a number, refined and paged), `flow` (the moments of shipped changes and
the work still waiting) and `scope` (services and their teams).
"""
