-- The GitHub App (headway/github): its credentials from the manifest conversion, the one-time
-- states that guard that conversion, its installations and the repositories they grant, the
-- flags each pull request touches and the one check run per pull request head that lists them.
-- private_key, webhook_secret and client_secret are read by the server only; no route or
-- command prints them.

CREATE TABLE github_apps (
    id BIGINT PRIMARY KEY,
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    owner TEXT,
    html_url TEXT,
    url TEXT,
    client_id TEXT,
    client_secret TEXT,
    private_key TEXT NOT NULL,
    webhook_secret TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE github_manifest_states (
    state_hash TEXT PRIMARY KEY,
    created_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);

CREATE TABLE github_installations (
    id BIGINT PRIMARY KEY,
    app_id BIGINT NOT NULL,
    account TEXT NOT NULL,
    account_type TEXT,
    created_at TIMESTAMP NOT NULL,
    removed_at TIMESTAMP
);

CREATE TABLE github_repositories (
    installation_id BIGINT NOT NULL,
    id BIGINT NOT NULL,
    full_name TEXT NOT NULL,
    service TEXT NOT NULL,
    added_at TIMESTAMP NOT NULL,
    removed_at TIMESTAMP,
    PRIMARY KEY (installation_id, id)
);

CREATE TABLE github_pull_flags (
    repository TEXT NOT NULL,
    number INTEGER NOT NULL,
    flag TEXT NOT NULL,
    change TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (repository, number, flag)
);

CREATE TABLE github_check_runs (
    repository TEXT NOT NULL,
    head_sha TEXT NOT NULL,
    check_run_id BIGINT NOT NULL,
    number INTEGER NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    PRIMARY KEY (repository, head_sha)
);

CREATE INDEX github_pull_flags_flag ON github_pull_flags (flag);
