-- Scheduled flag changes: a switch on or off, a kill or a variant served, in one environment,
-- at an instant (run_at, UTC) a person gave in a time zone (zone, kept to show it back).
-- state is pending, claimed, applied, failed or cancelled. A runner takes a pending row with
-- an UPDATE that only one runner can win (claimed_by, claimed_at, attempts); the change and
-- the row's `applied` are committed in one transaction, so a claimed row whose runner stopped
-- was never applied and is taken again once its claim is stale (docs/decisions.md).

CREATE TABLE flag_schedules (
    id TEXT PRIMARY KEY,
    flag TEXT NOT NULL,
    environment TEXT NOT NULL,
    action TEXT NOT NULL,
    variant TEXT,
    run_at TIMESTAMP NOT NULL,
    zone TEXT NOT NULL,
    reason TEXT,
    state TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    claimed_by TEXT,
    claimed_at TIMESTAMP,
    attempts INTEGER NOT NULL,
    finished_at TIMESTAMP,
    outcome TEXT,
    flag_version INTEGER
);

CREATE INDEX flag_schedules_due ON flag_schedules (state, run_at);
CREATE INDEX flag_schedules_flag ON flag_schedules (flag, run_at);
