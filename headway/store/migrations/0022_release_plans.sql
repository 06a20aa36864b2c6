-- Release plans: how a flag goes from off to everyone, environment by environment, once the
-- code behind it is deployed there. One row per flag (`*` is the plan given to each flag a
-- pull request adds from then on). `document` is the plan as validated JSON; `state`, `step`
-- and `since` are where it stands, and `version` orders concurrent servers: a move is an
-- UPDATE of the version it read, so only one server makes it.

CREATE TABLE release_plans (
    flag TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    state TEXT NOT NULL,
    step INTEGER NOT NULL,
    since TIMESTAMP NOT NULL,
    reason TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
