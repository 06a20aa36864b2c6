"""The schema, declared once: every table, its keys and its indexes, as SQLAlchemy Core.

Queries are built from these tables (`select(flags.c.key)…`), never by pasting SQL text. The
migrations in `migrations/` are the schema's history and create it in a store;
`tests/store/test_schema.py` checks that a migrated store, on DuckDB and on PostgreSQL, has
exactly the tables, columns, keys and indexes declared here. A change to the schema is a new
migration and the same change here.

DuckDB skips the indexes (see `Store.migrate`); they are declared for PostgreSQL.

Owns: the declaration of every table.
May import: SQLAlchemy only.
"""

from headway.store.schema.audit import audit_head, audit_log
from headway.store.schema.flags import (
    api_tokens,
    environments,
    flag_exposures,
    flag_ref_scans,
    flag_refs,
    flag_versions,
    flags,
    segments,
    users,
)
from headway.store.schema.github import (
    github_apps,
    github_check_runs,
    github_installations,
    github_manifest_states,
    github_pull_flags,
    github_repositories,
    github_risky_rules,
)
from headway.store.schema.ingest import (
    derived_records,
    event_order,
    folded_changes,
    raw_events,
    seen_commits,
)
from headway.store.schema.meta import metadata
from headway.store.schema.pulse import pulse_answers, pulse_links
from headway.store.schema.records import (
    annotations,
    approvals,
    changes,
    defects,
    definitions,
    deployments,
    incidents,
    pipeline_runs,
    schema_migrations,
    services,
    settings,
)
from headway.store.schema.rollouts import (
    guardrail_samples,
    release_plans,
    rollout_events,
    rollouts,
)
from headway.store.schema.schedules import flag_schedules

__all__ = [
    "annotations",
    "api_tokens",
    "approvals",
    "audit_head",
    "audit_log",
    "changes",
    "defects",
    "definitions",
    "deployments",
    "derived_records",
    "environments",
    "event_order",
    "flag_exposures",
    "flag_ref_scans",
    "flag_refs",
    "flag_schedules",
    "flag_versions",
    "flags",
    "folded_changes",
    "github_apps",
    "github_check_runs",
    "github_installations",
    "github_manifest_states",
    "github_pull_flags",
    "github_repositories",
    "github_risky_rules",
    "guardrail_samples",
    "incidents",
    "metadata",
    "pipeline_runs",
    "pulse_answers",
    "pulse_links",
    "raw_events",
    "release_plans",
    "rollout_events",
    "rollouts",
    "schema_migrations",
    "seen_commits",
    "segments",
    "services",
    "settings",
    "users",
]
