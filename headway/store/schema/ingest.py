"""What ingest keeps besides records: raw events, what they derived, event order, commits seen and folds."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Table, Text

from headway.store.schema.meta import metadata

raw_events = Table(
    "raw_events",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Column("payload", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("note", Text),
    Column("default_service", Text),
    Index("raw_events_source", "source", "status"),
)

derived_records = Table(
    "derived_records",
    metadata,
    Column("id", Text, primary_key=True),
    Column("raw_event_id", Text, nullable=False),
    Column("record_table", Text, nullable=False),
    Column("record_id", Text, nullable=False),
    Index("derived_records_raw", "raw_event_id"),
)

event_order = Table(
    "event_order",
    metadata,
    Column("id", Text, primary_key=True),
    Column("record_table", Text, nullable=False),
    Column("record_id", Text, nullable=False),
    Column("event", Text, nullable=False),
    Column("occurred_at", DateTime, nullable=False),
)

seen_commits = Table(
    "seen_commits",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("repository", Text, nullable=False),
    Column("push_head", Text, nullable=False),
    Column("sha", Text, nullable=False),
    Column("committed_at", DateTime, nullable=False),
    Index("seen_commits_head", "repository", "push_head"),
    Index("seen_commits_sha", "repository", "sha"),
)

folded_changes = Table(
    "folded_changes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("repository", Text, nullable=False),
    Column("sha", Text, nullable=False),
    Column("request", Text, nullable=False),
    Column("is_last", Boolean, nullable=False),
    Column("record", Text, nullable=False),
    Column("named_by", Text, nullable=False),
    Index("folded_changes_request", "request"),
)
