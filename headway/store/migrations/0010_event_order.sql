-- The newest source event applied to each record a source keeps changing (a deployment's
-- status, an incident's state): its own event id and time (headway/ordering.py). An event
-- that is not newer (a replay under a new delivery id, an older status arriving late)
-- changes nothing. `id` is '<table> <record id>'.
CREATE TABLE event_order (
    id TEXT PRIMARY KEY,
    record_table TEXT NOT NULL,
    record_id TEXT NOT NULL,
    event TEXT NOT NULL,
    occurred_at TIMESTAMP NOT NULL
);
