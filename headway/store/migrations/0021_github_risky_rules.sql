-- Which changes the GitHub App marks as touching risky code without a flag (headway/github/
-- risky.py): per repository (owner/name, lower case) or '*' for every repository without a
-- rule of its own. `paths` is a JSON list of gitignore-style patterns; `min_lines` the changed
-- lines (additions plus deletions) from which a change is risky whatever files it touches.
CREATE TABLE github_risky_rules (
    repository TEXT PRIMARY KEY,
    paths TEXT NOT NULL,
    min_lines INTEGER,
    updated_by TEXT NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
