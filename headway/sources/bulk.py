"""Canonical JSONL read in blocks through Arrow: the bulk form of `files.read_jsonl`.

A file is cut into blocks of whole lines (`BLOCK` bytes or so); pyarrow parses each block
into columns, `screen` checks them a column at a time, and the rows it does not doubt become
the store's rows in Arrow tables, with no Python object per record. Each doubted row is read
by `files.parse_record` itself: it is refused with the message the line-by-line reader gives,
or accepted as a record. A block pyarrow cannot read (a value of the wrong JSON type, a line
not UTF-8, two objects on a line …) is read line by line, so the first bad line is named
exactly as before. Ids are checked for repeats across the whole file, in line order.
"""

from __future__ import annotations

import io
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from headway.sources.files import InputError, Unique, open_file, parse_line, parse_lines
from headway.sources.screen import (
    FIELD_TYPES,
    KINDS,
    SCHEMA,
    kind_index,
    record_ids,
    rows,
    screen,
)

BLOCK = 16 << 20
FIELDS = frozenset(SCHEMA.names)
_TIMES = pa.schema([f for f in SCHEMA if f.name == "type" or FIELD_TYPES.get(f.name) == "datetime"])
_OPTIONS = pj.ParseOptions(explicit_schema=_TIMES, unexpected_field_behavior="infer")
_TABLES = {spec.name: spec.table for spec in KINDS.values()}


@dataclass
class Block:
    """What one block of lines holds: rows by table (Arrow, as stored), records read line by
    line, and the services they name."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    records: list[Any] = field(default_factory=list)
    services: set[str] = field(default_factory=set)
    order: list[str] = field(default_factory=list)  # the tables, as the lines first name them
    lines: int = 0  # how many lines the block holds, blank ones included


def read_blocks(path: Path, block: int = BLOCK) -> Generator[Block, None, None]:
    """The file's records, block by block; InputError naming the first bad line."""
    seen = Unique()
    first = 1
    with open_file(path) as handle:
        while chunk := handle.read(block):
            if not chunk.endswith(b"\n"):
                chunk += handle.readline()
            found = _block(path, chunk, first, seen)
            yield found
            first += found.lines


def _block(path: Path, chunk: bytes, first: int, seen: Unique) -> Block:
    lines = chunk.count(b"\n") + (0 if chunk.endswith(b"\n") else 1)
    parsed = _parse(chunk)
    numbers = None if parsed is None else _numbers(chunk, parsed.num_rows, first, lines)
    if parsed is None or numbers is None:
        return _by_line(path, chunk, first, seen, lines)
    doubt, times = screen(parsed)
    found = Block(lines=lines)
    bad: InputError | None = None
    stop = parsed.num_rows
    split = chunk.split(b"\n") if doubt.any() else []
    for i in np.flatnonzero(doubt):  # rows the columns could not vouch for, in line order
        number = int(numbers[i])
        try:
            found.records.append(parse_line(split[number - first], f"{path}:{number}"))
        except InputError as error:
            bad, stop = error, int(i)
            break
    _unique(path, parsed, kind_index(parsed), numbers, stop, seen)
    if bad is not None:
        raise bad
    found.tables = rows(parsed, times, ~doubt)
    found.order = [_TABLES[k] for k in pc.unique(parsed["type"]).to_pylist()]
    for table in found.tables.values():
        if "service" in table.column_names:
            found.services.update(s for s in pc.unique(table["service"]).to_pylist() if s)
        elif "name" in table.column_names:
            found.services.update(table["name"].to_pylist())
    for record in found.records:
        if name := getattr(record, "service", None) or getattr(record, "name", None):
            found.services.add(name)
    return found


def _parse(chunk: bytes) -> pa.Table | None:
    """pyarrow's reading of a block, every known field of its type, or None when it cannot
    read it or the block is not UTF-8 (pyarrow does not check), so the block is read line by
    line. Only the times' type is given at first: a schema of every field costs pyarrow a
    column of nulls per field the file lacks, more than the reading itself. A field of
    another type (a date-like title read as a time) gets the block read again with the type
    given for each field it holds."""
    try:
        chunk.decode("utf-8")
        first = pj.read_json(io.BytesIO(chunk), parse_options=_OPTIONS)
        block = _fit(first)
        if block is None:
            given = pa.schema([SCHEMA.field(n) for n in first.column_names if n in FIELDS])
            options = pj.ParseOptions(explicit_schema=given, unexpected_field_behavior="infer")
            block = _fit(pj.read_json(io.BytesIO(chunk), parse_options=options))
    except (UnicodeDecodeError, pa.ArrowInvalid):
        return None
    return block


def _fit(block: pa.Table) -> pa.Table | None:
    """`block` with each known field of its declared type, or None when one holds another."""
    for i, name in enumerate(block.column_names):
        if name not in FIELDS:
            continue
        want, got = SCHEMA.field(name).type, block.schema.field(name).type
        if got == want:
            continue
        if pa.types.is_null(got) or (
            pa.types.is_list(got) and pa.types.is_null(got.value_type) and pa.types.is_list(want)
        ):
            block = block.set_column(i, name, block[name].cast(want))  # nulls, or empty lists
            continue
        return None
    return block


def _numbers(chunk: bytes, rows: int, first: int, lines: int) -> np.ndarray | None:
    """The line number of each parsed row, or None when rows and lines do not pair up (two
    objects on one line, a byte-order mark …)."""
    if rows == lines:
        text = np.frombuffer(chunk, dtype=np.uint8)
        starts = np.flatnonzero(text[:-1] == ord("\n")) + 1
        if text[0] == ord("{") and (text[starts] == ord("{")).all():
            return np.arange(first, first + lines)  # every line one object: the usual file
    split = chunk.split(b"\n")[:lines]
    filled = [i for i, line in enumerate(split) if line.strip()]
    if len(filled) != rows or any(not split[i].lstrip().startswith(b"{") for i in filled):
        return None
    return np.asarray(filled, dtype=np.int64) + first


def _unique(
    path: Path, parsed: pa.Table, kinds: np.ndarray, numbers: np.ndarray, stop: int, seen: Unique
) -> None:
    """Note the ids of the first `stop` rows, refusing the first one an earlier line gave."""
    ids = record_ids(parsed).slice(0, stop)
    kinds, numbers = kinds[:stop], numbers[:stop]
    by_table = {}
    for k, spec in enumerate(KINDS.values()):
        mine = kinds == k
        if mine.any():
            chosen = ids.filter(pa.array(mine)).to_pylist()
            by_table[spec.table] = (chosen, numbers[mine].tolist())
    if seen.note_new(by_table):
        return
    tables = [_TABLES[name] for name in KINDS]
    keys = [(tables[k], i) for k, i in zip(kinds.tolist(), ids.to_pylist(), strict=True)]
    again = seen.note(keys, numbers.tolist())
    if again is not None:
        number = int(numbers[again])
        seen.see(*keys[again], number, f"{path}:{number}")  # refuses it, naming both lines


def _by_line(path: Path, chunk: bytes, first: int, seen: Unique, lines: int) -> Block:
    found = Block(lines=lines)
    text = chunk.split(b"\n")[:lines]
    found.records = list(parse_lines(text, lambda n: f"{path}:{n}", seen, first))
    found.order = list(dict.fromkeys(r.table for r in found.records))
    for record in found.records:
        if name := getattr(record, "service", None) or getattr(record, "name", None):
            found.services.add(name)
    return found


__all__ = ["BLOCK", "Block", "read_blocks"]
