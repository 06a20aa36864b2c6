-- Canonical delivery tables (DESIGN §3). Portable SQL: runs unchanged on DuckDB and PostgreSQL.
-- A record's id is '<source>:<source_id>' and source names never contain ':', so the
-- primary key is also the (source, source_id) uniqueness rule.
-- Timestamps are UTC, stored without a zone. Lists (labels, owners) are JSON text.

CREATE TABLE services (
    name TEXT PRIMARY KEY,
    team TEXT,
    context TEXT NOT NULL,
    repository TEXT,
    owners TEXT
);

CREATE TABLE changes (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    service TEXT NOT NULL,
    repository TEXT,
    author TEXT,
    number BIGINT,
    title TEXT,
    labels TEXT,
    first_commit_at TIMESTAMP,
    opened_at TIMESTAMP,
    first_review_at TIMESTAMP,
    approved_at TIMESTAMP,
    merged_at TIMESTAMP,
    merge_sha TEXT,
    additions BIGINT,
    deletions BIGINT,
    files BIGINT,
    is_revert BOOLEAN,
    reverts TEXT,
    deployment_ref TEXT,
    -- derived by linking: the deployment that shipped this change first
    deployment_id TEXT
);

CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    change_ref TEXT,
    deployment_ref TEXT,
    service TEXT,
    requested_at TIMESTAMP,
    decided_at TIMESTAMP,
    decision TEXT,
    actor TEXT
);

CREATE TABLE pipeline_runs (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    service TEXT,
    repository TEXT,
    workflow TEXT,
    sha TEXT,
    started_at TIMESTAMP,
    finished_at TIMESTAMP,
    conclusion TEXT,
    deployment_ref TEXT
);

CREATE TABLE deployments (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    service TEXT NOT NULL,
    finished_at TIMESTAMP NOT NULL,
    environment TEXT NOT NULL,
    started_at TIMESTAMP,
    status TEXT NOT NULL,
    kind TEXT NOT NULL,
    sha TEXT,
    version TEXT,
    "trigger" TEXT,
    recovers TEXT,
    evidence TEXT,
    -- derived by linking: the failed deployment this rollback/hotfix repairs
    recovers_id TEXT
);

CREATE TABLE incidents (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    service TEXT NOT NULL,
    opened_at TIMESTAMP NOT NULL,
    acknowledged_at TIMESTAMP,
    resolved_at TIMESTAMP,
    severity TEXT,
    customer_impact BOOLEAN,
    title TEXT,
    labels TEXT,
    cause_ref TEXT,
    -- derived by linking: the deployment blamed, and the rule that blamed it
    deployment_id TEXT,
    attribution TEXT
);

CREATE TABLE defects (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    service TEXT NOT NULL,
    found_at TIMESTAMP NOT NULL,
    severity TEXT,
    title TEXT,
    change_ref TEXT,
    deployment_ref TEXT
);

CREATE TABLE raw_events (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    source_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    received_at TIMESTAMP NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT
);

-- Every definition ever made active, newest last: the active one is the latest row.
CREATE TABLE definitions (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    version INTEGER NOT NULL,
    body TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    reason TEXT NOT NULL
);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE annotations (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    period_start TIMESTAMP NOT NULL,
    period_end TIMESTAMP NOT NULL,
    kind TEXT NOT NULL,
    text TEXT NOT NULL,
    author TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    actor TEXT NOT NULL,
    entity TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    action TEXT NOT NULL,
    before TEXT,
    after TEXT
);

CREATE INDEX changes_service_merged ON changes (service, merged_at);
CREATE INDEX changes_deployment ON changes (deployment_id);
CREATE INDEX deployments_service_finished ON deployments (service, finished_at);
CREATE INDEX incidents_service_opened ON incidents (service, opened_at);
