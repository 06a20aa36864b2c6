-- A token may expire: after expires_at it is refused like a revoked one, and its open streams
-- end. NULL keeps a token until it is revoked (every token made before this migration).
ALTER TABLE api_tokens ADD COLUMN expires_at TIMESTAMP;
