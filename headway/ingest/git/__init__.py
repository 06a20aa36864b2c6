"""`headway import git` against the store: the adapter in `sources.git` reads the repository
and derives records; this package reads what earlier imports and webhooks stored (`previous`,
`hosted`), hands it to the derivation, and writes the records through `ingest.records` in one
transaction (`importer`, the whole history; `reimport`, only what is new).

Owns: importing a repository's history into the store, whole or incrementally.
May import: what `headway.ingest` may, and its sibling modules.
"""

from headway.ingest.git.importer import import_repository
from headway.ingest.git.run import ImportReport

__all__ = ["ImportReport", "import_repository"]
