"""Flag keys in source code: which files read which flag, through Headway's SDK or OpenFeature.

A pattern is an RE2 expression with one capturing group around the flag key, tried on whole
files of the languages it names, so a call split over several lines is still found. RE2 runs in
time linear in the file whatever the pattern, so a pattern file from anyone is safe to use;
files are read up to MAX_FILE_BYTES each, symbolic links are not followed, and in a git
checkout only tracked files are read (no `node_modules`, no build output).
"""

from __future__ import annotations

import bisect
import os
import subprocess
import tomllib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from headway.flags.model import KEY_PATTERN, ConfigError, Issue
from headway.flags.patterns import PatternError, compile_capture, compile_pattern

__all__ = [
    "DEFAULT_PATTERNS",
    "LANGUAGES",
    "MAX_FILE_BYTES",
    "RefPattern",
    "Reference",
    "Scan",
    "git_head",
    "load_patterns",
    "scan_text",
    "scan_tree",
]

MAX_FILE_BYTES: Final = 1_000_000
MAX_PATTERNS: Final = 100
LANGUAGES: Mapping[str, tuple[str, ...]] = {
    "python": (".py",),
    "javascript": (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts"),
    "go": (".go",),
    "java": (".java", ".kt"),
}
_SKIPPED_DIRS = frozenset({"node_modules", "vendor", "dist", "build", "target", "__pycache__"})

_KEY = r"([A-Za-z0-9][A-Za-z0-9_.\-]*)"
_QUOTE = "[\"'`]"


@dataclass(frozen=True, slots=True)
class RefPattern:
    """A named expression and the languages whose files it is tried on."""

    name: str
    languages: tuple[str, ...]
    regex: str


DEFAULT_PATTERNS: Final = (
    # OpenFeature's evaluation API: get_boolean_value (Python), getBooleanValue (JavaScript,
    # TypeScript, Java), each with its Details twin and the other types.
    RefPattern(
        "openfeature",
        ("python", "javascript", "java"),
        r"\b(?:get_?(?:boolean|string|integer|int|float|double|number|object)_?"
        r"(?:value|details|Value|Details)|get(?:Boolean|String|Integer|Double|Number|Object)"
        rf"(?:Value|Details))\s*\(\s*{_QUOTE}{_KEY}{_QUOTE}",
    ),
    # OpenFeature's Go client takes the context first: BooleanValue(ctx, "key", false, ec).
    RefPattern(
        "openfeature-go",
        ("go",),
        rf"\b(?:Boolean|String|Int|Float|Object)Value(?:Details)?\s*\(\s*[^,\"\n]*,\s*\"{_KEY}\"",
    ),
    # OpenFeature's React hooks: useBooleanFlagValue('key', false), useFlag('key', false).
    RefPattern(
        "openfeature-react",
        ("javascript",),
        rf"\buse(?:(?:Boolean|String|Number|Object)Flag(?:Value|Details)|Flag)\s*\(\s*"
        rf"{_QUOTE}{_KEY}{_QUOTE}",
    ),
    # Headway's Python SDK: client.boolean("key", False), .string, .number, .json, .details.
    RefPattern(
        "headway-python",
        ("python",),
        rf"\.(?:boolean|string|number|json|details|evaluate)\s*\(\s*[\"']{_KEY}[\"']",
    ),
)


@dataclass(frozen=True, slots=True)
class Reference:
    flag: str
    path: str  # relative to the scanned root, with forward slashes
    line: int
    pattern: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True, slots=True)
class Scan:
    """What one scan of a tree found."""

    commit: str | None
    files: int
    references: tuple[Reference, ...]
    skipped: tuple[str, ...] = field(default=())  # files too large to read


@dataclass(frozen=True, slots=True)
class _Compiled:
    name: str
    extensions: frozenset[str]
    find: Callable[[str], Iterator[tuple[str, int]]]


def load_patterns(path: Path) -> tuple[tuple[RefPattern, ...], bool]:
    """The patterns a TOML file lists, and whether the built-in ones stay in use.

    ```toml
    defaults = true            # keep the built-in patterns (the default)
    [[pattern]]
    name = "is-enabled"
    languages = ["python"]
    regex = 'is_enabled\\(\\s*"([a-z0-9_.-]+)"'
    ```
    """
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([Issue(path=str(path), message=f"cannot read it: {error}")]) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError([Issue(path=str(path), message=f"not valid TOML: {error}")]) from None
    entries = document.get("pattern", [])
    defaults = document.get("defaults", True)
    issues: list[Issue] = []
    if not isinstance(defaults, bool):
        issues.append(Issue(path="defaults", message="write true or false"))
    if not isinstance(entries, list) or len(entries) > MAX_PATTERNS:
        issues.append(Issue(path="pattern", message=f"give at most {MAX_PATTERNS} [[pattern]]"))
        raise ConfigError(issues)
    patterns = []
    for i, entry in enumerate(entries):
        found = _pattern(entry, f"pattern[{i}]", issues)
        if found is not None:
            patterns.append(found)
    if issues:
        raise ConfigError(issues)
    return tuple(patterns), bool(defaults)


def _pattern(entry: Any, where: str, issues: list[Issue]) -> RefPattern | None:
    if not isinstance(entry, dict):
        issues.append(Issue(path=where, message="a pattern is a table with name, languages, regex"))
        return None
    name, languages, regex = entry.get("name"), entry.get("languages"), entry.get("regex")
    before = len(issues)
    if not isinstance(name, str) or not name:
        issues.append(Issue(path=f"{where}.name", message="give the pattern a name"))
    if (
        not isinstance(languages, list)
        or not languages
        or any(lang not in LANGUAGES for lang in languages)
    ):
        known = ", ".join(LANGUAGES)
        issues.append(Issue(path=f"{where}.languages", message=f"a list of: {known}"))
    if not isinstance(regex, str):
        issues.append(Issue(path=f"{where}.regex", message="an RE2 expression with one group"))
    else:
        try:
            compile_capture(regex)
        except PatternError as error:
            issues.append(Issue(path=f"{where}.regex", message=str(error)))
    if len(issues) > before:
        return None
    return RefPattern(str(name), tuple(map(str, languages or ())), str(regex))


def _compile(patterns: Iterable[RefPattern]) -> list[_Compiled]:
    return [
        _Compiled(
            p.name,
            frozenset(ext for lang in p.languages for ext in LANGUAGES[lang]),
            compile_capture(p.regex),
        )
        for p in patterns
    ]


_valid_key = compile_pattern(KEY_PATTERN)


def _line_ends(text: str) -> list[int]:
    ends, at = [], text.find("\n")
    while at != -1:
        ends.append(at)
        at = text.find("\n", at + 1)
    return ends


def _scan(text: str, path: str, patterns: Sequence[_Compiled]) -> list[Reference]:
    extension = os.path.splitext(path)[1]
    starts: list[int] | None = None
    found: dict[tuple[str, int], Reference] = {}
    for pattern in patterns:
        if extension not in pattern.extensions:
            continue
        for key, offset in pattern.find(text):
            if not _valid_key(key):
                continue
            if starts is None:
                starts = _line_ends(text)
            line = bisect.bisect_left(starts, offset) + 1
            found.setdefault((key, line), Reference(key, path, line, pattern.name))
    return sorted(found.values(), key=lambda r: (r.line, r.flag))


def scan_text(
    text: str, path: str, patterns: Iterable[RefPattern] = DEFAULT_PATTERNS
) -> list[Reference]:
    """The references in one file's text; `path` decides its language by its extension."""
    return _scan(text, path, _compile(patterns))


def _git(root: Path, *args: str) -> str | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.decode("utf-8", "surrogateescape") if done.returncode == 0 else None


def git_head(root: Path) -> str | None:
    """The commit checked out at `root`, or None outside a git checkout (or before a commit)."""
    head = _git(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    return head.strip() if head else None


def _files(root: Path) -> list[str]:
    tracked = _git(root, "ls-files", "-z", "--cached")
    if tracked is not None and git_head(root) is not None:
        return sorted(p for p in tracked.split("\0") if p)
    found = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIPPED_DIRS)
        relative = Path(folder).relative_to(root)
        found += [(relative / name).as_posix() for name in names]
    return sorted(found)


def scan_tree(root: Path, patterns: Iterable[RefPattern] = DEFAULT_PATTERNS) -> Scan:
    """Every reference in the files under `root` whose language a pattern covers."""
    compiled = _compile(patterns)
    extensions = frozenset().union(*(p.extensions for p in compiled))
    references: list[Reference] = []
    skipped: list[str] = []
    files = 0
    for relative in _files(root):
        path = root / relative
        if os.path.splitext(relative)[1] not in extensions or path.is_symlink():
            continue
        if not path.is_file():
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            skipped.append(relative)
            continue
        files += 1
        text = path.read_bytes().decode("utf-8", "replace")
        references += _scan(text, relative, compiled)
    return Scan(git_head(root), files, tuple(references), tuple(skipped))
