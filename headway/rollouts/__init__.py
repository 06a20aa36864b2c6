"""Guarded rollouts: staged exposure of a flag's variant, judged by guardrails.

Owns: rollout plans, the controller that advances, pauses or rolls back, guardrail statistics,
samples (from SDKs or Prometheus) and the rollout tables.
May import: `flags`, `ingest`, `outbound`, `model`, `config`, `store`; not another service
or a surface.
"""
