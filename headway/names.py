"""Names and text from outside: the NUL check every input gets, and how an error about a
name the store lacks is worded for each audience."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# PostgreSQL cannot store a NUL character in text (DuckDB can, so the engines would differ),
# and no name or message needs one: every input is refused with it, naming where it was.
NUL_FIX = "contains a NUL character (\\u0000), which Headway does not accept; remove it"


def nul_in(value: Any) -> str | None:
    """Where in a decoded JSON value the first NUL character is: a dotted path (`[i]` for
    list items, `(the body)` for the value itself), or None when there is none. Walked with
    a stack, not recursion: a body may nest deeper than Python's recursion limit."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return path or "(the body)"
        elif isinstance(item, dict):
            if any("\x00" in str(key) for key in item):
                return f"a key in {path or '(the body)'}"
            stack.extend(
                (f"{path}.{key}" if path else str(key), v) for key, v in reversed(item.items())
            )
        elif isinstance(item, list):
            stack.extend((f"{path}[{i}]", v) for i, v in reversed(list(enumerate(item))))
    return None


def nul_in_query(params: Iterable[tuple[str, str]]) -> str | None:
    """The first query parameter (name, value) pair with a NUL character, named, or None."""
    for name, value in params:
        if "\x00" in name or "\x00" in value:
            return f"query parameter {name.replace(chr(0), '')!r}"
    return None


class UnknownName(ValueError):
    """Nothing in the store has this name.

    `str()` says how to list the names but never lists them: it answers HTTP requests, and
    an unknown name must not tell whoever sent it every service or definition the store
    holds. `for_local_user()` lists them, for the CLI's user, who can read the store anyway.
    """

    def __init__(self, subject: str, how_to_list: str, label: str, known: Iterable[str]) -> None:
        super().__init__(f"{subject}; {how_to_list}")
        self.subject = subject
        self.label = label
        self.known = sorted(known)

    def for_local_user(self) -> str:
        if not self.known:
            return f"{self.subject}; the store is empty; import data first"
        return f"{self.subject}; {self.label}: {', '.join(self.known)}"
