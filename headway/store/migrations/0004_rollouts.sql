-- Guarded rollouts (DESIGN §7): the rollout itself, every move and judgement it made, and the
-- aggregated guardrail samples it judged. Portable SQL for DuckDB and PostgreSQL.

CREATE TABLE rollouts (
    id TEXT PRIMARY KEY,
    flag TEXT NOT NULL,
    environment TEXT NOT NULL,
    service TEXT NOT NULL,
    plan TEXT NOT NULL,
    state TEXT NOT NULL,
    stage_index INTEGER NOT NULL,
    stage_started_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP,
    waiting_since TIMESTAMP,
    reason TEXT,
    judgement TEXT,
    created_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE rollout_events (
    id TEXT PRIMARY KEY,
    rollout_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    occurred_at TIMESTAMP NOT NULL,
    kind TEXT NOT NULL,
    stage_index INTEGER NOT NULL,
    percent DOUBLE PRECISION NOT NULL,
    actor TEXT NOT NULL,
    explanation TEXT NOT NULL,
    detail TEXT
);

-- One row per batch (a redelivered batch is an upsert): n / total / sumsq of one metric on one variant. metric '$exposures'
-- carries evaluations (n). rollout_id and stage_index say which rollout stage was live.
CREATE TABLE guardrail_samples (
    id TEXT PRIMARY KEY,
    batch TEXT NOT NULL,
    environment TEXT NOT NULL,
    flag TEXT NOT NULL,
    variant TEXT NOT NULL,
    metric TEXT NOT NULL,
    n DOUBLE PRECISION NOT NULL,
    total DOUBLE PRECISION NOT NULL,
    sumsq DOUBLE PRECISION NOT NULL,
    received_at TIMESTAMP NOT NULL,
    source TEXT NOT NULL,
    rollout_id TEXT,
    stage_index INTEGER
);

CREATE INDEX rollouts_flag_env ON rollouts (flag, environment, state);
CREATE INDEX rollout_events_rollout ON rollout_events (rollout_id, occurred_at);
CREATE INDEX guardrail_samples_rollout ON guardrail_samples (rollout_id, metric, variant);
CREATE INDEX guardrail_samples_env_metric ON guardrail_samples (environment, metric);
