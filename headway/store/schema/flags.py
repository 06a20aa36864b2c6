"""Flags, their versions, segments, environments, tokens, exposures and code references."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, Index, Integer, Table, Text

from headway.store.schema.meta import metadata

flags = Table(
    "flags",
    metadata,
    Column("key", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("owner", Text, nullable=False),
    Column("archived", Boolean, nullable=False),
    Column("document", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

flag_versions = Table(
    "flag_versions",
    metadata,
    Column("flag", Text, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("document", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("comment", Text),
    Column("created_at", DateTime, nullable=False),
)

segments = Table(
    "segments",
    metadata,
    Column("key", Text, primary_key=True),
    Column("version", Integer, nullable=False),
    Column("document", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("key", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("description", Text),
    Column("position", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("cors_origins", Text),
)

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Text, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("environment", Text),
    Column("name", Text, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    Column("expires_at", DateTime),
    Column("teams", Text),  # JSON array; NULL spans every team
    Column("environments", Text),  # JSON array; NULL spans every environment
    Index("api_tokens_secret", "secret_hash", unique=True),
)

# People who sign in through the identity provider (headway.flags.users).
users = Table(
    "users",
    metadata,
    Column("id", Text, primary_key=True),
    Column("email", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("role", Text),
    Column("role_from", Text, nullable=False),
    Column("teams", Text),
    Column("environments", Text),
    Column("subject", Text),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("signed_in_at", DateTime),
    Column("removed_at", DateTime),
    Index("users_email", "email", unique=True),
)

flag_exposures = Table(
    "flag_exposures",
    metadata,
    Column("batch", Text, primary_key=True),
    Column("environment", Text, nullable=False),
    Column("flag", Text, primary_key=True),
    Column("variant", Text, primary_key=True),
    Column("count", BigInteger, nullable=False),
    Column("window_start", DateTime, nullable=False),
    Column("window_end", DateTime, nullable=False),
    Column("received_at", DateTime, nullable=False),
    Index("flag_exposures_flag", "environment", "flag", "window_end"),
)

flag_refs = Table(
    "flag_refs",
    metadata,
    Column("scan", Text, primary_key=True),
    Column("flag", Text, primary_key=True),
    Column("path", Text, primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("pattern", Text, nullable=False),
    Index("flag_refs_flag", "flag"),
)

flag_ref_scans = Table(
    "flag_ref_scans",
    metadata,
    Column("id", Text, primary_key=True),
    Column("repository", Text, nullable=False),
    Column("commit_sha", Text),
    Column("files", Integer, nullable=False),
    Column("actor", Text, nullable=False),
    Column("scanned_at", DateTime, nullable=False),
    Index("flag_ref_scans_repository", "repository", "scanned_at"),
)
