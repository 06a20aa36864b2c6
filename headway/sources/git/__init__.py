"""Delivery history from a git repository: changes, deployments (release tags), failures.

Reading is `git for-each-ref` for the refs, one streaming `git log` (NUL-separated fields)
for the commits (`history`), and `git log --numstat` over the main line only for the
changes' sizes (`diffs`). Everything else is pure Python over that snapshot (`derivation`):
pull requests from merge and squash commits (`changes`), the earliest release tag containing
each change (one walk of the commit graph), and reverts of shipped changes (`reverts`).
`incremental` does the same for a re-import, from the commits the last import did not reach
and what the last import established (`incremental.Previous`). Reading and writing the store
is `headway.ingest.git` (`headway import git`), which passes that in.

Owns: reading a repository's history and deriving its delivery records.
May import: what `headway.sources` may; `headway.ingest.git` calls it (`headway import git`).
"""

from headway.sources.git.derivation import Derived, derive
from headway.sources.git.diffs import Diffs, Sizes, main_line_tips, main_line_walks, read_sizes
from headway.sources.git.history import (
    LOG_FORMAT,
    Commit,
    GitError,
    Refs,
    Tag,
    commits_between,
    is_ancestor,
    open_repository,
    read_log,
    read_refs,
    resolve_commit,
)
from headway.sources.git.incremental import Delta, NeedsFullImport, Previous, Stored, derive_since
from headway.sources.git.options import Options, release_tags, repository_name
from headway.sources.git.records import SOURCE, deployment_id, undeployed_ref
from headway.sources.git.releases import TagRule, release_kind, select_tags

__all__ = [
    "LOG_FORMAT",
    "SOURCE",
    "Commit",
    "Delta",
    "Derived",
    "Diffs",
    "GitError",
    "NeedsFullImport",
    "Options",
    "Previous",
    "Refs",
    "Sizes",
    "Stored",
    "Tag",
    "TagRule",
    "commits_between",
    "deployment_id",
    "derive",
    "derive_since",
    "is_ancestor",
    "main_line_tips",
    "main_line_walks",
    "open_repository",
    "read_log",
    "read_refs",
    "read_sizes",
    "release_kind",
    "release_tags",
    "repository_name",
    "resolve_commit",
    "select_tags",
    "undeployed_ref",
]
