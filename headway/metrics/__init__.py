"""Metrics over the canonical store: the five DORA keys, flow stages, friction signals.

Owns: every number Headway reports and the records behind them, read from stored rows.
May import: `definitions`, `linking`, `names`, `store`; never writes, never a service.
"""
