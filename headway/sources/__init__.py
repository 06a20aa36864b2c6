"""Source adapters: each knows one system's payloads and turns them into canonical records."""
