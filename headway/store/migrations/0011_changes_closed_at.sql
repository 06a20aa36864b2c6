-- When a pull or merge request was closed without being merged. Without it an abandoned
-- request looks open for ever, and the flow breakdown's queue of open requests would hold
-- every request a team ever gave up on.
ALTER TABLE changes ADD COLUMN closed_at TIMESTAMP;
