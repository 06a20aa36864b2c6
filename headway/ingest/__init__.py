"""The one write path: records in, reconciled with what is stored, written in one
transaction, then re-linked.

Owns: every write of delivery records: webhook deliveries (`deliveries`, top to bottom: parse,
records, reconcile, write, link; `writer` groups concurrent ones, `reprocess` derives stored
ones again), files and other record streams (`records.ingest`), and `headway import git`
(`git`). Reconciling is pure (`reconcile`, `combine`): stored rows and new records in, rows to
write and links to recompute out; `stored` reads the rows it needs, and `requests`, `folds` and
`refresh` keep what records written together decide about pull requests merged by rebase.

May import: `sources` (adapters: input to records), `linking`, `definitions`, `store`, and the
bottom layer (`config`, `model`, `ordering`, `values` …). Not `metrics`, `flags`, `query`,
`output`, nor a service or a surface; `sources` never imports `ingest`.
"""

from headway.ingest.records import ingest

__all__ = ["ingest"]
