"""Risky code without a flag: which pull requests touch code a team calls risky, by rule.

A rule belongs to one repository (`owner/name`), or to every repository without one of its
own (`*`). It names path patterns with gitignore's syntax (`migrations/**`, `src/payments/**`,
`*.sql`, `!src/payments/tests/**`), a number of changed lines from which any change is risky,
or both. The patterns are compiled by pathspec and matched by RE2 (pathspec's `re2` backend),
so matching takes time linear in a path's length whatever pattern an admin wrote; a file's
path before a rename counts too. A pull request is judged by `assess`; `flagged` decides what
its check run concludes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson
import pathspec
from pathspec.patterns.gitignore import GitIgnorePatternError
from pydantic import Field

from headway.metrics.results import Result
from headway.store import audit
from headway.store import github_rules as stored
from headway.store.base import Store

__all__ = [
    "DEFAULT",
    "MAX_MIN_LINES",
    "MAX_PATTERNS",
    "MAX_PATTERN_LENGTH",
    "REPOSITORY_PATTERN",
    "NoRule",
    "Risk",
    "RiskyRule",
    "RiskyRules",
    "RuleError",
    "assess",
    "check_repository",
    "check_rule",
]

DEFAULT: Final = stored.DEFAULT
MAX_PATTERNS: Final = 50
MAX_PATTERN_LENGTH: Final = 200
MAX_MIN_LINES: Final = 1_000_000
REPOSITORY_PATTERN: Final = r"^(\*|[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100})$"
_REPOSITORY = re.compile(REPOSITORY_PATTERN)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Paths of every shape (a file, a dotfile, nested ones): a pattern matching all of them marks
# every change, which `--min-lines 1` says plainly.
_EVERY_SHAPE = ("a", "a.txt", ".a", "a/b", "a/b/c.txt", "a/.b/c")


class RuleError(ValueError):
    """A rule that cannot be kept; the message names the field and the fix."""


class NoRule(LookupError):
    """No rule for that repository."""


class RiskyRule(Result):
    repository: str = Field(
        description="owner/name in lower case, or `*` for every repository without its own."
    )
    paths: list[str] = Field(description="gitignore-style patterns of the risky files.")
    min_lines: int | None = Field(
        description="Changed lines (additions plus deletions) from which a change is risky."
    )
    updated_by: str
    updated_at: datetime
    problem: str | None = Field(
        default=None,
        description="Why a stored rule is not applied (it no longer validates); null if it is.",
    )


@dataclass(frozen=True, slots=True)
class Risk:
    """What a rule finds in a pull request."""

    rule: RiskyRule
    files: tuple[str, ...]  # the changed files its patterns match, sorted
    lines: int  # the pull request's changed lines

    @property
    def risky(self) -> bool:
        big = self.rule.min_lines is not None and self.lines >= self.rule.min_lines
        return bool(self.files) or big


def _spec(patterns: Sequence[str]) -> pathspec.PathSpec[Any]:
    return pathspec.PathSpec.from_lines("gitignore", patterns, backend="re2")


def _check_pattern(i: int, pattern: object) -> str:
    where = f"paths[{i}]"
    if not isinstance(pattern, str):
        raise RuleError(f"{where}: a pattern is text, such as migrations/**")
    if not pattern or len(pattern) > MAX_PATTERN_LENGTH:
        raise RuleError(f"{where}: a pattern is 1 to {MAX_PATTERN_LENGTH} characters")
    if _CONTROL.search(pattern) or pattern != pattern.strip():
        raise RuleError(f"{where} {pattern!r}: no control characters, no spaces at either end")
    if pattern.startswith("#") or pattern == "!":
        raise RuleError(f"{where} {pattern!r}: a comment or a lone `!` matches nothing")
    if any(part in (".", "..") for part in pattern.lstrip("!/").split("/")):
        raise RuleError(f"{where} {pattern!r}: paths are from the repository's root, no . or ..")
    try:
        spec = _spec([pattern])
    except (GitIgnorePatternError, ValueError) as error:
        raise RuleError(f"{where} {pattern!r}: not a gitignore pattern ({error})") from None
    if not pattern.startswith("!") and all(spec.match_file(p) for p in _EVERY_SHAPE):
        raise RuleError(
            f"{where} {pattern!r} matches every file: name the risky folders, or mark "
            "every change with min_lines 1"
        )
    return pattern


def check_repository(repository: str) -> str:
    """The repository as rules are kept under it (lower case), or RuleError."""
    if not _REPOSITORY.fullmatch(repository):
        raise RuleError(f"repository {repository!r}: write it owner/name, or * for every one")
    return repository.lower()


def check_rule(
    repository: str, paths: Sequence[object], min_lines: int | None
) -> tuple[str, list[str], int | None]:
    """The rule as it is kept (the repository in lower case), or RuleError naming the field."""
    key = check_repository(repository)
    if len(paths) > MAX_PATTERNS:
        raise RuleError(f"paths: at most {MAX_PATTERNS} patterns, not {len(paths)}")
    checked = [_check_pattern(i, p) for i, p in enumerate(paths)]
    if len(set(checked)) != len(checked):
        raise RuleError("paths: a pattern is named twice")
    if min_lines is not None and (
        isinstance(min_lines, bool) or not 1 <= min_lines <= MAX_MIN_LINES
    ):
        raise RuleError(f"min_lines {min_lines}: a number of lines from 1 to {MAX_MIN_LINES:,}")
    if not any(not p.startswith("!") for p in checked) and min_lines is None:
        raise RuleError(
            "paths, min_lines: a rule names at least one pattern of risky files (one not "
            "starting with !), or a min_lines"
        )
    return key, checked, min_lines


def _result(row: stored.StoredRule) -> RiskyRule:
    problem = None
    try:
        paths = orjson.loads(row.paths)
        if not isinstance(paths, list):
            raise RuleError("paths: not a list")
        check_rule(row.repository, paths, row.min_lines)
    except (orjson.JSONDecodeError, RuleError) as error:
        paths, problem = [], f"the stored rule does not validate: {error}; set it again"
    return RiskyRule(
        repository=row.repository,
        paths=[str(p) for p in paths],
        min_lines=row.min_lines,
        updated_by=row.updated_by,
        updated_at=row.updated_at,
        problem=problem,
    )


def _changed_lines(item: Mapping[str, Any]) -> int:
    total = 0
    for field in ("additions", "deletions"):
        value = item.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            total += value
    return total


def assess(rule: RiskyRule, files: Iterable[Mapping[str, Any]]) -> Risk:
    """The risky files and changed lines of a pull request's files, as GitHub lists them
    (`filename`, `previous_filename` after a rename, `additions`, `deletions`)."""
    spec = _spec(rule.paths) if rule.paths and rule.problem is None else None
    risky: set[str] = set()
    lines = 0
    for item in files:
        lines += _changed_lines(item)
        if spec is None:
            continue
        for field in ("filename", "previous_filename"):
            name = item.get(field)
            if isinstance(name, str) and spec.match_file(name):
                risky.add(name)
    return Risk(rule, tuple(sorted(risky)), lines)


def _now() -> datetime:
    return datetime.now(UTC)


class RiskyRules:
    """The rules, as admins set them: validated, stored, each change in the audit log."""

    def __init__(self, store: Store, clock: Any = _now) -> None:
        self.store = store
        self.clock = clock

    def list(self) -> list[RiskyRule]:
        return [_result(r) for r in stored.rules(self.store)]

    def applying(self, repository: str) -> RiskyRule | None:
        row = stored.applying(self.store, repository.lower())
        return None if row is None else _result(row)

    def put(
        self, repository: str, paths: Sequence[object], min_lines: int | None, *, actor: str
    ) -> RiskyRule:
        key, checked, lines = check_rule(repository, paths, min_lines)
        row = stored.StoredRule(key, orjson.dumps(checked).decode(), lines, actor, self.clock())
        with self.store.transaction() as tx:
            before = stored.rule(tx, key)
            stored.put_rule(tx, row)
            audit.append(
                tx,
                actor=actor,
                entity="risky_rule",
                entity_id=key,
                action="updated" if before else "created",
                before=None if before is None else _document(before),
                after=_document(row),
                at=row.updated_at,
            )
        return _result(row)

    def remove(self, repository: str, *, actor: str) -> RiskyRule:
        key = check_repository(repository)
        with self.store.transaction() as tx:
            before = stored.rule(tx, key)
            if before is None:
                raise NoRule(f"no risky-code rule for {key}: `headway github risky-rule list`")
            stored.remove_rule(tx, key)
            audit.append(
                tx,
                actor=actor,
                entity="risky_rule",
                entity_id=key,
                action="removed",
                before=_document(before),
                after=None,
                at=self.clock(),
            )
        return _result(before)


def _document(row: stored.StoredRule) -> dict[str, Any]:
    try:
        paths: Any = orjson.loads(row.paths)
    except orjson.JSONDecodeError:  # a row edited by hand: recorded as it was
        paths = row.paths
    return {"paths": paths, "min_lines": row.min_lines}
