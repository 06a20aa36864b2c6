"""The regular expressions of `matches`: RE2, so that matching takes time linear in the text.

Python's `re` backtracks: `^(a+)+$` against a few dozen `a`s and a `b` takes longer than the
universe's age, and a flag's pattern is configuration an editor writes. RE2 (`google-re2`) never
backtracks; its dialect has no backreferences or lookaround. Both the pattern and the text it is
tried on are capped, so one evaluation costs at most a few microseconds per kilobyte.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Final

import re2

__all__ = ["MAX_PATTERN", "MAX_TEXT", "PatternError", "compile_capture", "compile_pattern"]

MAX_PATTERN: Final = 1024  # characters in a `matches` pattern
MAX_TEXT: Final = 4096  # characters of an attribute `matches` looks at; a longer one does not match

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every invalid pattern to stderr


class PatternError(ValueError):
    """A pattern RE2 cannot compile, or one longer than MAX_PATTERN."""


def _compile(pattern: str) -> Any:
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"the pattern is {len(pattern)} characters; at most {MAX_PATTERN}")
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        message = exc.args[0] if exc.args else str(exc)
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise PatternError(f"RE2 cannot compile it: {message}") from None


def compile_capture(pattern: str) -> Callable[[str], Iterator[tuple[str, int]]]:
    """Every match of `pattern`'s one capturing group in a text, with its offset.

    For scanning files, whose size the caller bounds: RE2 takes time linear in it whatever
    the pattern.
    """
    compiled = _compile(pattern)
    if compiled.groups != 1:
        raise PatternError(
            f"the pattern has {compiled.groups} capturing groups; give exactly one, around "
            "the flag key, and write other groups as (?:...)"
        )

    def find(text: str) -> Iterator[tuple[str, int]]:
        for match in compiled.finditer(text):
            if match.group(1):
                yield match.group(1), match.start(1)

    return find


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A test that is true when `pattern` matches somewhere in a text of at most MAX_TEXT."""
    search = _compile(pattern).search

    def test(text: Any) -> bool:
        return len(text) <= MAX_TEXT and search(text) is not None

    return test
