"""Canonical records from JSONL and CSV files (the format `headway simulate` writes).

JSONL: one object per line with a `type` (service, change, approval, pipeline_run,
deployment, incident, defect) and that record's fields (docs/jsonl.md). CSV: one record type
per file, a header row of field names, empty cells for missing values, lists joined by `;`.
Every line is checked before anything is written; the first bad line stops the import with
its file, line number, field and what was expected.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from headway.model import RECORD_TYPES, ApprovalKind, DeploymentKind, DeploymentStatus
from headway.names import NUL_FIX, nul_in
from headway.values import meaning_problem, order_problem

ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("deployment", "status"): tuple(DeploymentStatus),
    ("deployment", "kind"): tuple(DeploymentKind),
    ("approval", "kind"): tuple(ApprovalKind),
}


class InputError(ValueError):
    """A line that cannot be imported, located precisely."""


def _timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError("an ISO 8601 timestamp string with a time zone, e.g. 2026-10-01T12:00:00Z")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise TypeError(f"an ISO 8601 timestamp like 2026-10-01T12:00:00Z, got {value!r}") from None
    if parsed.tzinfo is None:
        raise TypeError(f"a time zone on {value!r} (add Z for UTC or an offset like +02:00)")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 pushed past the calendar by its offset
        raise TypeError(f"a time from 1970-01-01 up to 2100-01-01, got {value!r}") from None


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise TypeError(f"a non-empty string, got {value!r}")
    return value


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an integer, got {value!r}")
    return value


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"true or false, got {value!r}")
    return value


def _strings(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"a list of strings, got {value!r}")
    return tuple(value)


def _ref(value: Any) -> str:
    text = _string(value)
    if ":" not in text:
        raise TypeError(f"a record id '<source>:<source_id>', got {value!r}")
    return text


_CHECKS: dict[str, Callable[[Any], Any]] = {
    "str": _string,
    "int": _integer,
    "bool": _boolean,
    "datetime": _timestamp,
    "tuple[str, ...]": _strings,
}
# Fields holding another record's id, `<source>:<source_id>`.
REF_FIELDS = frozenset({"reverts", "deployment_ref", "cause_ref", "recovers", "change_ref"})


@dataclass(frozen=True)
class _Spec:
    record_type: type[Any]
    checks: dict[str, Callable[[Any], Any]]
    required: frozenset[str]
    enums: dict[str, tuple[str, ...]]


def _spec(kind: str) -> _Spec:
    record_type = RECORD_TYPES[kind]
    checks, required = {}, set()
    for f in fields(record_type):
        base = str(f.type).replace(" | None", "")
        checks[f.name] = _ref if f.name in REF_FIELDS else _CHECKS[base]
        if f.default is MISSING and f.default_factory is MISSING:
            required.add(f.name)
    enums = {name: allowed for (k, name), allowed in ENUMS.items() if k == kind}
    return _Spec(record_type, checks, frozenset(required), enums)


SPECS = {kind: _spec(kind) for kind in RECORD_TYPES}


def parse_record(obj: Any, where: str) -> Any:
    """Validate one decoded object and build its canonical record."""
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected a JSON object, got {type(obj).__name__}")
    kind = obj.get("type")
    spec = SPECS.get(kind)  # type: ignore[arg-type]
    if spec is None:
        raise InputError(f"{where}: field 'type': expected one of {', '.join(SPECS)}, got {kind!r}")
    values: dict[str, Any] = {}
    checks = spec.checks
    for name, value in obj.items():
        if value is None or name == "type":
            continue
        check = checks.get(name)
        if check is None:
            unknown = sorted(set(obj) - {"type"} - set(checks))
            raise InputError(
                f"{where}: {kind} has unknown field(s) {', '.join(unknown)}; "
                f"expected {', '.join(checks)}"
            )
        if nul_in(value):
            raise InputError(f"{where}: {kind} field '{name}' {NUL_FIX}")
        try:
            values[name] = check(value)
        except TypeError as error:
            raise InputError(f"{where}: {kind} field '{name}': expected {error}") from None
    if not spec.required.issubset(values):
        missing = [n for n in checks if n in spec.required and n not in values]
        raise InputError(f"{where}: {kind} field '{missing[0]}' is required")
    for name, allowed in spec.enums.items():
        if name in values and values[name] not in allowed:
            raise InputError(
                f"{where}: {kind} field '{name}': expected one of {', '.join(allowed)}, "
                f"got {values[name]!r}"
            )
    for name, value in values.items():
        found = meaning_problem(spec.record_type, name, value, values.get("source"))
        if found:
            raise InputError(f"{where}: {kind} field '{name}': expected {found}")
    if backwards := order_problem(spec.record_type, values):
        raise InputError(f"{where}: {kind} field '{backwards[0]}': expected {backwards[1]}")
    if ":" in values.get("source", ""):
        raise InputError(
            f"{where}: {kind} field 'source': must not contain ':' ({values['source']!r})"
        )
    return spec.record_type(**values)


def decode(line: bytes, where: str) -> str:
    """One line of a file as text; InputError naming the line and column when it is not
    UTF-8 (a file saved in another encoding would otherwise be stored garbled, or not at all)."""
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(
            f"{where}: not valid UTF-8 (byte 0x{line[error.start]:02x} at column "
            f"{error.start + 1}); save the file as UTF-8"
        ) from None


class Unique:
    """Refuses a record whose id an earlier line of the same file already gave: the second
    would silently replace the first, so one of the two lines is a mistake."""

    def __init__(self) -> None:
        self._lines: dict[str, dict[str, int]] = {}  # by table, the line of each id

    def check(self, record: Any, number: int, where: str) -> Any:
        self.see(record.table, record.id, number, where)
        return record

    def first(self, table: str, record_id: str, number: int) -> int:
        """The line that first gave record (`table`, `record_id`): `number` if none before."""
        return self._lines.setdefault(table, {}).setdefault(record_id, number)

    def note(self, keys: Iterable[tuple[str, str]], numbers: Iterable[int]) -> int | None:
        """Note that lines `numbers` give records `keys` (table, id), in line order; the
        position of the first one an earlier line gave, or None."""
        for i, ((table, record_id), number) in enumerate(zip(keys, numbers, strict=True)):
            if self.first(table, record_id, number) != number:
                return i
        return None

    def note_new(self, ids: dict[str, tuple[list[str], list[int]]]) -> bool:
        """Note, by table, the ids lines give and their line numbers, when none repeats an
        earlier one or another of them (True); else note nothing (False), for `note` to
        find the first repeat in line order. Sets and dicts built in C: no loop per id."""
        given = {table: dict(zip(i, n, strict=True)) for table, (i, n) in ids.items()}
        for table, lines in given.items():
            if len(lines) != len(ids[table][0]):
                return False
            if not self._lines.get(table, {}).keys().isdisjoint(lines):
                return False
        for table, lines in given.items():
            self._lines.setdefault(table, {}).update(lines)
        return True

    def see(self, table: str, record_id: str, number: int, where: str) -> None:
        """Note that line `number` gives record (`table`, `record_id`); InputError when an
        earlier line gave it."""
        first = self.first(table, record_id, number)
        if first != number:
            raise InputError(
                f"{where}: {table} id {record_id!r} already appears on line {first}; "
                "a file gives each record once (merge the two lines, or give one its own "
                "source_id)"
            )


def parse_lines(
    lines: Iterable[bytes],
    where: Callable[[int], str],
    seen: Unique | None = None,
    first: int = 1,
) -> Iterator[Any]:
    """Canonical records from JSONL lines, each checked for encoding, JSON, fields and a
    repeated id; `where(n)` names line n in errors. The lines are numbered from `first`;
    `seen` holds the ids earlier lines of the same file gave."""
    seen = seen or Unique()
    for number, raw in enumerate(lines, first):
        if not raw.strip():
            continue
        at = where(number)
        yield seen.check(parse_line(raw, at), number, at)


def parse_line(raw: bytes, at: str) -> Any:
    """One JSONL line's canonical record; InputError naming `at` when it is not one."""
    try:
        obj = orjson.loads(decode(raw, at))
    except orjson.JSONDecodeError as error:
        raise InputError(f"{at}: not valid JSON ({error})") from None
    return parse_record(obj, at)


def read_jsonl(path: Path) -> Iterator[Any]:
    with open_file(path) as handle:
        yield from parse_lines(handle, lambda n: f"{path}:{n}")


def read_csv(path: Path, kind: str) -> Iterator[Any]:
    if kind not in SPECS:
        raise InputError(f"--type must be one of {', '.join(SPECS)}, not {kind!r}")
    converters = SPECS[kind].checks
    seen = Unique()
    with open_file(path) as handle:
        text = (decode(line, f"{path}:{n}") for n, line in enumerate(handle, 1))
        reader = csv.DictReader(text)
        for row in reader:
            number = reader.line_num
            obj: dict[str, Any] = {"type": kind}
            for name, cell in row.items():
                if name is None:
                    raise InputError(f"{path}:{number}: more cells than header columns")
                if cell in ("", None):
                    continue
                check = converters.get(name)
                obj[name] = _from_text(cell, check)
            where = f"{path}:{number}"
            yield seen.check(parse_record(obj, where), number, where)


def _from_text(text: str, check: Callable[[Any], Any] | None) -> Any:
    if check is _integer:
        try:
            return int(text)
        except ValueError:
            return text
    if check is _boolean:
        return {"true": True, "false": False}.get(text.lower(), text)
    if check is _strings:
        return [t for t in text.split(";") if t]
    return text


def open_file(path: Path) -> Any:
    # Bytes, decoded line by line, so an encoding error names its line.
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory; give a file") from None
