"""The flags a pull request touches, read from its diff, and the check run that lists them.

A file's patch is split into the lines it adds, removes and keeps; each part is scanned with
the code-reference patterns (`headway.flags.refs`). A key only on added lines is *added*, only
on removed lines *removed*, anywhere else *used*. The check run's text is built here too, so
what GitHub shows is a pure function of the diff and the flags Headway serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from headway.flags.refs import DEFAULT_PATTERNS, RefPattern, scan_text

__all__ = ["CHECK_NAME", "FlagChange", "check_output", "flags_in_diff"]

CHECK_NAME = "Headway flags"
Change = Literal["added", "used", "removed"]


@dataclass(frozen=True, slots=True)
class FlagChange:
    flag: str
    change: Change
    files: tuple[str, ...]


def _parts(patch: str) -> dict[str, str]:
    parts: dict[str, list[str]] = {"+": [], "-": [], " ": []}
    for line in patch.splitlines():
        if line.startswith(("+++", "---", "@@", "\\")):
            continue
        mark = line[:1] if line[:1] in parts else " "
        parts[mark].append(line[1:])
    return {mark: "\n".join(lines) for mark, lines in parts.items()}


def flags_in_diff(
    files: Iterable[Mapping[str, Any]], patterns: Iterable[RefPattern] = DEFAULT_PATTERNS
) -> list[FlagChange]:
    """What each flag key the diff's files mention undergoes, by key. `files` are GitHub's
    "list pull request files" items (`filename`, and `patch` unless the diff is too large)."""
    chosen = tuple(patterns)
    seen: dict[str, dict[str, set[str]]] = {}
    for item in files:
        name, patch = item.get("filename"), item.get("patch")
        if not isinstance(name, str) or not isinstance(patch, str):
            continue
        for mark, text in _parts(patch).items():
            for ref in scan_text(text, name, chosen):
                seen.setdefault(ref.flag, {"+": set(), "-": set(), " ": set()})[mark].add(name)
    changes = []
    for key in sorted(seen):
        marks = seen[key]
        where = marks["+"] | marks["-"] | marks[" "]
        if marks["+"] and not marks["-"] and not marks[" "]:
            change: Change = "added"
        elif marks["-"] and not marks["+"] and not marks[" "]:
            change = "removed"
        else:
            change = "used"
        changes.append(FlagChange(key, change, tuple(sorted(where))))
    return changes


def check_output(changes: list[FlagChange], created: set[str], link: str | None) -> dict[str, str]:
    """The check run's title, summary and text (GitHub renders them as Markdown)."""
    if not changes:
        return {"title": "No feature flags", "summary": "This pull request touches no flag."}
    counts = {c: sum(1 for x in changes if x.change == c) for c in ("added", "used", "removed")}
    title = ", ".join(f"{n} {c}" for c, n in counts.items() if n)
    rows = ["| flag | change | files |", "|---|---|---|"]
    for c in changes:
        name = f"[`{c.flag}`]({link}/flags/{c.flag})" if link else f"`{c.flag}`"
        note = " (new in Headway, off everywhere)" if c.flag in created else ""
        rows.append(f"| {name} | {c.change}{note} | {', '.join(c.files)} |")
    summary = f"Feature flags in this pull request: {title}."
    return {"title": f"Flags: {title}", "summary": summary, "text": "\n".join(rows)}
