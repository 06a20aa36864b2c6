-- Webhook delivery bookkeeping. A delivery itself is a raw_events row (id '<source>:<delivery
-- id>', so a redelivery is found by key); these tables remember what was derived from it.

-- Commits a push listed, with their timestamps: a merged pull request's first commit is the
-- earliest commit of the push whose head is its merge commit.
CREATE TABLE seen_commits (
    id TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    repository TEXT NOT NULL,
    push_head TEXT NOT NULL,
    sha TEXT NOT NULL,
    committed_at TIMESTAMP NOT NULL
);

-- Which canonical record each raw event produced, so `headway reprocess` can remove exactly
-- what webhooks derived before deriving it again under the current mapping.
CREATE TABLE derived_records (
    id TEXT PRIMARY KEY,
    raw_event_id TEXT NOT NULL,
    record_table TEXT NOT NULL,
    record_id TEXT NOT NULL
);

CREATE INDEX seen_commits_head ON seen_commits (repository, push_head);
CREATE INDEX derived_records_raw ON derived_records (raw_event_id);
CREATE INDEX raw_events_source ON raw_events (source, status);
