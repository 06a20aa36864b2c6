"""The developer confidence pulse: anonymous answers per team and month, and survey links."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, Table, Text

from headway.store.schema.meta import metadata

pulse_answers = Table(
    "pulse_answers",
    metadata,
    Column("id", Text, primary_key=True),
    Column("team", Text, nullable=False),
    Column("month", Text, nullable=False),
    Column("ship_safely", Integer, nullable=False),
    Column("recover_quickly", Integer, nullable=False),
    Column("release_process", Integer, nullable=False),
    Index("pulse_answers_team_month", "team", "month"),
)

pulse_links = Table(
    "pulse_links",
    metadata,
    Column("code_hash", Text, primary_key=True),
    Column("team", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)
