-- Roles scoped to teams or environments, and the people who sign in through an identity
-- provider. A scope is a JSON array of names; NULL (every token made before this migration)
-- spans every team or environment.
ALTER TABLE api_tokens ADD COLUMN teams TEXT;
ALTER TABLE api_tokens ADD COLUMN environments TEXT;

-- A person known to Headway, by e-mail address. `role_from` says who decides the role:
-- `admin` (set with `headway users add` or `set-role`, kept over sign-ins) or `groups` (the
-- identity provider's group claims, mapped by HEADWAY_OIDC_ROLE_MAP at each sign-in). A
-- removed user keeps the row (removed_at), so signing in again is refused until an admin
-- adds them back.
CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL,
    name TEXT NOT NULL,
    role TEXT,
    role_from TEXT NOT NULL,
    teams TEXT,
    environments TEXT,
    subject TEXT,
    created_by TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    signed_in_at TIMESTAMP,
    removed_at TIMESTAMP
);

CREATE UNIQUE INDEX users_email ON users (email);
