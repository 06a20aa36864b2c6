"""The flags a pull request touches, read from its diff, and the check run that lists them.

A file's patch is split into the lines it adds, removes and keeps; each part is scanned with
the code-reference patterns (`headway.flags.refs`). A key only on added lines is *added*, only
on removed lines *removed*, anywhere else *used*. The check run's text is built here too, so
what GitHub shows is a pure function of the diff, the flags Headway serves and the risky-code
rule that applies (`headway.github.risky`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from headway.flags.refs import DEFAULT_PATTERNS, RefPattern, scan_text
from headway.github.risky import Risk

__all__ = ["CHECK_NAME", "LISTED_FILES", "FlagChange", "check_output", "flags_in_diff", "guarded"]

CHECK_NAME = "Headway flags"
LISTED_FILES = 50  # risky files named in a check run; GitHub cuts its text at 65,535 characters
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


def guarded(changes: list[FlagChange]) -> bool:
    """Whether the pull request puts its change behind a flag: it adds or uses one (removing a
    flag guards nothing)."""
    return any(c.change in ("added", "used") for c in changes)


def _code(text: str) -> str:
    """`text` as a Markdown code span, whatever backticks a file name holds."""
    fence = "`" * (max((len(run) for run in re.findall("`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}" if "`" in text else f"`{text}`"


def _risk_lines(risk: Risk) -> list[str]:
    rule = risk.rule
    parts = [", ".join(_code(p) for p in rule.paths)] if rule.paths else []
    if rule.min_lines is not None:
        parts.append(f"{rule.min_lines:,} changed lines or more")
    lines = [f"Risky-code rule of {_code(rule.repository)}: {'; '.join(parts)}."]
    if rule.min_lines is not None:
        lines.append(f"This pull request changes {risk.lines:,} lines.")
    if risk.files:
        lines.append("")
        lines += [f"- {_code(name)}" for name in risk.files[:LISTED_FILES]]
        if len(risk.files) > LISTED_FILES:
            lines.append(f"- and {len(risk.files) - LISTED_FILES} more")
    return lines


def _what(risk: Risk) -> str:
    if risk.files:
        return f"{len(risk.files)} risky file{'s' if len(risk.files) != 1 else ''}"
    return f"{risk.lines:,} changed lines"


def check_output(
    changes: list[FlagChange], created: set[str], link: str | None, risk: Risk | None = None
) -> dict[str, str]:
    """The check run's title, summary and text (GitHub renders them as Markdown)."""
    risky = risk is not None and risk.risky
    if not changes and not risky:
        return {"title": "No feature flags", "summary": "This pull request touches no flag."}
    counts = {c: sum(1 for x in changes if x.change == c) for c in ("added", "used", "removed")}
    listed = ", ".join(f"{n} {c}" for c, n in counts.items() if n)
    rows = []
    if changes:
        rows = ["| flag | change | files |", "|---|---|---|"]
    for c in changes:
        name = f"[`{c.flag}`]({link}/flags/{c.flag})" if link else f"`{c.flag}`"
        note = " (new in Headway, off everywhere)" if c.flag in created else ""
        rows.append(f"| {name} | {c.change}{note} | {', '.join(c.files)} |")
    summary = f"Feature flags in this pull request: {listed}." if changes else ""
    title = f"Flags: {listed}"
    if risk is not None and risky and not guarded(changes):
        title = f"Risky code without a flag: {_what(risk)}"
        summary = (
            f"This pull request touches code the risky-code rule of {_code(risk.rule.repository)} "
            "names, and adds or uses no feature flag. Put the change behind a flag, or "
            f"accept the risk in review. {summary}"
        ).strip()
    elif risk is not None and risky:
        summary += f" It touches risky code ({_what(risk)}) behind a flag."
    text = rows
    if risk is not None and risky:
        text = _risk_lines(risk) + ([""] if rows else []) + rows
    return {"title": title, "summary": summary, "text": "\n".join(text)}
