"""What a record's fields may hold, by type and by meaning, checked before anything is stored.

Every writer (files, CDEvents, webhooks, `headway import git`) builds records from input it
does not trust. A commit id is 7 to 40 hexadecimal digits and a ref is a name git accepts, so
no stored value can later be read back into a git command as one of its options; a field of
the wrong type is refused with its name instead of failing in the database. Times lie between
1970 and 2100, a record's own end does not come before its start, sizes are not negative and
integers fit the store's 64-bit columns, so no accepted record can break a read later.
"""

from __future__ import annotations

import re
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

_SHA = re.compile(r"[0-9a-fA-F]{7,40}")
# Fields holding a commit id, in any record (`seen_commits` too).
SHA_FIELDS = frozenset({"sha", "merge_sha", "push_head"})
# A deployment's `version` is the ref it deployed when it comes from git or a git host.
REF_SOURCES = frozenset({"git", "github", "gitlab"})
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//")
# Delivery evidence from before the Unix epoch or after 2100 is a typo or a forged payload;
# letting it in stretches every period and trend and overflows some engines' arithmetic.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
# Counts of lines and files: a negative one is nonsense, and it would subtract from a batch.
SIZE_FIELDS = frozenset({"additions", "deletions", "files"})
_INT64 = 2**63 - 1
# (start, end) pairs one source stamps on its own clock for one record, per table: the end
# can never come first. Spans across sources (a first commit's author date against the
# request's opening, an approval against the merge) may run backwards through clock skew or
# rebases; those are accepted and the metrics count and leave them out.
ORDERED: dict[str, tuple[tuple[str, str], ...]] = {
    "changes": (("opened_at", "merged_at"), ("opened_at", "closed_at")),
    "pipeline_runs": (("started_at", "finished_at"),),
    "deployments": (("started_at", "finished_at"),),
    "incidents": (("opened_at", "acknowledged_at"), ("opened_at", "resolved_at")),
}


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


def time_problem(value: datetime) -> str | None:
    """Why `value` is not a plausible delivery time (1970-01-01 up to 2100-01-01), or None."""
    if EARLIEST <= value < LATEST:
        return None
    return (
        f"a time from 1970-01-01 up to 2100-01-01, got {value.isoformat()} "
        "(check the year and the time zone)"
    )


def integer_problem(name: str, value: int) -> str | None:
    """Why an integer field's value cannot be stored or does not make sense, or None."""
    if name in SIZE_FIELDS and value < 0:
        return f"a count of 0 or more, got {value}"
    if not -_INT64 <= value <= _INT64:
        return f"an integer between -{_INT64} and {_INT64}, got {str(value)[:40]}"
    return None


def order_problem(record_type: type[Any], values: dict[str, Any]) -> tuple[str, str] | None:
    """The first end field whose time comes before its start's, with why, or None."""
    for start, end in ORDERED.get(record_type.table, ()):
        a, b = values.get(start), values.get(end)
        if isinstance(a, datetime) and isinstance(b, datetime) and a.tzinfo and b.tzinfo and b < a:
            return end, (
                f"a time at or after {start} ({a.isoformat()}), got {b.isoformat()}; "
                "fix whichever of the two is wrong"
            )
    return None


def meaning_problem(
    record_type: type[Any], name: str, value: Any, source: str | None
) -> str | None:
    """Why a field's value does not mean what the field does, or None."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return time_problem(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return integer_problem(name, value)
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


_DECLARED: dict[type, tuple[tuple[str, str], ...]] = {}


def _declared(record_type: type) -> tuple[tuple[str, str], ...]:
    """A record type's fields, each its name and its annotation as written."""
    known = _DECLARED.get(record_type)
    if known is None:
        known = _DECLARED[record_type] = tuple((f.name, str(f.type)) for f in fields(record_type))
    return known


def problem(record: Any) -> str | None:
    """The first field of `record` whose value has the wrong type or meaning, as
    "<table>.<field>: expected ...", or None when every field is fine."""
    source = getattr(record, "source", None)
    values = {}
    for name, annotation in _declared(type(record)):
        value = values[name] = getattr(record, name)
        found = _type_problem(annotation, value) or meaning_problem(
            type(record), name, value, source if isinstance(source, str) else None
        )
        if found:
            return f"{record.table}.{name}: expected {found}"
    backwards = order_problem(type(record), values)
    return f"{record.table}.{backwards[0]}: expected {backwards[1]}" if backwards else None


class InvalidRecord(ValueError):
    """A record with a field no writer may store."""


def check(record: Any) -> Any:
    """`record` itself when every field is fine; InvalidRecord naming the field otherwise."""
    found = problem(record)
    if found:
        raise InvalidRecord(found)
    return record


__all__ = [
    "EARLIEST",
    "LATEST",
    "ORDERED",
    "REF_SOURCES",
    "SHA_FIELDS",
    "SIZE_FIELDS",
    "InvalidRecord",
    "check",
    "integer_problem",
    "meaning_problem",
    "order_problem",
    "problem",
    "ref_problem",
    "sha_problem",
    "time_problem",
]
