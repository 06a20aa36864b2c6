-- Where flags are used in code: one row per scan of a repository at a commit, and one per
-- file:line reference a scan found. The newest scan of a repository is its current state;
-- older scans stay so a flag's references can be followed from commit to commit.
-- A flag's created and released dates need no column: they are read from flag_versions.

CREATE TABLE flag_ref_scans (
    id TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    commit_sha TEXT,
    files INTEGER NOT NULL,
    actor TEXT NOT NULL,
    scanned_at TIMESTAMP NOT NULL
);

CREATE TABLE flag_refs (
    scan TEXT NOT NULL,
    flag TEXT NOT NULL,
    path TEXT NOT NULL,
    line INTEGER NOT NULL,
    pattern TEXT NOT NULL,
    PRIMARY KEY (scan, flag, path, line)
);

CREATE INDEX flag_ref_scans_repository ON flag_ref_scans (repository, scanned_at);
CREATE INDEX flag_refs_flag ON flag_refs (flag);
