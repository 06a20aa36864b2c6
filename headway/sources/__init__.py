"""Source adapters: each knows one system's payloads and turns them into canonical records.

Owns: parsing and validating each source's input (files, git, CDEvents, webhooks).
May import: `ingest`, `model`, `names`, `ordering`, `values`, `config`, `store`; not the
services that call it (`deliveries`) nor a surface.
"""
