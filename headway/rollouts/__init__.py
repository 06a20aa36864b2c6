"""Guarded rollouts: staged exposure of a flag's variant, judged by guardrails.

Owns: rollout plans, the controller that advances, pauses or rolls back, guardrail statistics,
samples (from SDKs or Prometheus) and the rollout records (their statements are in
`headway.store.rollouts`).
May import: `flags`, `ingest`, `metrics` (the base of its typed results), `outbound`, `model`,
`config`, `store`; not another service or a surface.

`controller.RolloutService` takes the commands and runs the control loop: `admission` settles
a start (the service its releases count for, what its first stage replaces); it judges a
stage with `judging` (traffic checks from `traffic`, guardrails from `guardrails`, whose terms
are in `verdicts`), reads incoming samples with `intake` (and Prometheus with `prometheus`),
and leaves `delivery` evidence as it completes or rolls back. `plan` is what a rollout is asked
to do, `store` its records and history, `confidence` the signals over all rollouts, and
`simulate` replays the judges over synthetic traffic. `releases` moves the release plans
(`release_plan`) that start rollouts by themselves once a flag's code is deployed.
"""
