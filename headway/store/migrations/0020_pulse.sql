-- The developer confidence pulse: three answers from 1 to 5, kept anonymous. An answer keeps
-- its team, its month (YYYY-MM) and its three scores, nothing else: no token, user, address,
-- link or time of day, so no row can be traced to whoever gave it.
CREATE TABLE pulse_answers (
    id TEXT PRIMARY KEY,
    team TEXT NOT NULL,
    month TEXT NOT NULL,
    ship_safely INTEGER NOT NULL,
    recover_quickly INTEGER NOT NULL,
    release_process INTEGER NOT NULL
);

CREATE INDEX pulse_answers_team_month ON pulse_answers (team, month);

-- A link anyone may answer a team's pulse through, without a token, until it expires. Only
-- the SHA-256 digest of its random code is kept: the code is shown once, when it is made.
CREATE TABLE pulse_links (
    code_hash TEXT PRIMARY KEY,
    team TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
