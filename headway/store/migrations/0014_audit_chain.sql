-- The audit log becomes a hash chain: each entry carries its place (seq), the hash of the entry
-- before it and its own hash, so an edited, removed or reordered entry is found by
-- `headway audit verify`. audit_head holds the newest place and hash; entries written before
-- this migration are sealed into the chain, in the order they happened, by the next change.
ALTER TABLE audit_log ADD COLUMN seq BIGINT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;
CREATE TABLE audit_head (id INTEGER PRIMARY KEY, seq BIGINT NOT NULL, hash TEXT NOT NULL);
INSERT INTO audit_head VALUES (1, 0, '');
CREATE INDEX audit_log_seq ON audit_log (seq);
