"""Delivery records (changes, deployments, incidents, …), services, notes, definitions and settings.

(No `from __future__ import annotations` here: the notes table is named `annotations`.)
"""

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, Table, Text

from headway.store.schema.meta import metadata

changes = Table(
    "changes",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("repository", Text),
    Column("author", Text),
    Column("number", BigInteger),
    Column("title", Text),
    Column("labels", Text),
    Column("first_commit_at", DateTime),
    Column("opened_at", DateTime),
    Column("first_review_at", DateTime),
    Column("approved_at", DateTime),
    Column("merged_at", DateTime),
    Column("merge_sha", Text),
    Column("additions", BigInteger),
    Column("deletions", BigInteger),
    Column("files", BigInteger),
    Column("is_revert", Boolean),
    Column("reverts", Text),
    Column("deployment_ref", Text),
    Column("deployment_id", Text),
    Column("closed_at", DateTime),
    Index("changes_service_merged", "service", "merged_at"),
    Index("changes_deployment", "deployment_id"),
    Index("changes_repository_merge_sha", "repository", "merge_sha"),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("finished_at", DateTime, nullable=False),
    Column("environment", Text, nullable=False),
    Column("started_at", DateTime),
    Column("status", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("sha", Text),
    Column("version", Text),
    Column("trigger", Text),
    Column("recovers", Text),
    Column("evidence", Text),
    Column("recovers_id", Text),
    Index("deployments_service_finished", "service", "finished_at"),
)

incidents = Table(
    "incidents",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("opened_at", DateTime, nullable=False),
    Column("acknowledged_at", DateTime),
    Column("resolved_at", DateTime),
    Column("severity", Text),
    Column("customer_impact", Boolean),
    Column("title", Text),
    Column("labels", Text),
    Column("cause_ref", Text),
    Column("deployment_id", Text),
    Column("attribution", Text),
    Column("url", Text),
    Index("incidents_service_opened", "service", "opened_at"),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("service", Text),
    Column("repository", Text),
    Column("workflow", Text),
    Column("sha", Text),
    Column("started_at", DateTime),
    Column("finished_at", DateTime),
    Column("conclusion", Text),
    Column("deployment_ref", Text),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("change_ref", Text),
    Column("deployment_ref", Text),
    Column("service", Text),
    Column("requested_at", DateTime),
    Column("decided_at", DateTime),
    Column("decision", Text),
    Column("actor", Text),
)

defects = Table(
    "defects",
    metadata,
    Column("id", Text, primary_key=True),
    Column("source", Text, nullable=False),
    Column("source_id", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("found_at", DateTime, nullable=False),
    Column("severity", Text),
    Column("title", Text),
    Column("change_ref", Text),
    Column("deployment_ref", Text),
)

services = Table(
    "services",
    metadata,
    Column("name", Text, primary_key=True),
    Column("team", Text),
    Column("context", Text, nullable=False),
    Column("repository", Text),
    Column("owners", Text),
)

annotations = Table(
    "annotations",
    metadata,
    Column("id", Text, primary_key=True),
    Column("scope", Text, nullable=False),
    Column("period_start", DateTime, nullable=False),
    Column("period_end", DateTime, nullable=False),
    Column("kind", Text, nullable=False),
    Column("text", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

definitions = Table(
    "definitions",
    metadata,
    Column("id", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("author", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("reason", Text, nullable=False),
)

settings = Table(
    "settings",
    metadata,
    Column("key", Text, primary_key=True),
    Column("value", Text, nullable=False),
)

schema_migrations = Table(
    "schema_migrations",
    metadata,
    Column("name", Text, primary_key=True),
    Column("applied_at", DateTime, nullable=False),
)
