"""The GitHub App: its registration, installations, repositories, check runs, flagged pull
requests and the rules that say which changes touch risky code."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, Table, Text

from headway.store.schema.meta import metadata

github_apps = Table(
    "github_apps",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("slug", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("owner", Text),
    Column("html_url", Text),
    Column("url", Text),
    Column("client_id", Text),
    Column("client_secret", Text),
    Column("private_key", Text, nullable=False),
    Column("webhook_secret", Text, nullable=False),
    Column("created_at", DateTime, nullable=False),
)

github_installations = Table(
    "github_installations",
    metadata,
    Column("id", BigInteger, primary_key=True),
    Column("app_id", BigInteger, nullable=False),
    Column("account", Text, nullable=False),
    Column("account_type", Text),
    Column("created_at", DateTime, nullable=False),
    Column("removed_at", DateTime),
)

github_repositories = Table(
    "github_repositories",
    metadata,
    Column("installation_id", BigInteger, primary_key=True),
    Column("id", BigInteger, primary_key=True),
    Column("full_name", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("added_at", DateTime, nullable=False),
    Column("removed_at", DateTime),
)

github_check_runs = Table(
    "github_check_runs",
    metadata,
    Column("repository", Text, primary_key=True),
    Column("head_sha", Text, primary_key=True),
    Column("check_run_id", BigInteger, nullable=False),
    Column("number", Integer, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)

github_manifest_states = Table(
    "github_manifest_states",
    metadata,
    Column("state_hash", Text, primary_key=True),
    Column("created_at", DateTime, nullable=False),
    Column("used_at", DateTime),
)

github_pull_flags = Table(
    "github_pull_flags",
    metadata,
    Column("repository", Text, primary_key=True),
    Column("number", Integer, primary_key=True),
    Column("flag", Text, primary_key=True),
    Column("change", Text, nullable=False),
    Column("head_sha", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
    Index("github_pull_flags_flag", "flag"),
)

github_risky_rules = Table(
    "github_risky_rules",
    metadata,
    Column("repository", Text, primary_key=True),
    Column("paths", Text, nullable=False),
    Column("min_lines", Integer),
    Column("updated_by", Text, nullable=False),
    Column("updated_at", DateTime, nullable=False),
)
