"""`headway import git` against the store: the adapter in `sources.git` reads the repository
and derives records; this package reads what earlier imports and webhooks stored (`previous`,
`hosted`), hands it to the derivation, and writes the records through `ingest.records` in one
transaction (`importer`, the whole history; `reimport`, only what is new).

May import: what `headway.ingest` may, and its sibling modules.
"""

from headway.ingest.git.importer import import_repository
from headway.ingest.git.run import ImportReport

__all__ = ["ImportReport", "import_repository"]
