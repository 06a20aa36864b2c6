-- The direct changes webhooks folded into a pull request merged by rebase after `headway import
-- git` had stored them (headway/sources/rebase_folds.py): the request's last commit and the
-- commits taken in before it, each as it was stored, so a push delivered later that shows one
-- came by itself can take it back out. One row per commit of a repository: `id` is
-- '<repository>@<sha>'.
CREATE TABLE folded_changes (
    id TEXT PRIMARY KEY,
    repository TEXT NOT NULL,
    sha TEXT NOT NULL,
    request TEXT NOT NULL,
    is_last BOOLEAN NOT NULL,
    -- the direct change as it was stored, JSON
    record TEXT NOT NULL,
    -- the records that named it and name the request since, JSON [[table, column, id], ...]
    named_by TEXT NOT NULL
);

CREATE INDEX folded_changes_request ON folded_changes (request);
