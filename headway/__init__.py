"""Headway: measure how change flows from commit to users, and control that flow.

Packages import downwards only (pyproject.toml, [tool.importlinter]; docs/architecture.md):
`cli`, then `api`; the services `interpret`, `rollouts`, `sdk`; the domain `ingest` (the one
write path), `metrics`, `flags`, `query`, `output`; the adapters in `sources`; the rules
`definitions` and `linking`; the `store`; and `audited`, `config`, `config_values`, `outbound`,
`model`, `names`, `ordering`, `values`, `simulate`, which need nothing of Headway.
"""

__version__ = "0.1.0"
