-- Feature flags (DESIGN section 6): environments, flags with every version kept, reusable
-- segments, API tokens (stored hashed) and SDK exposure counts. Documents are JSON text
-- validated by headway.flags.model; audit rows go to the shared audit_log table.

CREATE TABLE environments (
    key TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    position INTEGER NOT NULL,
    created_at TIMESTAMP NOT NULL
);

INSERT INTO environments VALUES ('development', 'Development', NULL, 0, CURRENT_TIMESTAMP);
INSERT INTO environments VALUES ('staging', 'Staging', NULL, 1, CURRENT_TIMESTAMP);
INSERT INTO environments VALUES ('production', 'Production', NULL, 2, CURRENT_TIMESTAMP);

CREATE TABLE flags (
    key TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    type TEXT NOT NULL,
    owner TEXT NOT NULL,
    archived BOOLEAN NOT NULL,
    document TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE flag_versions (
    flag TEXT NOT NULL,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    comment TEXT,
    created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (flag, version)
);

CREATE TABLE segments (
    key TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    document TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    environment TEXT,
    name TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP
);

CREATE TABLE flag_exposures (
    batch TEXT NOT NULL,
    environment TEXT NOT NULL,
    flag TEXT NOT NULL,
    variant TEXT NOT NULL,
    count BIGINT NOT NULL,
    window_start TIMESTAMP NOT NULL,
    window_end TIMESTAMP NOT NULL,
    received_at TIMESTAMP NOT NULL,
    PRIMARY KEY (batch, flag, variant)
);

CREATE INDEX flag_exposures_flag ON flag_exposures (environment, flag, window_end);
CREATE UNIQUE INDEX api_tokens_secret ON api_tokens (secret_hash);
