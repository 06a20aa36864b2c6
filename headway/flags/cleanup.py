"""The patch that takes a settled boolean flag out of the code: every evaluation call of its key
becomes the value it serves everywhere (`True`/`False` in Python, `true`/`false` elsewhere).

The calls are found with the code-reference patterns; each one is replaced from its callee
(`client.get_boolean_value`) to its closing parenthesis, strings and nested calls skipped.
What is left, an `if True:` and its dead branch, is for the reviewer of the patch to fold: the
patch changes behaviour nowhere, since the flag already served that value to everyone. Calls
of the `…Details` kind answer an object, not the value, and are left as they are.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path

from headway.flags.patterns import compile_capture
from headway.flags.refs import DEFAULT_PATTERNS, LANGUAGES, RefPattern, scan_tree

__all__ = ["cleanup_patch", "cleanup_text"]

_QUOTES = "\"'`"
_REACH = 2000  # characters searched around a key for its call's parentheses


def _literal(extension: str, value: bool) -> str:
    if extension in LANGUAGES["python"]:
        return str(value)
    if extension in LANGUAGES["go"]:  # BooleanValue answers (bool, error)
        return f"{str(value).lower()}, error(nil)"
    return str(value).lower()


def _open_paren(text: str, quote: int) -> int | None:
    """The `(` whose argument list holds the string starting at `quote`."""
    depth = 0
    for i in range(quote - 1, max(-1, quote - _REACH), -1):
        c = text[i]
        if c == ")":
            depth += 1
        elif c == "(":
            if depth == 0:
                return i
            depth -= 1
    return None


def _close_paren(text: str, opening: int) -> int | None:
    depth, quote = 0, ""
    for i in range(opening, min(len(text), opening + _REACH)):
        c = text[i]
        if quote:
            if c == "\\":
                continue
            if c == quote and text[i - 1] != "\\":
                quote = ""
        elif c in _QUOTES:
            quote = c
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0:
                return i
    return None


def _callee_start(text: str, opening: int) -> int:
    i = opening
    while i > 0 and (text[i - 1].isalnum() or text[i - 1] in "_.$"):
        i -= 1
    return i


def cleanup_text(
    text: str, path: str, key: str, value: bool, patterns: Iterable[RefPattern] = DEFAULT_PATTERNS
) -> str:
    """`text` with every evaluation call of `key` replaced by `value`'s literal."""
    extension = Path(path).suffix
    spans: set[tuple[int, int]] = set()
    for pattern in patterns:
        if not any(extension in LANGUAGES[lang] for lang in pattern.languages):
            continue
        for found, offset in compile_capture(pattern.regex)(text):
            if found != key:
                continue
            opening = _open_paren(text, offset - 1)
            closing = None if opening is None else _close_paren(text, opening)
            if opening is None or closing is None:
                continue
            start = _callee_start(text, opening)
            # A details call answers an object, not the value: left for the reviewer.
            if "details" not in text[start:opening].lower():
                spans.add((start, closing + 1))
    out = text
    for start, end in sorted(spans, reverse=True):
        out = out[:start] + _literal(extension, value) + out[end:]
    return out


def cleanup_patch(
    root: Path, key: str, value: bool, patterns: Iterable[RefPattern] = DEFAULT_PATTERNS
) -> str:
    """A unified diff (`git apply` takes it) over the files under `root` that read `key`."""
    chosen = tuple(patterns)
    files = sorted({r.path for r in scan_tree(root, chosen).references if r.flag == key})
    diff: list[str] = []
    for relative in files:
        before = (root / relative).read_text(encoding="utf-8")
        after = cleanup_text(before, relative, key, value, chosen)
        diff += difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            f"a/{relative}",
            f"b/{relative}",
        )
    return "".join(diff)
