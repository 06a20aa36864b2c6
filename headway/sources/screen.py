"""Canonical JSONL records checked a column at a time (Arrow), and turned into table rows.

`screen` marks every row that might break a rule of `files.parse_record`: wrong or missing
type, a field its type lacks, a required field missing, an empty or NUL-bearing text, an id
reference without ':', an enum value not allowed, a time not in the plain ISO 8601 form with
a zone or outside 1970–2100, an end before its start, a negative size, a commit id or git ref
that may be malformed. The marks may be cautious (a time like `2026-10-01T12:00+02:00` that
Python reads is marked), never lax: each marked row is then read by `parse_record` itself,
which refuses it with its own message or accepts it. So a file gets the same verdict, and the
same message for its first bad line, on either path.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import MISSING, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from headway.model import columns
from headway.sources.files import ENUMS, REF_FIELDS, SPECS
from headway.values import EARLIEST, LATEST, ORDERED, REF_SOURCES, SHA_FIELDS, SIZE_FIELDS

_ARROW: dict[str, pa.DataType] = {
    "str": pa.string(),
    "int": pa.int64(),
    "bool": pa.bool_(),
    "datetime": pa.string(),  # read as text: only the strict form below is converted here
    "tuple[str, ...]": pa.list_(pa.string()),
}
# The one form of time converted in bulk; fromisoformat reads others, row by row.
_TIME = (
    r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,6})?"
    r"(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$"
)
_SHA = r"^[0-9a-fA-F]{7,40}$"
# Anything `values.ref_problem` might refuse (cautious: '.' starting any part, '.lock' …).
_REF_DOUBT = r"^[-/.@]|[/.]$|/\.|\.lock(/|$)|[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//"
_INT64_MIN = -(2**63)
_UTC = pa.timestamp("us", tz="UTC")
_STORED_TIME = pa.timestamp("us")  # the store keeps naive UTC


@dataclass(frozen=True)
class _Kind:
    """One record type as the columns see it."""

    name: str
    table: str
    types: dict[str, str]  # field → its base type ("str", "int", …)
    defaults: dict[str, Any]
    required: frozenset[str]
    columns: tuple[str, ...]  # the table's, `id` first (but services)


def _kind(name: str) -> _Kind:
    spec = SPECS[name]
    types, defaults = {}, {}
    for f in dataclasses.fields(spec.record_type):
        types[f.name] = str(f.type).replace(" | None", "")
        if f.default is not MISSING and f.default is not None:
            defaults[f.name] = f.default
    return _Kind(
        name,
        spec.record_type.table,
        types,
        defaults,
        spec.required,
        columns(spec.record_type),
    )


KINDS = {name: _kind(name) for name in SPECS}
FIELD_TYPES = {f: t for kind in KINDS.values() for f, t in kind.types.items()}
# What pyarrow reads each line as; a value of another JSON type fails the whole block.
SCHEMA = pa.schema([("type", pa.string())] + [(f, _ARROW[t]) for f, t in FIELD_TYPES.items()])
assert all(  # one name, one type, whatever record has it: one column serves all
    kind.types[f] == FIELD_TYPES[f] for kind in KINDS.values() for f in kind.types
)
_NAMES = pa.array(list(KINDS))
# By field, which record types have it (by position in KINDS; the last, no type, has none).
_OWNED = {f: np.array([f in kind.types for kind in KINDS.values()] + [False]) for f in FIELD_TYPES}
_NOBODY = np.zeros(len(KINDS) + 1, dtype=bool)


def kind_index(block: pa.Table) -> np.ndarray:
    """Each row's record type as its position in `KINDS`; len(KINDS) for none of them."""
    found = pc.index_in(block["type"], _NAMES).fill_null(len(KINDS))
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def screen(block: pa.Table) -> tuple[np.ndarray, dict[str, pa.Array]]:
    """Which rows of `block` (pyarrow's reading of JSONL lines, `SCHEMA` and any unknown
    fields) need `parse_record` to decide; and the time columns, converted to stored times
    where unmarked."""
    n = block.num_rows
    kind = kind_index(block)
    doubt = kind == len(KINDS)
    times: dict[str, pa.Array] = {}
    for name in block.column_names:
        if name == "type":
            continue
        column = block[name].combine_chunks() if block[name].num_chunks else pa.nulls(n)
        present = _np(pc.is_valid(column))
        if not present.any():
            continue
        doubt |= present & ~_OWNED.get(name, _NOBODY)[kind]
        if name not in FIELD_TYPES:
            continue
        marked, converted = _field(name, column, present)
        doubt |= marked
        if converted is not None:
            times[name] = converted
    for k, spec in enumerate(KINDS.values()):
        mine = kind == k
        if not mine.any():
            continue
        for name in spec.required:
            if name not in block.column_names:
                doubt |= mine
            else:
                doubt |= mine & _np(pc.is_null(block[name]))
        for start, end in ORDERED.get(spec.table, ()):
            if start in times and end in times:
                doubt |= mine & _np(pc.less(times[end], times[start]).fill_null(False))
        if spec.name == "deployment" and "version" in block.column_names:
            doubt |= mine & _ref_doubt(block)
        for (kind_name, field), allowed in ENUMS.items():
            if kind_name == spec.name and field in block.column_names:
                values = block[field]
                outside = pc.invert(pc.is_in(values, pa.array([str(a) for a in allowed])))
                doubt |= mine & _np(pc.is_valid(values)) & _np(outside)
    if "source" in block.column_names:
        doubt |= _np(pc.match_substring(block["source"], ":").fill_null(False))
    return doubt, times


def _field(name: str, column: pa.Array, present: np.ndarray) -> tuple[np.ndarray, Any]:
    """The rows whose value of field `name` may be refused, and (a time) the stored times."""
    base = FIELD_TYPES[name]
    if base == "str":
        marked = _np(pc.equal(pc.utf8_length(column), 0).fill_null(False)) | _nul(column)
        if name in REF_FIELDS:
            marked |= present & ~_np(pc.match_substring(column, ":").fill_null(True))
        if name in SHA_FIELDS:
            marked |= present & ~_np(pc.match_substring_regex(column, _SHA).fill_null(True))
        return marked, None
    if base == "int":
        marked = _np(pc.equal(column, _INT64_MIN).fill_null(False))
        if name in SIZE_FIELDS:
            marked |= _np(pc.less(column, 0).fill_null(False))
        return marked, None
    if base == "tuple[str, ...]":
        items = pc.list_flatten(column)
        wrong = pc.or_(pc.is_null(items), pc.match_substring(items, "\x00").fill_null(False))
        parents = pc.list_parent_indices(column).to_numpy()[_np(wrong)]
        marked = np.zeros(len(column), dtype=bool)
        marked[parents] = True
        return marked, None
    if base == "datetime":
        return _time(column, present)
    return np.zeros(len(column), dtype=bool), None  # a boolean: any is one


def _time(column: pa.Array, present: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    plain = _np(pc.match_substring_regex(column, _TIME).fill_null(False))
    marked = present & ~plain
    text = pc.if_else(pa.array(plain), column, pa.nulls(len(column), pa.string()))
    try:
        at = pc.cast(text, _UTC)
    except pa.ArrowInvalid:  # a plain-looking date that is none (2026-02-30): each row decides
        return present, pa.nulls(len(column), _STORED_TIME)
    outside = pc.or_(
        pc.less(at, pa.scalar(EARLIEST, _UTC)), pc.greater_equal(at, pa.scalar(LATEST, _UTC))
    )
    marked |= _np(outside.fill_null(False))
    return marked, at.cast(_STORED_TIME)


def _ref_doubt(block: pa.Table) -> np.ndarray:
    """Deployments whose version must be a git ref (source git, github or gitlab) and may not
    be one."""
    if "source" not in block.column_names:
        return np.zeros(block.num_rows, dtype=bool)
    git = _np(pc.is_in(block["source"], pa.array(sorted(REF_SOURCES))).fill_null(False))
    odd = _np(pc.match_substring_regex(block["version"], _REF_DOUBT).fill_null(False))
    found: np.ndarray = git & odd
    return found


def _json_lists(values: pa.Array) -> pa.Array:
    """Lists of text as the JSON `json.dumps` writes (`model.as_row`), "[]" for none: joined
    by Arrow where no item needs escaping (plain ASCII, no quote, backslash or control
    character), by `json.dumps` for the rows where one does."""
    items = pc.list_flatten(values)
    odd = pc.or_(
        pc.invert(pc.string_is_ascii(items)), pc.match_substring_regex(items, r'[\x00-\x1f\x7f"\\]')
    )
    joined = pc.binary_join_element_wise('["', pc.binary_join(values, '", "'), '"]', "")
    empty = pc.equal(pc.list_value_length(values), 0).fill_null(True)
    text = pc.if_else(empty, pa.scalar("[]"), joined)
    escaped = np.zeros(len(values), dtype=bool)
    escaped[pc.list_parent_indices(values).to_numpy()[_np(odd)]] = True
    if not escaped.any():
        return text
    slow = np.flatnonzero(escaped)
    dumped = [json.dumps(values[int(i)].as_py()) for i in slow]
    out = text.to_pylist()  # rare: some text beyond plain ASCII
    for i, dump in zip(slow, dumped, strict=True):
        out[int(i)] = dump
    return pa.array(out, pa.string())


def _nul(column: Any) -> np.ndarray:
    return _np(pc.match_substring(column, "\x00").fill_null(False))


def _np(values: Any) -> np.ndarray:
    """A boolean Arrow result as a numpy array (its chunks joined)."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks() if values.num_chunks else pa.array([], pa.bool_())
    found: np.ndarray = np.asarray(values.to_numpy(zero_copy_only=False), dtype=bool)
    return found


def record_ids(block: pa.Table) -> pa.Array:
    """Each row's record id: a service's name, any other record's `<source>:<source_id>`."""
    n = block.num_rows
    names = block["name"] if "name" in block.column_names else pa.nulls(n, pa.string())
    if "source" in block.column_names and "source_id" in block.column_names:
        joined = pc.binary_join_element_wise(block["source"], block["source_id"], ":")
    else:
        joined = pa.nulls(n, pa.string())
    return pc.if_else(pc.equal(block["type"], "service").fill_null(False), names, joined)


def rows(block: pa.Table, times: dict[str, pa.Array], keep: np.ndarray) -> dict[str, pa.Table]:
    """The kept rows of `block`, by table, as the store's rows: `id` first, defaults filled,
    times as naive UTC, lists as JSON text (as `model.as_row` writes them)."""
    found: dict[str, pa.Table] = {}
    ids = record_ids(block)
    for spec in KINDS.values():
        mine = keep & _np(pc.equal(block["type"], spec.name).fill_null(False))
        if not mine.any():
            continue
        chosen = pa.array(mine)
        out: dict[str, pa.Array] = {}
        for name in spec.columns:
            if name == "id":
                out[name] = ids.filter(chosen)
            else:
                out[name] = _stored(spec, name, block, times, chosen)
        found[spec.table] = pa.table(out)
    return found


def _stored(
    spec: _Kind, name: str, block: pa.Table, times: dict[str, pa.Array], chosen: pa.Array
) -> pa.Array:
    base = spec.types[name]
    n = int(pc.sum(chosen).as_py() or 0)
    if base == "datetime":
        return times[name].filter(chosen) if name in times else pa.nulls(n, _STORED_TIME)
    if name not in block.column_names:
        values = pa.nulls(n, _ARROW[base])
    else:
        column = block[name]
        values = (column.combine_chunks() if column.num_chunks else column).filter(chosen)
    if base == "tuple[str, ...]":
        return _json_lists(values)
    if name in spec.defaults:
        values = values.fill_null(pa.scalar(spec.defaults[name], values.type))
    return values


__all__ = ["FIELD_TYPES", "KINDS", "SCHEMA", "record_ids", "rows", "screen"]
