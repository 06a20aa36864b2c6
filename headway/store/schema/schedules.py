"""Scheduled flag changes (migration 0019_flag_schedules.sql)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, Table, Text

from headway.store.schema.meta import metadata

flag_schedules = Table(
    "flag_schedules",
    metadata,
    Column("id", Text, primary_key=True),
    Column("flag", Text, nullable=False),
    Column("environment", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("variant", Text),
    Column("run_at", DateTime, nullable=False),
    Column("zone", Text, nullable=False),
    Column("reason", Text),
    Column("state", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("claimed_by", Text),
    Column("claimed_at", DateTime),
    Column("attempts", Integer, nullable=False),
    Column("finished_at", DateTime),
    Column("outcome", Text),
    Column("flag_version", Integer),
    Index("flag_schedules_due", "state", "run_at"),
    Index("flag_schedules_flag", "flag", "run_at"),
)
