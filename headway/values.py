"""What a record's fields may hold, by type and by meaning, checked before anything is stored.

Every writer (files, CDEvents, webhooks, `headway import git`) builds records from input it
does not trust. A commit id is 7 to 40 hexadecimal digits and a ref is a name git accepts, so
no stored value can later be read back into a git command as one of its options; a field of
the wrong type is refused with its name instead of failing in the database.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import datetime
from typing import Any

_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
# Fields holding a commit id, in any record (`seen_commits` too).
SHA_FIELDS = frozenset({"sha", "merge_sha", "push_head"})
# A deployment's `version` is the ref it deployed when it comes from git or a git host.
REF_SOURCES = frozenset({"git", "github", "gitlab"})
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")


def sha_problem(value: str) -> str | None:
    """Why `value` is not a commit id (7 to 40 hexadecimal digits), or None."""
    if _SHA.fullmatch(value):
        return None
    return f"a commit id of 7 to 40 hexadecimal digits, got {value!r}"


def ref_problem(value: str) -> str | None:
    """Why `value` is not a ref name by the rules of `git check-ref-format --allow-onelevel`
    (and, like `--branch`, not one starting with '-'), or None."""
    bad = (
        not value
        or value.startswith(("-", "/"))
        or value.endswith(("/", "."))
        or value == "@"
        or _REF_FORBIDDEN.search(value) is not None
        or any(part.startswith(".") or part.endswith(".lock") for part in value.split("/"))
    )
    if not bad:
        return None
    return (
        "a git ref name (no spaces, control characters, ~ ^ : ? * [ \\ '..' '@{' or '//', "
        f"not starting with '-', '/' or '.', not ending with '/', '.' or '.lock'), got {value!r}"
    )


def meaning_problem(
    record_type: type[Any], name: str, value: Any, source: str | None
) -> str | None:
    """Why a field's value does not mean what the field does, or None."""
    if not isinstance(value, str):
        return None
    if name in SHA_FIELDS:
        return sha_problem(value)
    if name == "version" and record_type.__name__ == "Deployment" and source in REF_SOURCES:
        return ref_problem(value)
    return None


def _type_problem(annotation: str, value: Any) -> str | None:
    if value is None:
        return None if "None" in annotation else "a value, got nothing"
    base = annotation.replace(" | None", "")
    if base == "str":
        ok = isinstance(value, str)
    elif base == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif base == "bool":
        ok = isinstance(value, bool)
    elif base == "datetime":
        ok = isinstance(value, datetime) and value.tzinfo is not None
    elif base == "tuple[str, ...]":
        ok = isinstance(value, tuple) and all(isinstance(v, str) for v in value)
    else:  # a type no record uses yet: nothing to check it against
        return None
    if ok:
        return None
    names = {
        "tuple[str, ...]": "a list of strings",
        "datetime": "a timestamp with a time zone",
        "int": "an integer",
        "str": "a string",
        "bool": "true or false",
    }
    return f"{names[base]}, got {type(value).__name__} {value!r:.80}"


def problem(record: Any) -> str | None:
    """The first field of `record` whose value has the wrong type or meaning, as
    "<table>.<field>: expected ...", or None when every field is fine."""
    source = getattr(record, "source", None)
    for f in fields(record):
        value = getattr(record, f.name)
        found = _type_problem(str(f.type), value) or meaning_problem(
            type(record), f.name, value, source if isinstance(source, str) else None
        )
        if found:
            return f"{record.table}.{f.name}: expected {found}"
    return None


class InvalidRecord(ValueError):
    """A record with a field no writer may store."""


def check(record: Any) -> Any:
    """`record` itself when every field is fine; InvalidRecord naming the field otherwise."""
    found = problem(record)
    if found:
        raise InvalidRecord(found)
    return record


__all__ = [
    "REF_SOURCES",
    "SHA_FIELDS",
    "InvalidRecord",
    "check",
    "meaning_problem",
    "problem",
    "ref_problem",
    "sha_problem",
]
