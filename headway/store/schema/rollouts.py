"""Rollouts, their events and the guardrail samples they are judged on."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Double, Index, Integer, Table, Text

from headway.store.schema.meta import metadata

rollouts = Table(
    "rollouts",
    metadata,
    Column("id", Text, primary_key=True),
    Column("flag", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("plan", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("stage_index", Integer, nullable=False),
    Column("stage_started_at", DateTime, nullable=False),
    Column("started_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("waiting_since", DateTime),
    Column("reason", Text),
    Column("judgement", Text),
    Column("created_by", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("rollouts_flag_env", "flag", "environment", "state"),
)

rollout_events = Table(
    "rollout_events",
    metadata,
    Column("id", Text, primary_key=True),
    Column("rollout_id", Text, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("occurred_at", DateTime, nullable=False),
    Column("kind", Text, nullable=False),
    Column("stage_index", Integer, nullable=False),
    Column("percent", Double, nullable=False),
    Column("actor", Text, nullable=False),
    Column("explanation", Text, nullable=False),
    Column("detail", Text),
    Index("rollout_events_rollout", "rollout_id", "occurred_at"),
)

guardrail_samples = Table(
    "guardrail_samples",
    metadata,
    Column("id", Text, primary_key=True),
    Column("batch", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("flag", Text, nullable=False),
    Column("variant", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("n", Double, nullable=False),
    Column("total", Double, nullable=False),
    Column("sumsq", Double, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("source", Text, nullable=False),
    Column("rollout_id", Text),
    Column("stage_index", Integer),
    Index("guardrail_samples_rollout", "rollout_id", "metric", "variant"),
    Index("guardrail_samples_env_metric", "environment", "metric"),
)

release_plans = Table(
    "release_plans",
    metadata,
    Column("flag", Text, primary_key=True),
    Column("document", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("step", Integer, nullable=False),
    Column("since", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
