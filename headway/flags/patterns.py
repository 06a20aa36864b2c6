"""The regular expressions of `matches`: RE2, so that matching takes time linear in the text.

Python's `re` backtracks: `^(a+)+$` against a few dozen `a`s and a `b` takes longer than the
universe's age, and a flag's pattern is configuration an editor writes. RE2 (`google-re2`) never
backtracks; its dialect has no backreferences or lookaround. Both the pattern and the text it is
tried on are capped, so one evaluation costs at most a few microseconds per kilobyte.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import re2

__all__ = ["MAX_PATTERN", "MAX_TEXT", "PatternError", "compile_pattern"]

MAX_PATTERN: Final = 1024  # characters in a `matches` pattern
MAX_TEXT: Final = 4096  # characters of an attribute `matches` looks at; a longer one does not match

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every invalid pattern to stderr


class PatternError(ValueError):
    """A pattern RE2 cannot compile, or one longer than MAX_PATTERN."""


def compile_pattern(pattern: str) -> Callable[[str], bool]:
    """A test that is true when `pattern` matches somewhere in a text of at most MAX_TEXT."""
    if len(pattern) > MAX_PATTERN:
        raise PatternError(f"the pattern is {len(pattern)} characters; at most {MAX_PATTERN}")
    try:
        search = re2.compile(pattern, _OPTIONS).search
    except re2.error as exc:
        message = exc.args[0] if exc.args else str(exc)
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise PatternError(f"RE2 cannot compile it: {message}") from None

    def test(text: Any) -> bool:
        return len(text) <= MAX_TEXT and search(text) is not None

    return test
