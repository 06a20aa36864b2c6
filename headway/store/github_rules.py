"""The GitHub App's risky-code rules (table `github_risky_rules`, migration 0021): per
repository, or `*` for every repository without a rule of its own, the path patterns and the
size from which a pull request touches risky code. `headway.github.risky` validates them;
here they are only kept, the patterns as the JSON text of a list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import bindparam, delete, select

from headway.store.base import Store
from headway.store.schema import github_risky_rules
from headway.store.statements import insert_into

__all__ = ["DEFAULT", "StoredRule", "applying", "put_rule", "remove_rule", "rule", "rules"]

DEFAULT = "*"  # the rule of every repository that has none of its own

_r = github_risky_rules.c
_COLUMNS = (_r.repository, _r.paths, _r.min_lines, _r.updated_by, _r.updated_at)
_ALL = select(*_COLUMNS).order_by(_r.repository)
_ONE = select(*_COLUMNS).where(_r.repository == bindparam("repository"))
_OWN_OR_DEFAULT = select(*_COLUMNS).where(
    _r.repository.in_([bindparam("repository"), bindparam("default")])
)
_DELETE = delete(github_risky_rules).where(_r.repository == bindparam("repository"))
_INSERT = insert_into(
    github_risky_rules, "repository", "paths", "min_lines", "updated_by", "updated_at"
)


@dataclass(frozen=True, slots=True)
class StoredRule:
    repository: str  # owner/name in lower case, or DEFAULT
    paths: str  # JSON text of a list of patterns, as written
    min_lines: int | None
    updated_by: str
    updated_at: datetime  # UTC


def _rule(row: tuple[object, ...]) -> StoredRule:
    repository, paths, min_lines, updated_by, updated_at = row
    assert isinstance(updated_at, datetime)
    return StoredRule(
        str(repository),
        str(paths),
        None if min_lines is None else int(str(min_lines)),
        str(updated_by),
        updated_at.replace(tzinfo=UTC) if updated_at.tzinfo is None else updated_at,
    )


def put_rule(store: Store, stored: StoredRule) -> None:
    """Replace the rule of `stored.repository`, in the caller's transaction."""
    store.run(_DELETE, repository=stored.repository)
    store.run(
        _INSERT,
        repository=stored.repository,
        paths=stored.paths,
        min_lines=stored.min_lines,
        updated_by=stored.updated_by,
        updated_at=stored.updated_at.astimezone(UTC).replace(tzinfo=None),
    )


def remove_rule(store: Store, repository: str) -> None:
    store.run(_DELETE, repository=repository)


def rule(store: Store, repository: str) -> StoredRule | None:
    found = store.rows(_ONE, repository=repository)
    return _rule(found[0]) if found else None


def rules(store: Store) -> list[StoredRule]:
    """Every rule, the default (`*`) first."""
    return [_rule(row) for row in store.rows(_ALL)]


def applying(store: Store, repository: str) -> StoredRule | None:
    """The rule a pull request of `repository` (lower case) is judged by: its own, else the
    default, else none."""
    found = {
        r.repository: r
        for r in map(_rule, store.rows(_OWN_OR_DEFAULT, repository=repository, default=DEFAULT))
    }
    return found.get(repository) or found.get(DEFAULT)
