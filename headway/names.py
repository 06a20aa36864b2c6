"""Unknown names: how an error about a name the store lacks is worded, for each audience."""

from __future__ import annotations

from collections.abc import Iterable


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
