"""The GitHub App: its manifest, its credentials, app and installation tokens, the REST client,
the repositories its installations bring in as services, and the check runs of pull requests.

Owns: what the GitHub App keeps (its tables' statements are in `headway.store.github` and
`headway.store.github_rules`), the REST calls Headway makes to GitHub, and the risky-code rules
that mark a pull request touching risky code without a flag (`risky`).
May import: the domain (`ingest`, `sources`, `flags`), `store`, `config`, `model`; never the
surfaces above it. Webhook payloads of other events stay with `sources.github`.
"""
