"""The GitHub App: its manifest, its credentials, app and installation tokens, the REST client,
and the repositories its installations bring in as services.

Owns: what the GitHub App keeps (its tables' statements are in `headway.store.github`), the
REST calls Headway makes to GitHub.
May import: the domain (`ingest`, `sources`, `flags`), `store`, `config`, `model`; never the
surfaces above it. Webhook payloads of other events stay with `sources.github`.
"""
