"""Headway: measure how change flows from commit to users, and control that flow.

Packages import downwards only (pyproject.toml, [tool.importlinter]; docs/architecture.md):
`cli`, then `api`; the services `deliveries`, `interpret`, `rollouts`, `sdk`; the domain
`ingest`, `metrics`, `flags`, `sources`, `query`, `output`; the rules `definitions` and
`linking`; the `store`; and `config`, `outbound`, `model`, `names`, `ordering`, `values`,
`simulate`, which need nothing of Headway.
"""

__version__ = "0.1.0"
