"""Source adapters: each knows one system's input and turns it into canonical records.

Owns: parsing and validating each source's input (files, git, CDEvents, webhooks) into the
records of `model`, and the pure rules that name a record as its source names it (a pull
request, a direct commit, which commits a rebase merge brought). Nothing here reads or writes
the store: what an adapter needs of stored state (the git import's previous run, the webhooks'
pull requests) is passed in by `ingest`, which writes what the adapters return.

May import: `model`, `names`, `ordering`, `values`, `config`; never `store`, `linking`,
`definitions` (an import-linter contract forbids them), nor `ingest` or anything above it.
"""
